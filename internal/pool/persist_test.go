package pool_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// mineBlock submits one block-solving share for client c and returns its
// hash (display hex).
func mineBlock(t *testing.T, c *stratumClient, worker string) string {
	t.Helper()
	_, netT := targets(t, 1)
	j := c.lastJob
	sol := c.find(j, 0, func(h [32]byte) bool { return btc.MeetsTarget(&h, &netT) })
	if got := errCode(c.call(stratum.MethodSubmit, sol.params(worker, j.id))); got != 0 {
		t.Fatalf("block share: got code %d, want accepted", got)
	}
	return btc.HashString(sol.hash)
}

// waitSettled waits until the pool has recorded the node's verdict on the
// block hash: shares are answered before it (the outcome comes on the job
// source's block stream).
func waitSettled(t *testing.T, h *harness, hash string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the outcome of block "+hash, func() bool {
		for _, b := range h.pool.Stats().Blocks {
			if b.Hash == hash && !b.Pending {
				return true
			}
		}
		return false
	})
}

// TestRestartKeepsBlocksAndTotals stops the pool and starts a new one on the
// same data dir.
func TestRestartKeepsBlocksAndTotals(t *testing.T) {
	node := newFakeNode()
	dir := t.TempDir()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12 // every hash is a share; half are blocks
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})
	c := dial(t, h.addr)
	c.handshake("keeper")
	hash := mineBlock(t, c, "keeper")
	h.stop(t)

	h2 := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})
	st := h2.pool.Stats()
	if len(st.Blocks) != 1 || st.Blocks[0].Hash != hash || !st.Blocks[0].Accepted {
		t.Fatalf("blocks after restart: got %+v, want the accepted block %s", st.Blocks, hash)
	}
	var found bool
	for _, w := range st.Workers {
		if w.Name == "keeper" {
			found = true
			if w.Accepted != 1 || w.Blocks != 1 {
				t.Errorf("keeper totals after restart: got accepted %d blocks %d, want 1 and 1", w.Accepted, w.Blocks)
			}
		}
	}
	if !found {
		t.Errorf("worker totals after restart: got %+v, want keeper", st.Workers)
	}
}

// TestNodeErrorsNeverLoseOrDuplicateBlocks makes the node fail the first
// submissions: the block is retried until accepted, submitted to the node
// exactly once, and the miner keeps mining.
func TestNodeErrorsNeverLoseOrDuplicateBlocks(t *testing.T) {
	node := newFakeNode()
	node.mu.Lock()
	node.failNext = 2
	node.mu.Unlock()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	c := dial(t, h.addr)
	c.handshake("w")
	hash := mineBlock(t, c, "w")
	waitFor(t, 20*time.Second, "block accepted after node errors", func() bool { return len(node.blocks()) == 1 })
	j := c.nextJob(10 * time.Second)
	for !j.clean {
		j = c.nextJob(10 * time.Second)
	}
	mineBlock(t, c, "w")
	waitFor(t, 10*time.Second, "second block", func() bool { return len(node.blocks()) == 2 })
	st := h.pool.Stats()
	if len(st.Blocks) != 2 || st.Blocks[0].Hash != hash {
		t.Errorf("blocks: got %+v, want 2 starting with %s", st.Blocks, hash)
	}
}

// TestPendingBlockSettles: the node fails long enough that the share is
// answered while the block is still being retried; the block is first
// recorded as pending, then updated to accepted once the node takes it.
func TestPendingBlockSettles(t *testing.T) {
	node := newFakeNode()
	node.mu.Lock()
	node.failNext = 3 // ~1.75 s of retry backoff
	node.mu.Unlock()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	jcfg := job.Config{
		Source: node, Submitter: node, PayoutScript: payoutScript, Tag: []byte("/test/"),
		PollInterval: 50 * time.Millisecond, RefreshInterval: 500 * time.Millisecond,
		Logger: testLogger(t).With("component", "job"),
	}
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, jobCfg: &jcfg})
	c := dial(t, h.addr)
	c.handshake("w")
	hash := mineBlock(t, c, "w")
	st := h.pool.Stats()
	if len(st.Blocks) != 1 || !st.Blocks[0].Pending || st.Blocks[0].Accepted || st.Blocks[0].Hash != hash {
		t.Fatalf("blocks right after the share: got %+v, want %s pending", st.Blocks, hash)
	}
	waitFor(t, 20*time.Second, "pending block recorded as accepted", func() bool {
		bs := h.pool.Stats().Blocks
		return len(bs) == 1 && bs[0].Accepted && !bs[0].Pending
	})
	if n := len(node.blocks()); n != 1 {
		t.Errorf("node received %d blocks, want exactly 1", n)
	}
}

// TestFinderToldOfOutcome: once the job source settles a found block, the
// finder's sessions get a client.show_message naming the block and the
// node's verdict.
func TestFinderToldOfOutcome(t *testing.T) {
	node := newFakeNode()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	c := dial(t, h.addr)
	c.handshake("finder")
	hash := mineBlock(t, c, "finder")
	m := c.waitNote(stratum.MethodShowMessage, 10*time.Second)
	var sm stratum.ShowMessage
	if err := json.Unmarshal(m.Params, &sm); err != nil {
		t.Fatalf("show_message params %s: %v", m.Params, err)
	}
	if !strings.Contains(sm.Text, hash) || !strings.Contains(sm.Text, "accepted") {
		t.Errorf("message: got %q, want block %s accepted", sm.Text, hash)
	}
}
