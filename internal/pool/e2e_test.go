package pool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// TestEndToEnd mines real regtest blocks through the whole path: a node
// (real btcd, and hashfleet's embedded node) with a mempool holding witness
// and legacy transactions, chain.Client, job.Manager, the pool, and the
// real miner (internal/miner) over Stratum on loopback.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	for _, kind := range []string{nodetest.KindBtcd, nodetest.KindEmbedded} {
		t.Run(kind, func(t *testing.T) {
			var n *nodetest.RPCNode
			if kind == nodetest.KindBtcd {
				n = nodetest.StartBtcd(t)
			} else {
				n = nodetest.StartEmbedded(t)
			}
			testEndToEnd(t, n)
		})
	}
}

func testEndToEnd(t *testing.T, n *nodetest.RPCNode) {
	w := nodetest.NewWallet(t, n)
	w.Fund(t)

	client, err := chain.New(chain.Config{URL: n.URL, User: n.User, Password: n.Password, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	payout, err := btc.PayoutScript(nodetest.DefaultAddress(), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := pool.Config{InitialDiff: 0.0005, MinDiff: 1e-6, Network: &chaincfg.RegressionNetParams}
	// Transactions in the mempool (witness and legacy) go into the job.
	txs := w.SendTxs(t, 4)
	wantTxids := make([]string, len(txs))
	for i, tx := range txs {
		wantTxids[i] = tx.TxHash().String()
	}
	startHeight := n.BlockCount(t)
	h := startHarness(t, harnessOpts{src: client, sub: client, cfg: cfg, payout: payout, dataDir: dir})
	if st := h.pool.Stats(); st.Job == nil || st.Job.Txs != len(txs) {
		t.Fatalf("first job: got %+v, want %d transactions from the mempool", st.Job, len(txs))
	}

	worker := nodetest.DefaultAddress() + ".rig1"
	m, err := miner.New(miner.Config{
		Pools:   []miner.Pool{{URL: "stratum+tcp://" + h.addr, User: worker, Password: "x"}},
		Threads: 1,
		Logger:  testLogger(t).With("component", "miner"),
		Quiet:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	minerDone := make(chan error, 1)
	go func() { minerDone <- m.Run(ctx) }()
	defer cancel()

	// Three blocks: the first carries the mempool transactions, the next
	// ones prove the miner got each new tip (clean_jobs) and kept going.
	waitFor(t, 3*time.Minute, "3 accepted blocks", func() bool {
		return acceptedBlocks(h.pool.Stats()) >= 3
	})
	st := h.pool.Stats()
	first := st.Blocks[0]
	if !first.Accepted || first.Worker != worker || first.Height != startHeight+1 {
		t.Errorf("first block: got %+v, want accepted at height %d by %s", first, startHeight+1, worker)
	}
	var blk struct {
		Tx     []string `json:"tx"`
		Height int64    `json:"height"`
	}
	n.MustDecode(t, &blk, "getblock", first.Hash, 1)
	for _, id := range wantTxids {
		if !slices.Contains(blk.Tx, id) {
			t.Errorf("block %s lacks mempool tx %s (has %v)", first.Hash, id, blk.Tx)
		}
	}
	if got := n.BlockCount(t); got < startHeight+3 {
		t.Errorf("node height: got %d, want at least %d", got, startHeight+3)
	}
	// Every found block is in the node's main chain, and none twice.
	seen := map[string]bool{}
	for _, b := range st.Blocks {
		if seen[b.Hash] {
			t.Errorf("block %s recorded twice", b.Hash)
		}
		seen[b.Hash] = true
		if !b.Accepted {
			continue
		}
		var hdr struct {
			Confirmations int64 `json:"confirmations"`
		}
		n.MustDecode(t, &hdr, "getblockheader", b.Hash, true)
		if hdr.Confirmations < 1 {
			t.Errorf("block %s: %d confirmations, want it in the main chain", b.Hash, hdr.Confirmations)
		}
	}
	ws := workerStats(st, worker)
	if ws == nil || ws.Accepted < 3 || ws.Blocks < 3 || ws.HashrateHs <= 0 {
		t.Errorf("worker stats: got %+v, want ≥3 accepted shares and blocks and a hash rate", ws)
	}
	waitFor(t, 10*time.Second, "the miner to count 3 accepted shares", func() bool { return m.Stats().Accepted >= 3 })

	if n.Restart != nil {
		// The node restarts under the pool: sessions stay, mining resumes.
		before := acceptedBlocks(h.pool.Stats())
		n.Restart(t)
		waitFor(t, 3*time.Minute, "a block after the node restart", func() bool {
			return acceptedBlocks(h.pool.Stats()) > before
		})
		if got := h.pool.Stats().Disconnects["client_closed"]; got != 0 {
			t.Errorf("miner disconnects during the node restart: got %d, want 0", got)
		}
	}
	cancel()
	if err := <-minerDone; err != nil {
		t.Errorf("miner Run: %v", err)
	}
	// A share sent just before the miner stopped may still become a block:
	// wait until the tip is stable and the pool mines on it, so that the
	// external block below extends the main chain instead of forking it.
	waitFor(t, 30*time.Second, "the tip to settle after the miner stopped", func() bool {
		best := n.BestBlockHash(t)
		time.Sleep(300 * time.Millisecond)
		st := h.pool.Stats()
		return best == n.BestBlockHash(t) && st.Job != nil && st.Job.PrevHash == best
	})

	// A block found elsewhere reaches every connected session as clean_jobs.
	clients := []*stratumClient{dial(t, h.addr), dial(t, h.addr), dial(t, h.addr)}
	for i, c := range clients {
		c.handshake(fmt.Sprintf("watcher%d", i))
	}
	ext := w.MineBlock(t)
	for i, c := range clients {
		for {
			j := c.nextJob(30 * time.Second)
			if j.clean && j.work.PrevHash == [32]byte(ext.BlockHash()) {
				break
			}
		}
		t.Logf("client %d got the external tip as clean_jobs", i)
	}

	raw, _ := json.Marshal(h.pool.Stats())
	if n.Password != "" && contains(raw, n.Password) {
		t.Errorf("pool stats contain the RPC password")
	}

}

func acceptedBlocks(st pool.Stats) int {
	n := 0
	for _, b := range st.Blocks {
		if b.Accepted {
			n++
		}
	}
	return n
}

func workerStats(st pool.Stats, name string) *pool.WorkerStats {
	for i := range st.Workers {
		if st.Workers[i].Name == name {
			return &st.Workers[i]
		}
	}
	return nil
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
