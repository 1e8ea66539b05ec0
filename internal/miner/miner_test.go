package miner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/miner/minertest"
	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/sha256d"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// logBuf collects log output and prints it if the test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type testMiner struct {
	*Miner
	logs   *logBuf
	cancel context.CancelFunc
	done   chan error
}

// startMiner runs a miner against urls until the test ends (or stop).
func startMiner(t *testing.T, urls []string, mod func(*Config)) *testMiner {
	t.Helper()
	logs := &logBuf{}
	cfg := Config{
		Threads:       2,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:    prometheus.NewRegistry(),
		MinBackoff:    20 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		StatsInterval: 100 * time.Millisecond,
		batch:         1 << 12,
	}
	for _, u := range urls {
		cfg.Pools = append(cfg.Pools, Pool{URL: u, User: "bcrt1qtest.w1", Password: "secret-pw"})
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMiner{Miner: m, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { tm.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		tm.stop(t)
		if t.Failed() {
			t.Logf("miner log:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), "secret-pw") {
			t.Errorf("the pool password appears in the logs")
		}
	})
	return tm
}

func (tm *testMiner) stop(t *testing.T) {
	t.Helper()
	tm.cancel()
	select {
	case err := <-tm.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		tm.done <- nil // later stops return at once
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return within 10s of cancel")
	}
}

// checkAllValid fails on any share the fixture found invalid.
func checkAllValid(t *testing.T, f *minertest.Server) {
	t.Helper()
	for i, s := range f.Shares() {
		if !s.Valid {
			t.Errorf("share %d (job %s nonce %08x): invalid: %s", i, s.JobID, s.Nonce, s.Reason)
		}
	}
}

func TestMineAgainstFixture(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{Password: "secret-pw"})
	m := startMiner(t, []string{f.URL()}, nil)
	minertest.WaitFor(t, "10 valid shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 10 })
	minertest.WaitFor(t, "miner to count accepted shares", 10*time.Second, func() bool { return m.Stats().Accepted >= 10 })
	m.stop(t)
	checkAllValid(t, f)
	st := m.Stats()
	// Replies still in flight at shutdown are not counted by the miner.
	if got, max := st.Accepted, uint64(f.ValidShares(nil)); got > max || got < 10 {
		t.Errorf("got %d accepted, want 10..%d (the fixture's valid shares)", got, max)
	}
	if st.Rejected != 0 || st.Invalid != 0 {
		t.Errorf("got %d rejected, %d invalid; want 0, 0 (reasons %v)", st.Rejected, st.Invalid, st.RejectReasons)
	}
	if st.Hashes == 0 || len(st.Threads) != 2 {
		t.Errorf("got %d hashes over %d threads, want > 0 over 2", st.Hashes, len(st.Threads))
	}
	for _, th := range st.Threads {
		if th.Hashes == 0 {
			t.Errorf("thread %d hashed nothing", th.Thread)
		}
	}
	// regtest nbits: most shares are also block candidates.
	if st.BlockCandidates == 0 {
		t.Errorf("got 0 block candidates with regtest nbits, want > 0")
	}
	// Distinct extranonce2 per thread: no two valid shares share a header.
	seen := map[string]bool{}
	for _, s := range f.Shares() {
		k := fmt.Sprintf("%x/%s/%08x/%08x", s.En2, s.JobID, s.Nonce, s.Version)
		if seen[k] {
			t.Errorf("duplicate share %x nonce %08x", s.En2, s.Nonce)
		}
		seen[k] = true
	}
	b, err := json.Marshal(st)
	if err != nil || strings.Contains(string(b), "secret-pw") {
		t.Errorf("stats JSON %s (err %v) must marshal and not hold the password", b, err)
	}
}

func TestWrongPasswordFailsOver(t *testing.T) {
	bad := minertest.NewServer(t, minertest.Config{Password: "other"})
	good := minertest.NewServer(t, minertest.Config{Password: "secret-pw"})
	m := startMiner(t, []string{bad.URL(), good.URL()}, nil)
	minertest.WaitFor(t, "shares on the second pool", 30*time.Second, func() bool { return good.ValidShares(nil) >= 3 })
	if n := len(bad.Shares()); n != 0 {
		t.Errorf("got %d shares on the unauthorized pool, want 0", n)
	}
	_ = m
}

func TestVersionRolling(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{VersionMask: 0x1fffe000})
	// A tiny nonce span makes threads roll the version quickly.
	m := startMiner(t, []string{f.URL()}, func(c *Config) { c.nonceSpan = 1 << 14; c.batch = 1 << 12 })
	rolled := func(s minertest.Share) bool { return s.Version != 0x20000000 }
	minertest.WaitFor(t, "shares with rolled versions", 30*time.Second, func() bool { return f.ValidShares(rolled) >= 5 })
	m.stop(t)
	checkAllValid(t, f)
	for _, s := range f.Shares() {
		if s.Version&^0x1fffe000 != 0x20000000 {
			t.Errorf("got version %08x, want only mask bits changed from 20000000", s.Version)
		}
	}
	if got := m.Stats().VersionMask; got != "1fffe000" {
		t.Errorf("got version mask %q, want 1fffe000", got)
	}
}

func TestNoVersionRollingWhenRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  minertest.Config
	}{
		{name: "refused", cfg: minertest.Config{}},
		{name: "never answered", cfg: minertest.Config{SilentConfigure: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := minertest.NewServer(t, tc.cfg)
			m := startMiner(t, []string{f.URL()}, func(c *Config) { c.nonceSpan = 1 << 14 })
			minertest.WaitFor(t, "shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 5 })
			m.stop(t)
			checkAllValid(t, f)
			for _, s := range f.Shares() {
				if s.Version != 0x20000000 {
					t.Errorf("got version %08x without rolling, want 20000000", s.Version)
				}
			}
		})
	}
}

func TestExtranonce2Rolling(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{Extranonce2Size: 2})
	m := startMiner(t, []string{f.URL()}, func(c *Config) { c.nonceSpan = 1 << 13; c.NoVersionRolling = true })
	distinct := func() int {
		seen := map[string]bool{}
		for _, s := range f.Shares() {
			if s.Valid {
				seen[string(s.En2)] = true
			}
		}
		return len(seen)
	}
	minertest.WaitFor(t, "shares over 6 extranonce2 values", 30*time.Second, func() bool { return distinct() >= 6 })
	m.stop(t)
	checkAllValid(t, f)
}

func TestCleanJobPreempts(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{f.URL()}, nil)
	minertest.WaitFor(t, "shares on job 1", 30*time.Second, func() bool { return f.ValidShares(nil) >= 3 })
	old := f.Shares()[0].JobID
	id := f.NewJob(true)
	minertest.WaitFor(t, "shares on the new job", 30*time.Second, func() bool {
		return f.ValidShares(func(s minertest.Share) bool { return s.JobID == id }) >= 3
	})
	m.stop(t)
	checkAllValid(t, f)
	// After the first share for the new job, no share may name the old one.
	newSeen := false
	for _, s := range f.Shares() {
		if s.JobID == id {
			newSeen = true
		} else if newSeen && s.JobID == old {
			t.Errorf("share for replaced job %s after the clean job %s", old, id)
		}
	}
}

func TestDifficultyAppliesFromNextJob(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{f.URL()}, nil)
	minertest.WaitFor(t, "shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 3 })
	// An unreachable difficulty: shares for the current job must still
	// come (at the old difficulty) until the next notify.
	f.SetDifficulty(1e9)
	before := f.ValidShares(nil)
	minertest.WaitFor(t, "shares after set_difficulty", 30*time.Second, func() bool { return f.ValidShares(nil) >= before+3 })
	if got := m.Stats().Difficulty; got != 1e-5 {
		t.Errorf("got difficulty %g before the next job, want 1e-05", got)
	}
	id := f.NewJob(false)
	minertest.WaitFor(t, "the new job", 10*time.Second, func() bool { return m.Stats().JobID == id })
	if got := m.Stats().Difficulty; got != 1e9 {
		t.Errorf("got difficulty %g after the next job, want 1e9", got)
	}
	m.stop(t)
	checkAllValid(t, f)
	for _, s := range f.Shares() {
		if s.JobID == id {
			t.Errorf("share for job %s at difficulty 1e9: impossible unless mis-targeted", id)
		}
	}
}

func TestFailoverWhenServerDies(t *testing.T) {
	a := minertest.NewServer(t, minertest.Config{})
	b := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{a.URL(), b.URL()}, nil)
	minertest.WaitFor(t, "shares on pool A", 30*time.Second, func() bool { return a.ValidShares(nil) >= 3 })
	a.Close() // killed mid-job
	minertest.WaitFor(t, "shares on pool B", 30*time.Second, func() bool { return b.ValidShares(nil) >= 3 })
	m.stop(t)
	checkAllValid(t, a)
	checkAllValid(t, b)
	if st := m.Stats(); st.Rejected != 0 || st.Invalid != 0 {
		t.Errorf("got %d rejected %d invalid, want 0", st.Rejected, st.Invalid)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	addr := porttest.Addr(t) // the pool restarts on the same address
	a := minertest.NewServer(t, minertest.Config{Addr: addr})
	m := startMiner(t, []string{a.URL()}, nil)
	minertest.WaitFor(t, "shares before the crash", 30*time.Second, func() bool { return a.ValidShares(nil) >= 3 })
	a.Close()
	minertest.WaitFor(t, "the miner to notice", 10*time.Second, func() bool { return !m.Stats().Connected })
	c0 := m.Stats().Connects
	minertest.WaitFor(t, "two failed connection attempts", 10*time.Second, func() bool { return m.Stats().Connects >= c0+2 })
	b := minertest.NewServer(t, minertest.Config{Addr: addr})
	minertest.WaitFor(t, "shares after the restart", 30*time.Second, func() bool { return b.ValidShares(nil) >= 3 })
	m.stop(t)
	checkAllValid(t, b)
}

func TestClientReconnectHonoured(t *testing.T) {
	a := minertest.NewServer(t, minertest.Config{})
	b := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{a.URL()}, nil)
	minertest.WaitFor(t, "shares on A", 30*time.Second, func() bool { return a.ValidShares(nil) >= 1 })
	host, port, _ := net.SplitHostPort(b.Addr())
	a.SendRaw(`{"id":null,"method":"client.reconnect","params":["` + host + `","` + port + `",0]}`)
	minertest.WaitFor(t, "shares on B after client.reconnect", 30*time.Second, func() bool { return b.ValidShares(nil) >= 3 })
	m.stop(t)
	checkAllValid(t, b)
}

func TestBadInputFromPool(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{f.URL()}, nil)
	minertest.WaitFor(t, "shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 2 })
	h64 := strings.Repeat("00", 32)
	for _, line := range []string{
		`this is not json`,
		strings.Repeat("x", stratum.MaxLineLen+10),
		`{"id":null,"method":"mining.notify","params":["j9"]}`,
		`{"id":null,"method":"mining.notify","params":["j9","` + h64 + `","zz","00",[],"20000000","207fffff","5f5e1000",true]}`,
		`{"id":null,"method":"mining.notify","params":["j9","` + h64 + `","00","00",["01"],"20000000","207fffff","5f5e1000",true]}`,
		`{"id":null,"method":"mining.notify","params":["j9","` + h64 + `","00","00",[],"20000000","207fffff","5f5e1000"]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[1,2]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[-5]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["00",1]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["00",17]}`,
		`{"id":null,"method":"client.reconnect","params":["h",99999]}`,
		`{"id":7,"method":"client.show_message","params":[1]}`,
		`{"id":8,"method":"mining.bogus","params":[]}`,
		`{"id":9,"result":true,"error":null}`,
		`{"id":"x","result":true,"error":null}`,
		`{"params":5}`,
		`[]`,
	} {
		f.SendRaw(line)
	}
	// Lines are handled in order: shares for a job sent after the bad
	// input prove it was all processed and the connection still works.
	id := f.NewJob(true)
	minertest.WaitFor(t, "shares after the bad input", 30*time.Second, func() bool {
		return f.ValidShares(func(s minertest.Share) bool { return s.JobID == id }) >= 3
	})
	m.stop(t)
	checkAllValid(t, f)
	if got := f.Connections(); got != 1 {
		t.Errorf("got %d connections, want 1: bad input must not drop the connection", got)
	}
	st := m.Stats()
	if st.JobsRefused != 4 {
		t.Errorf("got %d jobs refused, want 4", st.JobsRefused)
	}
	if st.BadLines < 3 {
		t.Errorf("got %d bad lines, want >= 3", st.BadLines)
	}
	for _, want := range []string{"job refused", "ignoring bad line", "refused message from pool"} {
		if !strings.Contains(m.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestBadExtranonce2SizeRefused(t *testing.T) {
	for _, size := range []int{1, 17} {
		t.Run("size "+string(rune('0'+size%10)), func(t *testing.T) {
			f := minertest.NewServer(t, minertest.Config{Extranonce2Size: size})
			m := startMiner(t, []string{f.URL()}, nil)
			minertest.WaitFor(t, "a retry", 10*time.Second, func() bool { return f.Connections() >= 2 })
			m.stop(t)
			if n := len(f.Shares()); n != 0 {
				t.Errorf("got %d shares with extranonce2_size %d, want 0", n, size)
			}
			if !strings.Contains(m.logs.String(), "extranonce2_size") {
				t.Errorf("log does not name extranonce2_size")
			}
		})
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	f := minertest.NewServer(t, minertest.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	m := startMiner(t, []string{f.URL()}, func(c *Config) {
		c.TLSConfig = &tls.Config{RootCAs: pool}
	})
	minertest.WaitFor(t, "shares over TLS", 30*time.Second, func() bool { return f.ValidShares(nil) >= 3 })
	m.stop(t)
	checkAllValid(t, f)
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fixture"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestNoGoroutineLeak(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	base := runtime.NumGoroutine()
	m := startMiner(t, []string{f.URL(), "stratum+tcp://127.0.0.1:1"}, func(c *Config) { c.Threads = 3 })
	minertest.WaitFor(t, "shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 3 })
	m.stop(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("got %d goroutines after shutdown, want <= %d\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStopWhileDisconnected(t *testing.T) {
	// Nothing listens: Run must still return promptly on cancel.
	m := startMiner(t, []string{"stratum+tcp://127.0.0.1:1"}, nil)
	minertest.WaitFor(t, "a failed connection attempt", 10*time.Second, func() bool { return m.Stats().Connects > 0 })
	m.stop(t)
}

func TestRejectReasonsCounted(t *testing.T) {
	tests := []struct {
		name       string
		cfg        minertest.Config
		wantReason string
		wantLabel  string
	}{
		{name: "error array", cfg: minertest.Config{RejectError: stratum.NewError(stratum.ErrLowDifficulty, "Low difficulty share")}, wantReason: "Low difficulty share", wantLabel: "low_difficulty"},
		{name: "ckpool reject-reason", cfg: minertest.Config{RejectReason: "Stale"}, wantReason: "Stale", wantLabel: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := minertest.NewServer(t, tt.cfg)
			reg := prometheus.NewRegistry()
			m := startMiner(t, []string{f.URL()}, func(c *Config) { c.Registerer = reg })
			minertest.WaitFor(t, "rejects", 30*time.Second, func() bool { return m.Stats().Rejected >= 3 })
			m.stop(t)
			st := m.Stats()
			if st.Accepted != 0 || st.RejectReasons[tt.wantReason] != st.Rejected {
				t.Errorf("got accepted %d, reasons %v, want 0 and all %q", st.Accepted, st.RejectReasons, tt.wantReason)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, mf := range mfs {
				if mf.GetName() != "hashfleet_miner_rejects_total" {
					continue
				}
				for _, mt := range mf.GetMetric() {
					if mt.GetLabel()[0].GetValue() == tt.wantLabel && mt.GetCounter().GetValue() > 0 {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no hashfleet_miner_rejects_total{reason=%q}", tt.wantLabel)
			}
			if !strings.Contains(m.logs.String(), "booooo") {
				t.Errorf("no reject progress line")
			}
		})
	}
}

// TestBrokenImplNeverSubmits gives the miner an implementation that claims
// every nonce is a share: the re-check must catch them before submit.
func TestBrokenImplNeverSubmits(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	liar := sha256d.Impl{Name: "liar", Available: true, Lanes: 1,
		Scan: func(_ *sha256d.Midstate, _ *[16]byte, _ *[32]byte, base, _ uint32) (uint32, bool) { return base, true }}
	m := startMiner(t, []string{f.URL()}, func(c *Config) { c.Impl = liar; c.Threads = 1 })
	minertest.WaitFor(t, "invalid shares to be caught", 30*time.Second, func() bool { return m.Stats().Invalid >= 100 })
	m.stop(t)
	checkAllValid(t, f) // whatever reached the pool really met the target
	if !strings.Contains(m.logs.String(), "failed the re-check") {
		t.Errorf("no log line for the failed re-check")
	}
}

func TestAnswersServerRequests(t *testing.T) {
	f := minertest.NewServer(t, minertest.Config{})
	m := startMiner(t, []string{f.URL()}, func(c *Config) { c.UserAgent = "hashfleet/test" })
	minertest.WaitFor(t, "shares", 30*time.Second, func() bool { return f.ValidShares(nil) >= 1 })
	f.SendRaw(`{"id":"p1","method":"mining.ping","params":[]}`)
	f.SendRaw(`{"id":"v1","method":"client.get_version","params":[]}`)
	f.SendRaw(`{"id":"s1","method":"client.show_message","params":["maintenance at noon"]}`)
	f.SendRaw(`{"id":"u1","method":"mining.unknown","params":[]}`)
	f.SetExtranonce([]byte{0, 0, 0, 0x0a})
	want := map[string]string{`"p1"`: `"pong"`, `"v1"`: `"hashfleet/test"`, `"s1"`: `true`, `"u1"`: `error 20`, `"set_extranonce"`: `true`}
	got := map[string]string{}
	minertest.WaitFor(t, "replies", 10*time.Second, func() bool {
		for _, r := range f.Responses() {
			if r.Error != nil {
				got[string(r.ID)] = "error " + strconvI(r.Error.Code)
			} else {
				got[string(r.ID)] = string(r.Result)
			}
		}
		return len(got) >= len(want)
	})
	for id, w := range want {
		if got[id] != w {
			t.Errorf("reply to %s: got %s, want %s", id, got[id], w)
		}
	}
	// set_extranonce applies from the next job: shares for it use the new extranonce1.
	id := f.NewJob(true)
	minertest.WaitFor(t, "shares on the new job", 30*time.Second, func() bool {
		return f.ValidShares(func(s minertest.Share) bool { return s.JobID == id }) >= 1
	})
	m.stop(t)
	checkAllValid(t, f)
	for _, s := range f.Shares() {
		if s.JobID == id && !bytes.Equal(s.En1, []byte{0, 0, 0, 0x0a}) {
			t.Errorf("share for job %s with extranonce1 %x, want 0000000a", id, s.En1)
		}
	}
	if !strings.Contains(m.logs.String(), "maintenance at noon") {
		t.Errorf("show_message text not logged")
	}
}

func strconvI(i int) string { return fmt.Sprint(i) }

func TestIdleTimeoutReconnects(t *testing.T) {
	// Difficulty so high no share is found: the pool goes silent.
	f := minertest.NewServer(t, minertest.Config{Difficulty: 1e12})
	m := startMiner(t, []string{f.URL()}, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	minertest.WaitFor(t, "a reconnect after silence", 20*time.Second, func() bool { return f.Connections() >= 2 })
	m.stop(t)
	if !strings.Contains(m.logs.String(), "nothing received from pool") {
		t.Errorf("idle timeout not logged")
	}
}
