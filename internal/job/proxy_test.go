package job

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/chain/chaintest"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

func TestCoinbaseHeight(t *testing.T) {
	tests := []struct {
		height int64
	}{{1}, {16}, {17}, {128}, {840_000}, {2_000_000_000}}
	for _, tc := range tests {
		cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{Height: tc.height, ValueSats: 1, PayoutScript: p2wpkh, Extranonce1Size: 4, Extranonce2Size: 8})
		if err != nil {
			t.Fatal(err)
		}
		if got := coinbaseHeight(cb.Coinb1); got != tc.height {
			t.Errorf("height %d: got %d", tc.height, got)
		}
	}
	if got := coinbaseHeight([]byte{1, 2}); got != 0 {
		t.Errorf("short coinb1: got %d, want 0", got)
	}
}

func TestNewProxyJob(t *testing.T) {
	n := chaintest.TestJob(t, "u1", 840_000, 0x17034219, 9, 4, 8, true)
	w := chain.UpstreamWork{Notify: n, Session: 3, Extranonce1: []byte{0xaa, 0xbb, 0xcc, 0xdd}, Extranonce2Size: 8,
		Target: btc.Diff1Target, VersionMask: 0x1fffe000}
	j, err := NewProxyJob("p1", w, 2, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Height != 840_000 || j.Extranonce1Size != 2 || j.Extranonce2Size != 6 || !j.Clean {
		t.Errorf("job: got height %d sizes %d/%d clean %v", j.Height, j.Extranonce1Size, j.Extranonce2Size, j.Clean)
	}
	if !bytes.HasSuffix(j.Coinb1, w.Extranonce1) || !bytes.HasPrefix(j.Coinb1, n.Coinb1) {
		t.Errorf("coinb1 must be upstream coinb1 || upstream extranonce1")
	}
	// Our header for (prefix, en2) is the upstream header for en2' = prefix||en2.
	up := btc.Work{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branch: n.Branch, Version: n.Version, Bits: n.NBits, Time: n.NTime}
	ours := j.Work()
	prefix, en2 := []byte{0, 7}, []byte{1, 2, 3, 4, 5, 6}
	if ours.Header(prefix, en2, n.NTime, 42, n.Version) != up.Header(w.Extranonce1, append(append([]byte{}, prefix...), en2...), n.NTime, 42, n.Version) {
		t.Error("proxy job header differs from the upstream header")
	}
	w.Extranonce2Size = 3
	if _, err := NewProxyJob("p2", w, 2, time.Time{}); err == nil {
		t.Error("3-byte upstream extranonce2 with a 2-byte prefix: got no error")
	}
}

// scanShare finds a nonce whose header on j meets target.
func scanShare(t *testing.T, j *Job, sh *Share, target [32]byte) {
	t.Helper()
	w := j.Work()
	for nonce := uint32(0); nonce < 1<<22; nonce++ {
		hdr := w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, nonce, j.Version)
		h := btc.BlockHash(&hdr)
		if btc.MeetsTarget(&h, &target) {
			sh.Nonce = nonce
			return
		}
	}
	t.Fatal("no nonce")
}

func TestProxyModeForwardsShares(t *testing.T) {
	const upDiff = 1e-6
	n1 := chaintest.TestJob(t, "u1", 840_000, 0x17034219, 9, 4, 8, true)
	pool := chaintest.NewFakePool(t, n1, upDiff, 8, stratum.DefaultVersionRollingMask)
	up, err := chain.NewUpstream(chain.UpstreamConfig{URL: pool.Addr, User: "proxy", VersionMask: stratum.DefaultVersionRollingMask,
		BackoffMax: 100 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewProxy(ProxyConfig{Upstream: up, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := runManager(t, m)
	waitFor(t, "the first proxy job", func() bool { return m.Current() != nil })
	j := m.Current()
	if j.Upstream == nil || j.Upstream.JobID != "u1" || j.Extranonce2Size != 6 || j.Height != 840_000 {
		t.Fatalf("job: got %+v", j)
	}
	en1 := m.NewExtranonce1()
	if len(en1) != 2 {
		t.Fatalf("extranonce1: got %d bytes, want 2 (prefix of upstream extranonce2)", len(en1))
	}
	upTarget, _ := btc.DifficultyToTarget(upDiff)

	// A share meeting the upstream target goes upstream with en2 = en1||en2.
	sh := Share{JobID: j.ID, Extranonce1: en1, Extranonce2: []byte{1, 2, 3, 4, 5, 6}, NTime: j.Time, Target: maxTarget}
	scanShare(t, j, &sh, upTarget)
	if _, err := m.Submit(ctx, sh); err != nil {
		t.Fatalf("share: got %v, want accepted", err)
	}
	waitFor(t, "the share at the upstream", func() bool { return len(pool.Submits()) == 1 })
	got := pool.Submits()[0]
	if !got.Accepted || !bytes.Equal(got.Submit.Extranonce2, append(append([]byte{}, en1...), sh.Extranonce2...)) || got.Submit.JobID != "u1" {
		t.Errorf("upstream saw: %+v", got)
	}
	// A share that is fine locally but misses the upstream target stays here.
	weak := sh
	weak.Extranonce2 = []byte{9, 9, 9, 9, 9, 9}
	w := j.Work()
	for nonce := uint32(0); ; nonce++ {
		hdr := w.Header(weak.Extranonce1, weak.Extranonce2, weak.NTime, nonce, j.Version)
		h := btc.BlockHash(&hdr)
		if !btc.MeetsTarget(&h, &upTarget) {
			weak.Nonce = nonce
			break
		}
	}
	if got := m.Status().Forwarded; got != 1 {
		t.Fatalf("shares queued for the upstream before the weak one: got %d, want 1", got)
	}
	if _, err := m.Submit(ctx, weak); err != nil {
		t.Fatalf("weak share: got %v, want accepted locally", err)
	}
	// The forwarding decision is made inside Submit (forwarding itself is
	// asynchronous): once Submit returned, a forwarded share is counted.
	if got := m.Status().Forwarded; got != 1 {
		t.Errorf("shares queued for the upstream: got %d, want 1 (weak share not forwarded)", got)
	}
	if n := len(pool.Submits()); n != 1 {
		t.Errorf("upstream submits: got %d, want 1 (weak share not forwarded)", n)
	}

	// Upstream clean job: the old job turns stale.
	n2 := chaintest.TestJob(t, "u2", 840_001, 0x17034219, 2, 4, 8, true)
	pool.Notify(n2)
	waitFor(t, "the clean upstream job", func() bool { return m.Current().Upstream.JobID == "u2" })
	if !m.Current().Clean {
		t.Error("upstream clean job: got Clean false")
	}
	old := sh
	old.Extranonce2 = []byte{7, 7, 7, 7, 7, 7}
	scanShare(t, j, &old, upTarget)
	if _, err := m.Submit(ctx, old); !isCode(err, stratum.ErrJobNotFound) {
		t.Errorf("share on the replaced job: got %v, want 21", err)
	}

	// The upstream drops us: new session, old jobs are unknown.
	j2 := m.Current()
	pool.DropConnections()
	waitFor(t, "a job from the new session", func() bool { return m.Current().Upstream.Session != j2.Upstream.Session })
	stale := Share{JobID: j2.ID, Extranonce1: en1, Extranonce2: make([]byte, 6), NTime: j2.Time, Target: maxTarget}
	if _, err := m.Submit(ctx, stale); !isCode(err, stratum.ErrJobNotFound) {
		t.Errorf("share from the old session: got %v, want 21", err)
	}
	j3 := m.Current()
	if !bytes.HasSuffix(j3.Coinb1, []byte{0xf0, 0x0d, 0xba, 2}) {
		t.Errorf("new session coinb1 must end with the new upstream extranonce1")
	}
	fresh := Share{JobID: j3.ID, Extranonce1: en1, Extranonce2: []byte{3, 3, 3, 3, 3, 3}, NTime: j3.Time, Target: maxTarget}
	scanShare(t, j3, &fresh, upTarget)
	if _, err := m.Submit(ctx, fresh); err != nil {
		t.Fatalf("share on the new session: %v", err)
	}
	waitFor(t, "the new-session share upstream", func() bool {
		s := pool.Submits()
		return len(s) == 2 && s[1].Accepted
	})
}

// runManager runs m until the test ends (its cleanup cancels Run and checks
// that it returned nil) and returns Run's context.
func runManager(t *testing.T, m interface{ Run(context.Context) error }) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ctx
}
