package job

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// mine scans nonces with the sha256d kernel until the header built from
// the share fields on j meets the network target, like a worker would.
func mine(t *testing.T, j *Job, sh *Share) {
	t.Helper()
	w := j.Work()
	version := sh.Version
	if version == 0 {
		version = j.Version
	}
	hdr := w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, 0, version)
	var first [64]byte
	var tail [16]byte
	copy(first[:], hdr[:64])
	copy(tail[:], hdr[64:])
	ms := sha256d.NewMidstate(&first)
	nonce, ok := sha256d.Scan(&ms, &tail, &j.NetworkTarget, 0, 1<<16)
	if !ok {
		t.Fatal("no solving nonce in 65536 tries on regtest")
	}
	sh.Nonce = nonce
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationBtcd runs the Manager against a real btcd --regtest:
// a template with witness and legacy transactions becomes a job, a share
// found by scanning nonces is submitted, and btcd accepts the block. A
// stale share that also solves is still submitted and lands on a side
// chain.
func TestIntegrationBtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a btcd build")
	}
	n := nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	sent := w.SendTxs(t, 5)

	reg := prometheus.NewRegistry()
	client, err := chain.New(chain.Config{URL: n.URL, User: n.User, Password: n.Password, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.GetBlockChainInfo(context.Background())
	if err != nil || info.Chain != "regtest" {
		t.Fatalf("getblockchaininfo: got %+v, %v", info, err)
	}
	m, err := New(Config{Source: client, Submitter: client, PayoutScript: w.PkScript, Tag: []byte("/hashfleet-test/"),
		Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "a job with the mempool's transactions", func() bool {
		j := m.Current()
		return j != nil && len(j.Txs) == len(sent)
	})
	j := m.Current()
	height := n.BlockCount(t)
	if j.Height != height+1 || !j.Witness {
		t.Fatalf("job: got height %d witness %v, want %d true", j.Height, j.Witness, height+1)
	}

	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()),
		NTime: j.Time, Target: btc.Diff1Target, Worker: "itest"}
	mine(t, j, &sh)
	res, err := m.Submit(ctx, sh)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if res.Block == nil || !res.Block.Accepted {
		t.Fatalf("block: got %+v, want accepted", res.Block)
	}
	if got, want := n.BestBlockHash(t), btc.HashString(res.Block.Hash); got != want {
		t.Fatalf("best block: got %s, want %s", got, want)
	}
	var blk struct {
		Tx []string `json:"tx"`
	}
	n.MustDecode(t, &blk, "getblock", btc.HashString(res.Block.Hash), 1)
	if len(blk.Tx) != len(sent)+1 {
		t.Errorf("block txs: got %d, want %d", len(blk.Tx), len(sent)+1)
	}
	if mp := n.Mempool(t); len(mp) != 0 {
		t.Errorf("mempool after block: got %d txs, want 0", len(mp))
	}

	// The accepted block triggers a refresh: a clean job on the new tip.
	waitFor(t, "a clean job on the new tip", func() bool {
		c := m.Current()
		return c.Height == j.Height+1 && c.PrevHash == res.Block.Hash
	})

	// A share on the old job is stale (21) but still solves a block: it
	// is submitted, and btcd files it on a side chain.
	stale := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()),
		NTime: j.Time, Target: btc.Diff1Target, Worker: "itest"}
	mine(t, j, &stale)
	res2, err := m.Submit(ctx, stale)
	if rej, ok := errors.AsType[*RejectError](err); !ok || rej.Code != CodeJobNotFound {
		t.Fatalf("stale share: got %v, want reject 21", err)
	}
	if res2.Block == nil || res2.Block.Accepted || res2.Block.NodeResult != "side-chain" {
		t.Fatalf("stale block: got %+v, want submitted, side-chain", res2.Block)
	}
	var tips []struct {
		Hash   string `json:"hash"`
		Status string `json:"status"`
	}
	n.MustDecode(t, &tips, "getchaintips")
	found := false
	for _, tip := range tips {
		found = found || tip.Hash == btc.HashString(res2.Block.Hash)
	}
	if !found {
		raw, _ := json.Marshal(tips)
		t.Errorf("stale block not among chain tips: %s", raw)
	}
	if st := m.Status(); st.BlocksFound != 2 || st.BlocksAccepted != 1 {
		t.Errorf("status: got found %d accepted %d, want 2 1", st.BlocksFound, st.BlocksAccepted)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hashfleet_job_blocks_total" {
			for _, mt := range mf.GetMetric() {
				if mt.GetLabel()[0].GetValue() == "accepted" && mt.GetCounter().GetValue() != 1 {
					t.Errorf("blocks_total{accepted}: got %v, want 1", mt.GetCounter().GetValue())
				}
			}
		}
	}
}
