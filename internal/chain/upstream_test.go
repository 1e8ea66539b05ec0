package chain_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/chain/chaintest"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

const easyDiff = 1e-6 // about 4300 hashes per share

func startUpstream(t *testing.T, pool *chaintest.FakePool, mod func(*chain.UpstreamConfig)) *chain.Upstream {
	t.Helper()
	cfg := chain.UpstreamConfig{URL: "stratum+tcp://" + pool.Addr, User: "proxy.1", Password: "x", VersionMask: stratum.DefaultVersionRollingMask,
		RequestTimeout: 5 * time.Second, BackoffMax: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	u, err := chain.NewUpstream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return u
}

func nextWork(t *testing.T, u *chain.Upstream) chain.UpstreamWork {
	t.Helper()
	select {
	case w := <-u.Work():
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("no upstream work")
		return chain.UpstreamWork{}
	}
}

// solve finds a nonce whose header meets target (meet=true) or misses it.
func solve(t *testing.T, w chain.UpstreamWork, en2 []byte, version uint32, target [32]byte, meet bool) uint32 {
	t.Helper()
	work := btc.Work{PrevHash: w.Notify.PrevHash, Coinb1: w.Notify.Coinb1, Coinb2: w.Notify.Coinb2, Branch: w.Notify.Branch,
		Version: w.Notify.Version, Bits: w.Notify.NBits, Time: w.Notify.NTime}
	for nonce := uint32(0); nonce < 1<<22; nonce++ {
		hdr := work.Header(w.Extranonce1, en2, w.Notify.NTime, nonce, version)
		h := btc.BlockHash(&hdr)
		if btc.MeetsTarget(&h, &target) == meet {
			return nonce
		}
	}
	t.Fatal("no nonce")
	return 0
}

func TestUpstreamHandshakeWorkAndSubmit(t *testing.T) {
	job := chaintest.TestJob(t, "a1", 840_000, 0x17034219, 9, 4, 8, true)
	pool := chaintest.NewFakePool(t, job, easyDiff, 8, stratum.DefaultVersionRollingMask)
	u := startUpstream(t, pool, nil)
	w := nextWork(t, u)
	wantTarget, _ := btc.DifficultyToTarget(easyDiff)
	if w.Notify.JobID != "a1" || !bytes.Equal(w.Extranonce1, []byte{0xf0, 0x0d, 0xba, 1}) || w.Extranonce2Size != 8 ||
		w.Target != wantTarget || w.VersionMask != stratum.DefaultVersionRollingMask || w.Session == 0 {
		t.Fatalf("work: got job %s en1 %x en2size %d mask %08x session %d", w.Notify.JobID, w.Extranonce1, w.Extranonce2Size, w.VersionMask, w.Session)
	}
	ctx := context.Background()
	en2 := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	version := btc.RollVersion(job.Version, 0x00006000, w.VersionMask)
	good := chain.UpstreamShare{Session: w.Session, JobID: "a1", Extranonce2: en2, NTime: job.NTime, Version: version, BaseVersion: job.Version}
	good.Nonce = solve(t, w, en2, version, wantTarget, true)
	if err := u.Submit(ctx, good); err != nil {
		t.Fatalf("good share: got %v, want accepted", err)
	}
	low := good
	low.Nonce = solve(t, w, en2, version, wantTarget, false)
	var se *stratum.Error
	if err := u.Submit(ctx, low); !errors.As(err, &se) || se.Code != stratum.ErrLowDifficulty {
		t.Errorf("low share: got %v, want stratum error 23", err)
	}
	if err := u.Submit(ctx, good); !errors.As(err, &se) || se.Code != stratum.ErrDuplicate {
		t.Errorf("duplicate: got %v, want stratum error 22", err)
	}
	subs := pool.Submits()
	if len(subs) != 3 || !subs[0].Accepted || !subs[0].Submit.HasVersionBits || subs[0].Submit.VersionBits != 0x6000 {
		t.Errorf("pool saw: %+v", subs)
	}

	// A new difficulty applies to the session at once.
	pool.SetDifficulty(2 * easyDiff)
	want2, _ := btc.DifficultyToTarget(2 * easyDiff)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, ok := u.Target(w.Session)
		if ok && got == want2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target after set_difficulty: got %x, want %x", got, want2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	next := chaintest.TestJob(t, "a2", 840_001, 0x17034219, 3, 4, 8, true)
	pool.Notify(next)
	w2 := nextWork(t, u)
	if w2.Notify.JobID != "a2" || !w2.Notify.Clean || w2.Target != want2 || w2.Session != w.Session {
		t.Errorf("second work: got %s clean=%v", w2.Notify.JobID, w2.Notify.Clean)
	}

	// The pool drops us: a new session with a new extranonce1; shares of
	// the old session are refused locally.
	pool.DropConnections()
	w3 := nextWork(t, u)
	if w3.Session == w.Session || bytes.Equal(w3.Extranonce1, w.Extranonce1) {
		t.Errorf("after reconnect: got session %d en1 %x", w3.Session, w3.Extranonce1)
	}
	if err := u.Submit(ctx, good); !errors.Is(err, chain.ErrSessionGone) {
		t.Errorf("old-session share: got %v, want ErrSessionGone", err)
	}
}

func TestUpstreamWithoutVersionRolling(t *testing.T) {
	job := chaintest.TestJob(t, "b1", 100, 0x207fffff, 0, 4, 4, true)
	pool := chaintest.NewFakePool(t, job, easyDiff, 4, 0)
	u := startUpstream(t, pool, nil)
	w := nextWork(t, u)
	if w.VersionMask != 0 || w.Extranonce2Size != 4 {
		t.Fatalf("work: got mask %08x en2size %d, want 0 4", w.VersionMask, w.Extranonce2Size)
	}
	en2 := []byte{9, 9, 9, 9}
	target, _ := btc.DifficultyToTarget(easyDiff)
	sh := chain.UpstreamShare{Session: w.Session, JobID: "b1", Extranonce2: en2, NTime: job.NTime, Version: job.Version}
	sh.Nonce = solve(t, w, en2, job.Version, target, true)
	if err := u.Submit(context.Background(), sh); err != nil {
		t.Fatal(err)
	}
	if subs := pool.Submits(); len(subs) != 1 || subs[0].Submit.HasVersionBits {
		t.Errorf("pool saw: %+v", subs)
	}
}

func TestUpstreamBadPasswordKeepsRetrying(t *testing.T) {
	job := chaintest.TestJob(t, "c1", 100, 0x207fffff, 0, 4, 8, true)
	pool := chaintest.NewFakePool(t, job, easyDiff, 8, 0)
	pool.Password = "right"
	u := startUpstream(t, pool, func(c *chain.UpstreamConfig) { c.Password = "wrong" })
	deadline := time.Now().Add(10 * time.Second)
	for pool.Connections() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("connections: got %d, want >= 3 retries", pool.Connections())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case w := <-u.Work():
		t.Fatalf("got work %s without authorization", w.Notify.JobID)
	default:
	}
}

func TestUpstreamConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  chain.UpstreamConfig
		ok   bool
	}{
		{name: "stratum+tcp", cfg: chain.UpstreamConfig{URL: "stratum+tcp://pool.example:3333", User: "u"}, ok: true},
		{name: "bare host:port", cfg: chain.UpstreamConfig{URL: "pool.example:3333", User: "u"}, ok: true},
		{name: "no port", cfg: chain.UpstreamConfig{URL: "stratum+tcp://pool.example", User: "u"}},
		{name: "ssl unsupported", cfg: chain.UpstreamConfig{URL: "stratum+ssl://pool.example:443", User: "u"}},
		{name: "no user", cfg: chain.UpstreamConfig{URL: "pool.example:3333"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
