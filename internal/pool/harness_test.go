package pool_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/store"
)

// fakeNode is an in-memory template source and block sink for the real
// job.Manager: a regtest-like chain whose tip moves when advance is called
// or a block is submitted. It supports longpoll. Safe for concurrent use.
type fakeNode struct {
	bits      uint32 // compact network target; regtest's 207fffff by default
	mu        sync.Mutex
	tpl       *chain.Template
	changed   chan struct{} // closed and replaced on every tip change
	submitted [][]byte
	failNext  int // SubmitBlock fails this many more times (node error)
}

func newFakeNode() *fakeNode { return newFakeNodeBits(0x207fffff) }

// newFakeNodeBits returns a fake node whose blocks need bits.
func newFakeNodeBits(bits uint32) *fakeNode {
	n := &fakeNode{bits: bits, changed: make(chan struct{})}
	n.setTip(101)
	return n
}

func (n *fakeNode) setTip(height int64) {
	var prev [32]byte
	rand.Read(prev[:])
	target, _ := btc.CompactToTarget(n.bits)
	now := uint32(time.Now().Unix())
	n.tpl = &chain.Template{
		Version: 0x20000000, PrevHash: prev, Bits: n.bits,
		CurTime: now, MinTime: now - 600, Height: height,
		CoinbaseValueSats: 50_0000_0000, Target: target,
		LongPollID: fmt.Sprintf("%x-%d", prev[:4], height),
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// advance moves the tip (a block found elsewhere).
func (n *fakeNode) advance() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setTip(n.tpl.Height + 1)
}

func (n *fakeNode) GetBlockTemplate(ctx context.Context, lpid string) (*chain.Template, error) {
	n.mu.Lock()
	tpl, ch := n.tpl, n.changed
	n.mu.Unlock()
	if lpid == "" || lpid != tpl.LongPollID {
		return tpl, nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tpl, nil
}

func (n *fakeNode) SubmitBlock(ctx context.Context, block []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failNext > 0 {
		n.failNext--
		return errors.New("fake node: connection refused")
	}
	n.submitted = append(n.submitted, block)
	n.setTip(n.tpl.Height + 1)
	return nil
}

func (n *fakeNode) blocks() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]byte(nil), n.submitted...)
}

// payoutScript is a P2WPKH script (any 20 bytes do for the fake node).
var payoutScript = append([]byte{0x00, 0x14}, make([]byte, 20)...)

type harnessOpts struct {
	src     job.TemplateSource
	sub     job.BlockSubmitter
	cfg     pool.Config // Jobs, Listener, Logger are filled in (and Store, with dataDir)
	dataDir string      // the state file's dir, shared by the job source (blocks) and the pool (worker totals)
	// blockMaturity and blockCheck set the job source's BlockMaturity and
	// BlockCheckInterval (following found blocks).
	blockMaturity int
	blockCheck    time.Duration
	payout        []byte           // default payoutScript
	jobCfg        *job.Config      // overrides the job.Config built from src, sub and payout
	proxy         *job.ProxyConfig // proxy mode: a job.Proxy instead of a job.Manager
	log           *slog.Logger     // the pool's logger; default testLogger
}

// jobSource is a job.Manager or a job.Proxy.
type jobSource interface {
	pool.JobSource
	Run(ctx context.Context) error
}

// harness runs a real job.Manager (or job.Proxy) and pool.Server on
// loopback.
type harness struct {
	pool   *pool.Server
	jobs   jobSource
	addr   string
	cancel context.CancelFunc
	done   chan error
	store  *store.DB // closed by stop, after both Run calls returned
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("HASHFLEET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if o.payout == nil {
		o.payout = payoutScript
	}
	var st *store.DB
	if o.dataDir != "" {
		var err error
		if st, err = store.Open(o.dataDir); err != nil {
			t.Fatalf("store.Open: %v", err)
		}
	}
	jcfg := job.Config{
		Source: o.src, Submitter: o.sub, PayoutScript: o.payout, Tag: []byte("/test/"),
		PollInterval: 50 * time.Millisecond, RefreshInterval: 500 * time.Millisecond,
		Logger: testLogger(t).With("component", "job"),
	}
	if c, ok := o.sub.(job.BlockChecker); ok {
		jcfg.Checker = c // a real node client (chain.Client) also verifies and follows blocks
	}
	if o.jobCfg != nil {
		jcfg = *o.jobCfg
	}
	jcfg.Store, jcfg.Registerer = st, o.cfg.Registerer
	jcfg.BlockMaturity, jcfg.BlockCheckInterval = o.blockMaturity, o.blockCheck
	var jobs jobSource
	var err error
	if o.proxy != nil {
		pcfg := *o.proxy
		pcfg.Store = st
		jobs, err = job.NewProxy(pcfg)
	} else {
		jobs, err = job.New(jcfg)
	}
	if err != nil {
		closeStore(st)
		t.Fatalf("job source: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := o.cfg
	cfg.Jobs = jobs
	cfg.Listener = ln
	cfg.Store = st
	cfg.Logger = testLogger(t).With("component", "pool")
	if o.log != nil {
		cfg.Logger = o.log
	}
	srv, err := pool.New(cfg)
	if err != nil {
		ln.Close()
		closeStore(st)
		t.Fatalf("pool.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{pool: srv, jobs: jobs, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 2), store: st}
	go func() { h.done <- jobs.Run(ctx) }()
	go func() { h.done <- srv.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	// Ready once the pool has its first job.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("pool not ready after 10s: %v", srv.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return h
}

// stop cancels and waits for both Run calls (idempotent).
func (h *harness) stop(t testing.TB) {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	for range 2 {
		select {
		case err := <-h.done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancel")
			return
		}
	}
	closeStore(h.store)
}

func closeStore(st *store.DB) {
	if st != nil {
		st.Close()
	}
}

// waitFor polls cond until it is true or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ = io.EOF
