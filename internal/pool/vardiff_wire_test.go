package pool_test

import (
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// TestVardiffOverTheWire: a session flooding shares gets a higher
// difficulty (set_difficulty, then the job again under a new id, not
// clean); work issued before the change is still checked at the old
// difficulty, work issued after it at the new one.
func TestVardiffOverTheWire(t *testing.T) {
	node := newFakeNodeBits(0x1e00ffff) // blocks are rare, so shares do not move the tip
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: pool.Config{MinDiff: 1e-12, InitialDiff: lowDiff}})
	c := dial(t, h.addr)
	c.handshake("flood")
	old := c.lastJob
	if c.diff != lowDiff {
		t.Fatalf("initial difficulty: got %g, want %g", c.diff, lowDiff)
	}
	oldT, _ := targets(t, lowDiff)
	newT, _ := targets(t, 4*lowDiff)
	var nonce uint32
	next := func(ok func(h [32]byte) bool) solution {
		for {
			hdr := old.work.Header(c.en1, make([]byte, c.en2Size), old.work.Time, nonce, old.work.Version)
			nonce++
			if hh := btc.BlockHash(&hdr); ok(hh) {
				return solution{en2: make([]byte, c.en2Size), ntime: old.work.Time, nonce: nonce - 1, hash: hh}
			}
		}
	}
	// 16 quick shares: the fast path raises the difficulty 4x.
	for i := range 16 {
		sol := next(func(h [32]byte) bool { return btc.MeetsTarget(&h, &oldT) })
		if got := errCode(c.call(stratum.MethodSubmit, sol.params("flood", old.id))); got != 0 {
			t.Fatalf("share %d: got code %d, want accepted", i, got)
		}
	}
	nj := c.nextJob(5 * time.Second)
	if c.diff != 4*lowDiff || nj.clean || nj.id == old.id || nj.work.PrevHash != old.work.PrevHash {
		t.Fatalf("after 16 fast shares: got diff %g, job %s clean %v, want diff %g, a new id, same tip, not clean", c.diff, nj.id, nj.clean, 4*lowDiff)
	}
	// A share between the two targets.
	between := next(func(h [32]byte) bool { return btc.MeetsTarget(&h, &oldT) && !btc.MeetsTarget(&h, &newT) })
	if got := errCode(c.call(stratum.MethodSubmit, between.params("flood", old.id))); got != 0 {
		t.Errorf("old job, share meeting only the old difficulty: got code %d, want accepted", got)
	}
	// The new id names the same underlying job, so use another header (the
	// same one would be a duplicate).
	between2 := next(func(h [32]byte) bool { return btc.MeetsTarget(&h, &oldT) && !btc.MeetsTarget(&h, &newT) })
	if got := errCode(c.call(stratum.MethodSubmit, between2.params("flood", nj.id))); got != stratum.ErrLowDifficulty {
		t.Errorf("new job, share meeting only the old difficulty: got code %d, want %d", got, stratum.ErrLowDifficulty)
	}
	ws := h.pool.Stats().Workers
	if len(ws) != 1 || ws[0].Difficulty != 4*lowDiff || ws[0].Accepted != 17 {
		t.Errorf("worker stats: got %+v, want difficulty %g and 17 accepted", ws, 4*lowDiff)
	}
}

// TestVardiffLowersIdleSession: a session that finds no shares gets a lower
// difficulty from the pool's ticker, with the job re-sent.
func TestVardiffLowersIdleSession(t *testing.T) {
	node := newFakeNodeBits(0x1e00ffff)
	cfg := pool.Config{InitialDiff: 64, MinDiff: 1, ShareInterval: 20 * time.Millisecond, RetargetInterval: 400 * time.Millisecond}
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	c := dial(t, h.addr)
	c.handshake("idle")
	first := c.lastJob
	j := c.nextJob(10 * time.Second)
	if c.diff != 16 || j.clean || j.id == first.id {
		t.Fatalf("after an idle window: got diff %g, job %s clean %v, want 16, a new id, not clean", c.diff, j.id, j.clean)
	}
}
