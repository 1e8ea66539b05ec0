package pool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// TestBlockReplayCountedOnce replays a block-solving share, stale by then,
// hundreds of times: the block is counted, credited, logged and written
// once.
func TestBlockReplayCountedOnce(t *testing.T) {
	node := newFakeNode()
	reg := prometheus.NewRegistry()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	cfg.Registerer = reg
	dir := t.TempDir()
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})
	c := dial(t, h.addr)
	c.handshake("w")
	_, netT := targets(t, 1)
	j := c.lastJob
	sol := c.find(j, 0, func(h [32]byte) bool { return btc.MeetsTarget(&h, &netT) })
	if got := errCode(c.call(stratum.MethodSubmit, sol.params("w", j.id))); got != 0 {
		t.Fatalf("block share: got code %d, want accepted", got)
	}
	for nj := c.nextJob(10 * time.Second); !nj.clean; nj = c.nextJob(10 * time.Second) {
	}
	for i := range 300 {
		if got := errCode(c.call(stratum.MethodSubmit, sol.params("w", j.id))); got == 0 {
			t.Fatalf("replay %d: accepted, want a reject", i)
		}
	}
	waitSettled(t, h, btc.HashString(sol.hash))
	st := h.pool.Stats()
	if len(st.Blocks) != 1 {
		t.Fatalf("blocks: got %d records, want 1", len(st.Blocks))
	}
	if w := workerStats(st, "w"); w == nil || w.Blocks != 1 {
		t.Errorf("worker w: got %+v, want 1 block", w)
	}
	if got := counterValue(t, reg, "hashfleet_job_blocks_total", "accepted"); got != 1 {
		t.Errorf("hashfleet_job_blocks_total{outcome=accepted}: got %v, want 1", got)
	}
	if got := counterValue(t, reg, "hashfleet_job_blocks_found_total", ""); got != 1 {
		t.Errorf("hashfleet_job_blocks_found_total: got %v, want 1", got)
	}
	if n := len(node.blocks()); n != 1 {
		t.Errorf("node received %d blocks, want 1", n)
	}
	h.stop(t)
	h2 := startHarness(t, harnessOpts{src: node, sub: node, cfg: protocolConfig(), dataDir: dir})
	if got := len(h2.pool.Stats().Blocks); got != 1 {
		t.Errorf("records after restart: got %d, want 1", got)
	}
}

// counterValue returns the gathered value of the counter name with a
// label valued label, or of the unlabelled counter name when label is ""
// (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestBlockCreditSurvivesCrash: the worker's block credit is on disk with
// the block record (the job source's), not only after the next totals
// flush: pool.db copied while the server runs (what a kill -9 leaves)
// credits the block.
func TestBlockCreditSurvivesCrash(t *testing.T) {
	node := newFakeNode()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	cfg.FlushInterval = time.Hour
	dir := t.TempDir()
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})
	c := dial(t, h.addr)
	c.handshake("finder")
	hash := mineBlock(t, c, "finder")
	// The share is answered before the node's verdict; the credit is the
	// block's settled record, which shows in the stats only once it is
	// on disk.
	waitSettled(t, h, hash)
	raw, err := os.ReadFile(filepath.Join(dir, "pool.db"))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, "pool.db"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := startHarness(t, harnessOpts{src: node, sub: node, cfg: protocolConfig(), dataDir: crashed})
	st := h2.pool.Stats()
	if len(st.Blocks) != 1 || st.Blocks[0].Hash != hash {
		t.Fatalf("blocks after crash: got %+v, want %s", st.Blocks, hash)
	}
	if w := workerStats(st, "finder"); w == nil || w.Blocks != 1 {
		t.Errorf("finder after crash: got %+v, want 1 block credited", w)
	}
}

// TestBlockFollowedUntilBuriedOrOrphaned runs the pool on the embedded
// node: a block the pool found is reorganised out by a longer competing
// chain and marked orphaned (its credit withdrawn); the next one is
// followed until it is buried BlockMaturity deep and marked confirmed.
func TestBlockFollowedUntilBuriedOrOrphaned(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	n.Generate(t, 1, "")
	client, err := chain.New(chain.Config{URL: n.URL, User: n.User, Password: n.Password, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	payout, err := btc.PayoutScript(nodetest.DefaultAddress(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	dir := t.TempDir()
	follow := harnessOpts{src: client, sub: client, cfg: cfg, payout: payout, dataDir: dir, blockMaturity: 3, blockCheck: 20 * time.Millisecond}
	h := startHarness(t, follow)
	c := dial(t, h.addr)
	c.handshake("w")
	first := mineBlock(t, c, "w")
	rec := waitBlock(t, h, first, func(b job.BlockRecord) bool { return b.State == job.BlockAccepted })
	reorgOut(t, n, rec.Height)
	rec = waitBlock(t, h, first, func(b job.BlockRecord) bool { return b.State == job.BlockOrphaned })
	if rec.Reason == "" || rec.Accepted != true {
		t.Errorf("orphaned record: got %+v, want a reason and the node's original acceptance kept", rec)
	}
	if w := workerStats(h.pool.Stats(), "w"); w == nil || w.Blocks != 0 {
		t.Errorf("worker after orphan: got %+v, want 0 blocks credited", w)
	}

	for j := c.nextJob(10 * time.Second); !j.clean || j.work.PrevHash != tipHash(t, n); j = c.nextJob(10 * time.Second) {
	}
	second := mineBlock(t, c, "w")
	waitBlock(t, h, second, func(b job.BlockRecord) bool { return b.State == job.BlockAccepted })
	n.Generate(t, 2, "")
	rec = waitBlock(t, h, second, func(b job.BlockRecord) bool { return b.State == job.BlockConfirmed })
	if rec.Confirmations < 3 {
		t.Errorf("confirmed record: got %d confirmations, want at least 3", rec.Confirmations)
	}
	if w := workerStats(h.pool.Stats(), "w"); w == nil || w.Blocks != 1 {
		t.Errorf("worker after confirmation: got %+v, want 1 block credited", w)
	}
	// The states are persisted and shown in /api/stats.
	h.stop(t)
	h2 := startHarness(t, follow)
	var api struct {
		Blocks []struct{ Hash, State, Reason string }
	}
	raw, err := json.Marshal(h2.pool.Stats())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &api); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range api.Blocks {
		got[b.Hash] = b.State
	}
	if got[first] != "orphaned" || got[second] != "confirmed" {
		t.Errorf("states after restart: got %v, want %s orphaned and %s confirmed", got, first, second)
	}
}

// tipHash is the node's tip in internal byte order.
func tipHash(t *testing.T, n *nodetest.RPCNode) [32]byte {
	t.Helper()
	h, err := chainhash.NewHashFromStr(n.BestBlockHash(t))
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

// waitBlock waits until the pool's record of hash satisfies ok.
func waitBlock(t *testing.T, h *harness, hash string, ok func(job.BlockRecord) bool) job.BlockRecord {
	t.Helper()
	var rec job.BlockRecord
	waitFor(t, 20*time.Second, "block "+hash+" state", func() bool {
		for _, b := range h.pool.Stats().Blocks {
			if b.Hash == hash {
				rec = b
				return ok(b)
			}
		}
		return false
	})
	return rec
}

// reorgOut makes the node replace its chain from height on with a longer
// one of blocks paying to OP_TRUE.
func reorgOut(t *testing.T, n *nodetest.RPCNode, height int64) {
	t.Helper()
	tip := n.BlockCount(t)
	var parent string
	n.MustDecode(t, &parent, "getblockhash", height-1)
	var hdr struct {
		Time int64
		Bits string
	}
	n.MustDecode(t, &hdr, "getblockheader", parent)
	var bits uint32
	if _, err := fmt.Sscanf(hdr.Bits, "%x", &bits); err != nil {
		t.Fatal(err)
	}
	prev, err := chainhash.NewHashFromStr(parent)
	if err != nil {
		t.Fatal(err)
	}
	for h := height; h <= tip+1; h++ {
		m := &wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: *prev,
			Timestamp: time.Unix(hdr.Time+1+h-height, 0), Bits: bits}}
		m.AddTransaction(nodetest.CoinbaseTx(h, 50e8, []byte{0x51}, 777, nodetest.WitnessCommitmentScript(nil)))
		nodetest.SetMerkleRoot(m)
		if err := nodetest.Solve(&m.Header); err != nil {
			t.Fatal(err)
		}
		res, err := n.SubmitBlock(context.Background(), m)
		if err != nil || (res != "" && res != "inconclusive") {
			t.Fatalf("competing block at %d: %q %v", h, res, err)
		}
		hash := m.BlockHash()
		prev = &hash
	}
	if got := n.BestBlockHash(t); got != prev.String() {
		t.Fatalf("tip after reorg: got %s, want %s", got, prev)
	}
}

// TestBlockOrphanedByNodeRollback: the node the pool found a block on is
// replaced by one that never had it (a node restored from an old copy, or
// one that lost blocks): the pool marks the block orphaned and says why.
func TestBlockOrphanedByNodeRollback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	runNode := func(ln net.Listener, dataDir string) (stop func()) {
		n, err := node.New(node.Config{DataDir: dataDir, Listener: ln, RPCUser: "u", RPCPassword: "p"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node Run: %v", err)
			}
		}
	}
	stop := runNode(ln, t.TempDir())
	client, err := chain.New(chain.Config{URL: "http://" + addr, User: "u", Password: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	payout, err := btc.PayoutScript(nodetest.DefaultAddress(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	h := startHarness(t, harnessOpts{src: client, sub: client, cfg: cfg, payout: payout, blockCheck: 20 * time.Millisecond})
	c := dial(t, h.addr)
	c.handshake("w")
	hash := mineBlock(t, c, "w")
	waitBlock(t, h, hash, func(b job.BlockRecord) bool { return b.State == job.BlockAccepted })

	stop()
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again for the replacement node: %v", addr, err)
	}
	defer runNode(ln2, t.TempDir())()
	rec := waitBlock(t, h, hash, func(b job.BlockRecord) bool { return b.State == job.BlockOrphaned })
	if !strings.Contains(rec.Reason, "no longer has") {
		t.Errorf("reason: got %q, want the node no longer has the block", rec.Reason)
	}
	if w := workerStats(h.pool.Stats(), "w"); w == nil || w.Blocks != 0 {
		t.Errorf("worker after the rollback: got %+v, want 0 blocks credited", w)
	}
}
