package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// fakeNode is an in-memory node: a template source with longpoll and a
// block sink whose answers the test scripts.
type fakeNode struct {
	mu       sync.Mutex
	tpl      *chain.Template
	gen      int
	changed  chan struct{}
	longpoll bool
	gbtErrs  int // the next n getblocktemplate calls fail
	gbtCalls int
	lpCalls  int

	submitted   [][]byte
	submitErrs  []error // returned by the next submissions, in order
	result      error   // answer once submitErrs is used up (nil: null)
	status      chain.BlockStatus
	statusCalls int
}

var errConnRefused = errors.New("dial tcp 127.0.0.1:18443: connect: connection refused")

func newFakeNode(tpl *chain.Template) *fakeNode {
	return &fakeNode{tpl: tpl, changed: make(chan struct{}), longpoll: true, status: chain.BlockMainChain}
}

// set replaces the template and wakes longpollers.
func (n *fakeNode) set(tpl *chain.Template) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tpl = tpl
	n.gen++
	close(n.changed)
	n.changed = make(chan struct{})
}

func (n *fakeNode) GetBlockTemplate(ctx context.Context, lpid string) (*chain.Template, error) {
	n.mu.Lock()
	n.gbtCalls++
	if lpid != "" {
		n.lpCalls++
	}
	if n.gbtErrs > 0 {
		n.gbtErrs--
		n.mu.Unlock()
		return nil, errConnRefused
	}
	id := fmt.Sprint(n.gen)
	if lpid != "" && lpid == id {
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		n.mu.Lock()
		id = fmt.Sprint(n.gen)
	}
	c := *n.tpl
	if n.longpoll {
		c.LongPollID = id
	} else {
		c.LongPollID = ""
	}
	n.mu.Unlock()
	return &c, nil
}

func (n *fakeNode) SubmitBlock(ctx context.Context, block []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.submitted = append(n.submitted, block)
	if len(n.submitErrs) > 0 {
		err := n.submitErrs[0]
		n.submitErrs = n.submitErrs[1:]
		return err
	}
	return n.result
}

// Confirmations reports 1 for a block it was given, 0 otherwise.
func (n *fakeNode) Confirmations(ctx context.Context, hash [32]byte) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range n.submitted {
		if len(b) >= 80 && btc.BlockHash((*[80]byte)(b[:80])) == hash {
			return 1, nil
		}
	}
	return 0, nil
}

func (n *fakeNode) BlockStatus(ctx context.Context, hash [32]byte) (chain.BlockStatus, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.statusCalls++
	return n.status, nil
}

func (n *fakeNode) blocks() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]byte(nil), n.submitted...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestManager(t testing.TB, n *fakeNode, mod func(*Config)) *Manager {
	t.Helper()
	cfg := Config{Source: n, Submitter: n, Checker: n, PayoutScript: p2wpkh, Tag: []byte("/hashfleet/"), Logger: quiet}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The settler normally runs in Run; tests that drive apply directly
	// run it alone.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.settleLoop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; m.waitSettled() })
	return m
}

// submit submits sh and, for a share that solves a block, checks that
// Submit returned the block Pending (it never waits for the node) and
// waits for the block's outcome on SubscribeBlocks, which it returns in
// res.Block.
func submit(t testing.TB, m *Manager, sh Share) (Result, error) {
	t.Helper()
	blocks, stop := m.SubscribeBlocks()
	defer stop()
	res, err := m.Submit(context.Background(), sh)
	if res.Block == nil || !res.Block.Pending {
		return res, err
	}
	deadline := time.After(time.Hour)
	for {
		select {
		case b := <-blocks:
			if b.Hash == res.Block.Hash {
				res.Block = &b
				return res, err
			}
		case <-deadline:
			t.Fatalf("no outcome for block %x", res.Block.Hash)
		}
	}
}

// nextTip returns a copy of tpl for the following block.
func nextTip(tpl *chain.Template, prevByte byte) *chain.Template {
	c := *tpl
	c.PrevHash[0] ^= prevByte
	c.Height++
	return &c
}

// findNonce returns a nonce whose header on j with the share's fields
// meets (solve=true) or misses (false) the network target.
func findNonce(t testing.TB, j *Job, sh Share, solve bool) uint32 {
	t.Helper()
	w := j.Work()
	version := sh.Version
	if version == 0 {
		version = j.Version
	}
	for nonce := uint32(0); nonce < 1000; nonce++ {
		hdr := w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, nonce, version)
		h := btc.BlockHash(&hdr)
		if btc.MeetsTarget(&h, &j.NetworkTarget) == solve {
			return nonce
		}
	}
	t.Fatal("no nonce found")
	return 0
}

func applyTemplate(t testing.TB, m *Manager, tpl *chain.Template) *Job {
	t.Helper()
	seq := m.fetchSeq.Add(1)
	if err := m.apply(fetched{tpl: tpl, seq: seq}, seq, time.Now()); err != nil {
		t.Fatal(err)
	}
	return m.Current()
}

func TestSubmitRejectCodes(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
	n := newFakeNode(tpl)
	m := newTestManager(t, n, nil)
	old := applyTemplate(t, m, tpl)
	en1 := m.NewExtranonce1()
	mk := func(j *Job, en2 byte, mods ...func(*Share)) Share {
		sh := Share{JobID: j.ID, Extranonce1: en1, Extranonce2: []byte{en2, 0, 0, 0, 0, 0, 0, 0}, NTime: j.Time, Target: maxTarget}
		for _, mod := range mods {
			mod(&sh)
		}
		if len(sh.Extranonce2) == 8 {
			sh.Nonce = findNonce(t, j, sh, false)
		}
		return sh
	}
	staleShare := mk(old, 1)
	cur := applyTemplate(t, m, nextTip(tpl, 1))
	if !cur.Clean || cur.PrevHash == old.PrevHash {
		t.Fatal("second template must be a new tip")
	}
	accepted := mk(cur, 2)
	lowDiff := mk(cur, 3)
	lowDiff.Target = btc.Diff1Target
	tests := []struct {
		name     string
		share    Share
		wantKind *stratum.RejectKind // nil = accepted
	}{
		{name: "accepted", share: accepted},
		{name: "duplicate of the same header", share: accepted, wantKind: kind(stratum.RejectDuplicate)},
		{name: "unknown job", share: Share{JobID: "nope", Extranonce1: en1, Extranonce2: make([]byte, 8)}, wantKind: kind(stratum.RejectJobNotFound)},
		{name: "stale job", share: staleShare, wantKind: kind(stratum.RejectStale)},
		{name: "low difficulty", share: lowDiff, wantKind: kind(stratum.RejectLowDifficulty)},
		{name: "ntime out of range", share: mk(cur, 4, func(s *Share) { s.NTime = cur.Time - 1 }), wantKind: kind(stratum.RejectNTime)},
		{name: "version outside mask", share: mk(cur, 5, func(s *Share) { s.Version = cur.Version | 0x2000 }), wantKind: kind(stratum.RejectVersion)},
		{name: "extranonce2 size", share: mk(cur, 6, func(s *Share) { s.Extranonce2 = s.Extranonce2[:7] }), wantKind: kind(stratum.RejectExtranonce)},
		{name: "same en2/ntime/nonce, rolled version: not a duplicate", share: func() Share {
			s := accepted
			s.Version, s.VersionMask = btc.RollVersion(cur.Version, 0x4000, 0x1fffe000), 0x1fffe000
			s.Nonce = findNonce(t, cur, s, false)
			return s
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := m.Submit(context.Background(), tc.share)
			if tc.wantKind == nil {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				if res.Difficulty <= 0 || res.Hash == ([32]byte{}) {
					t.Errorf("result: got %+v", res)
				}
				return
			}
			rej, ok := errors.AsType[*stratum.RejectError](err)
			if !ok {
				t.Fatalf("got %v, want *stratum.RejectError %v", err, *tc.wantKind)
			}
			if rej.Kind != *tc.wantKind {
				t.Errorf("kind: got %v (%s), want %v", rej.Kind, rej.Message(), *tc.wantKind)
			}
			if res.Block != nil {
				t.Errorf("a non-solving share submitted a block")
			}
		})
	}
	if got := len(n.blocks()); got != 0 {
		t.Errorf("blocks submitted: got %d, want 0", got)
	}
}

func TestDuplicateKeyedOnFullHeader(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
	m := newTestManager(t, newFakeNode(tpl), nil)
	j := applyTemplate(t, m, tpl)
	a := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time + 1, Target: maxTarget}
	a.Nonce = findNonce(t, j, a, false)
	b := a
	b.Extranonce1 = m.NewExtranonce1() // another connection, same en2 and nonce
	for i, sh := range []Share{a, b} {
		if _, err := m.Submit(context.Background(), sh); err != nil {
			t.Fatalf("share %d: got %v, want accepted (different header)", i, err)
		}
	}
	// An ntime refresh job shares coinbase and branch: the same header
	// submitted under the new job id is still a duplicate.
	tpl2 := *tpl
	tpl2.CurTime++
	j2 := applyTemplate(t, m, &tpl2)
	if j2.ID == j.ID || j2.Clean {
		t.Fatalf("refresh: got id %s clean %v, want a new non-clean job", j2.ID, j2.Clean)
	}
	c := a
	c.JobID = j2.ID
	if _, err := m.Submit(context.Background(), c); !isKind(err, stratum.RejectDuplicate) {
		t.Errorf("same header via refreshed job: got %v, want duplicate", err)
	}
}

func isKind(err error, k stratum.RejectKind) bool {
	rej, ok := errors.AsType[*stratum.RejectError](err)
	return ok && rej.Kind == k
}

// isCode reports whether err is a rejection sent with Stratum code code.
func isCode(err error, code int) bool {
	rej, ok := errors.AsType[*stratum.RejectError](err)
	return ok && rej.Kind.Code() == code
}

func kind(k stratum.RejectKind) *stratum.RejectKind { return &k }

func TestStaleShareSolvingBlockIsSubmittedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
		n := newFakeNode(tpl)
		m := newTestManager(t, n, nil)
		old := applyTemplate(t, m, tpl)
		applyTemplate(t, m, nextTip(tpl, 1))
		sh := Share{JobID: old.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: old.Time, Target: btc.Diff1Target}
		sh.Nonce = findNonce(t, old, sh, true)
		res, err := submit(t, m, sh)
		if !isKind(err, stratum.RejectStale) || !res.Stale {
			t.Fatalf("got %v (stale %v), want stale rejection 21", err, res.Stale)
		}
		if res.Block == nil || !res.Block.Accepted || res.Block.Height != old.Height {
			t.Fatalf("block: got %+v, want accepted at height %d", res.Block, old.Height)
		}
		// Resubmitting the same stale share must not submit the block again.
		res2, _ := m.Submit(context.Background(), sh)
		if res2.Block == nil || res2.Block.Hash != res.Block.Hash {
			t.Errorf("resubmission: got block %+v, want the settled one", res2.Block)
		}
		blocks := n.blocks()
		if len(blocks) != 1 {
			t.Fatalf("blocks submitted: got %d, want 1", len(blocks))
		}
		msg := decodeBlock(t, blocks[0])
		if [32]byte(msg.Header.PrevBlock) != old.PrevHash || [32]byte(msg.BlockHash()) != res.Block.Hash {
			t.Errorf("submitted block is not the stale job's solution")
		}
	})
}

func TestSolvingShareAcceptedDespiteShareTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
		n := newFakeNode(tpl)
		m := newTestManager(t, n, nil)
		j := applyTemplate(t, m, tpl)
		sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: btc.Diff1Target}
		sh.Nonce = findNonce(t, j, sh, true)
		res, err := submit(t, m, sh)
		if err != nil {
			t.Fatalf("got %v, want accepted (it solves a block)", err)
		}
		if res.Block == nil || !res.Block.Accepted {
			t.Fatalf("block: got %+v", res.Block)
		}
		if _, err := m.Submit(context.Background(), sh); !isKind(err, stratum.RejectDuplicate) {
			t.Errorf("second submit: got %v, want duplicate", err)
		}
		if got := len(n.blocks()); got != 1 {
			t.Errorf("blocks submitted: got %d, want 1", got)
		}
		if st := m.Status(); st.BlocksFound != 1 || st.BlocksAccepted != 1 {
			t.Errorf("status: got %+v", st)
		}
	})
}

func TestBlockSubmissionOutcomes(t *testing.T) {
	rpcDecode := &chain.RPCError{Method: "submitblock", Code: -22, Message: "Block decode failed"}
	tests := []struct {
		name         string
		errs         []error
		result       error
		status       chain.BlockStatus
		wantAccepted bool
		wantResult   string
		wantSubmits  int
	}{
		{name: "accepted first time", wantAccepted: true, wantSubmits: 1},
		{name: "node restarting: refused, warming up, then accepted", errs: []error{errConnRefused, &chain.RPCError{Code: -28, Message: "Loading"}, context.DeadlineExceeded}, wantAccepted: true, wantSubmits: 4},
		{name: "timeout then duplicate (first try had landed)", errs: []error{context.DeadlineExceeded}, result: &chain.BlockKnownError{Result: "duplicate"}, wantAccepted: true, wantResult: "duplicate", wantSubmits: 2},
		{name: "rejected", result: &chain.BlockRejectedError{Reason: "high-hash"}, wantResult: "high-hash", wantSubmits: 1},
		{name: "btcd null but side chain", status: chain.BlockSideChain, wantResult: "side-chain", wantSubmits: 1},
		{name: "btcd null but orphan", status: chain.BlockUnknown, wantResult: "orphan", wantSubmits: 1},
		{name: "definite rpc error is not retried", errs: []error{rpcDecode}, wantResult: rpcDecode.Error(), wantSubmits: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
				n := newFakeNode(tpl)
				n.submitErrs, n.result = tc.errs, tc.result
				if tc.status != 0 || tc.wantResult == "orphan" {
					n.status = tc.status
				}
				m := newTestManager(t, n, nil)
				j := applyTemplate(t, m, tpl)
				sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget}
				sh.Nonce = findNonce(t, j, sh, true)
				res, err := submit(t, m, sh)
				if err != nil {
					t.Fatal(err)
				}
				b := res.Block
				if b == nil || b.Pending {
					t.Fatalf("block: got %+v, want settled", b)
				}
				if b.Accepted != tc.wantAccepted || b.NodeResult != tc.wantResult {
					t.Errorf("got accepted=%v result=%q, want %v %q", b.Accepted, b.NodeResult, tc.wantAccepted, tc.wantResult)
				}
				if got := len(n.blocks()); got != tc.wantSubmits {
					t.Errorf("submissions: got %d, want %d", got, tc.wantSubmits)
				}
			})
		})
	}
}

// TestBlockSubmissionOutlivesRun: Submit returns a solving share's block
// Pending at once; the settler keeps retrying through a node outage and
// through Run's shutdown (up to ShutdownGrace), then publishes the
// outcome on SubscribeBlocks.
func TestBlockSubmissionOutlivesRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
		n := newFakeNode(tpl)
		// The node is down for a while: 8 failures take ~20 s of backoff.
		for range 8 {
			n.submitErrs = append(n.submitErrs, errConnRefused)
		}
		m, err := New(Config{Source: n, Submitter: n, Checker: n, PayoutScript: p2wpkh, Logger: quiet, ShutdownGrace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		blocks, stop := m.SubscribeBlocks()
		defer stop()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		synctest.Wait()
		j := m.Current()
		if j == nil {
			t.Fatal("no job after Run started")
		}
		sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget, Worker: "w1"}
		sh.Nonce = findNonce(t, j, sh, true)
		start := time.Now()
		res, err := m.Submit(context.Background(), sh)
		if err != nil {
			t.Fatal(err)
		}
		if res.Block == nil || !res.Block.Pending || res.Block.Worker != "w1" {
			t.Fatalf("block: got %+v, want pending, by w1", res.Block)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Submit took %v of (fake) time, want 0: it must not wait for the node", d)
		}
		cancel() // shutdown while the block is still being retried
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		// Run waited for the submission to settle.
		if got := len(n.blocks()); got != 9 {
			t.Errorf("submissions: got %d, want 9", got)
		}
		if st := m.Status(); st.BlocksAccepted != 1 {
			t.Errorf("accepted: got %d, want 1", st.BlocksAccepted)
		}
		select {
		case b := <-blocks:
			if !b.Accepted || b.Pending || b.Hash != res.Block.Hash || b.Worker != "w1" {
				t.Errorf("outcome: got %+v, want the block accepted and settled", b)
			}
		default:
			t.Error("no outcome on the block stream")
		}
	})
}

func TestBlockSubmissionGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
		n := newFakeNode(tpl)
		for range 1000 {
			n.submitErrs = append(n.submitErrs, errConnRefused)
		}
		m := newTestManager(t, n, func(c *Config) { c.SubmitRetryFor = time.Minute })
		j := applyTemplate(t, m, tpl)
		sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget}
		sh.Nonce = findNonce(t, j, sh, true)
		start := time.Now()
		res, _ := submit(t, m, sh)
		if res.Block == nil || res.Block.Accepted || res.Block.Pending {
			t.Fatalf("block: got %+v, want given up", res.Block)
		}
		if d := time.Since(start); d < time.Minute {
			t.Errorf("gave up after %v, want SubmitRetryFor (1m)", d)
		}
	})
}

func TestRunPublishesJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_empty")
		n := newFakeNode(tpl)
		m := newTestManager(t, n, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		jobs, unsubscribe := m.Subscribe()
		defer unsubscribe()
		next := func() *Job {
			t.Helper()
			synctest.Wait()
			select {
			case j := <-jobs:
				return j
			default:
				t.Fatal("no job published")
				return nil
			}
		}
		j1 := next()
		if !j1.Clean || j1.Height != tpl.Height || len(j1.Txs) != 0 {
			t.Fatalf("first job: got clean=%v height=%d", j1.Clean, j1.Height)
		}
		// Transactions arrive on the same tip: longpoll returns, update job.
		withTxs := fixtureTemplate(t, "btcd_gbt_mixed_txs")
		withTxs.PrevHash, withTxs.Height = tpl.PrevHash, tpl.Height
		n.set(withTxs)
		j2 := next()
		if j2.Clean || len(j2.Txs) != 6 || j2.ID == j1.ID {
			t.Fatalf("tx update: got clean=%v txs=%d", j2.Clean, len(j2.Txs))
		}
		// A new tip: clean job; the old one is now stale.
		tip := nextTip(withTxs, 0x55)
		n.set(tip)
		j3 := next()
		if !j3.Clean || j3.Height != tip.Height {
			t.Fatalf("new tip: got clean=%v height=%d", j3.Clean, j3.Height)
		}
		sh := Share{JobID: j2.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j2.Time, Target: maxTarget}
		sh.Nonce = findNonce(t, j2, sh, false)
		if _, err := m.Submit(ctx, sh); !isCode(err, stratum.ErrJobNotFound) {
			t.Errorf("share on old tip: got %v, want stale", err)
		}
		// A late reply to a fetch from before the new tip is ignored.
		m.apply(fetched{tpl: withTxs, seq: 1}, 99, time.Now())
		if cur := m.Current(); cur != j3 {
			t.Errorf("older template replaced the current job")
		}
		// Periodic refresh: a newer curtime on the same tip gives an
		// ntime-refresh job without clean_jobs.
		tip2 := *tip
		tip2.CurTime += 30
		n.mu.Lock()
		n.tpl = &tip2 // no longpoll wake-up: only the refresher sees it
		n.mu.Unlock()
		time.Sleep(31 * time.Second)
		j4 := next()
		if j4.Clean || j4.Time != tip2.CurTime {
			t.Errorf("refresh: got clean=%v time=%d, want false %d", j4.Clean, j4.Time, tip2.CurTime)
		}
		if st := m.Status(); st.Height != tip.Height || st.JobID != j4.ID {
			t.Errorf("status: got %+v", st)
		}
	})
}

func TestRunPollsWithoutLongpollAndSurvivesErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tpl := fixtureTemplate(t, "btcd_gbt_empty")
		n := newFakeNode(tpl)
		n.longpoll = false
		n.gbtErrs = 5 // the node is down at first
		m := newTestManager(t, n, func(c *Config) { c.RefreshInterval = time.Hour })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if m.Current() == nil {
			t.Fatal("no job after the node came back")
		}
		n.set(nextTip(tpl, 1))
		time.Sleep(3 * time.Second) // > PollInterval
		synctest.Wait()
		if cur := m.Current(); cur.Height != tpl.Height+1 {
			t.Errorf("polling: got height %d, want %d", cur.Height, tpl.Height+1)
		}
		n.mu.Lock()
		lp := n.lpCalls
		n.mu.Unlock()
		if lp != 0 {
			t.Errorf("longpoll calls: got %d, want 0 without longpollid", lp)
		}
	})
}

func TestSubscribeNewestWinsKeepsClean(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_empty")
	m := newTestManager(t, newFakeNode(tpl), nil)
	jobs, unsubscribe := m.Subscribe()
	applyTemplate(t, m, tpl) // clean, not read
	upd := *tpl
	upd.CurTime++
	j2 := applyTemplate(t, m, &upd) // not clean
	got := <-jobs
	if got.ID != j2.ID || !got.Clean {
		t.Errorf("got id=%s clean=%v, want %s clean (skipped clean job)", got.ID, got.Clean, j2.ID)
	}
	unsubscribe()
	unsubscribe()
	if _, ok := <-jobs; ok {
		t.Error("channel not closed after unsubscribe")
	}
	// A new subscriber gets the current job at once.
	jobs2, unsub2 := m.Subscribe()
	defer unsub2()
	if j := <-jobs2; j.ID != j2.ID {
		t.Errorf("new subscriber: got %s, want %s", j.ID, j2.ID)
	}
}

func TestNewExtranonce1Unique(t *testing.T) {
	m := newTestManager(t, newFakeNode(nil), nil)
	seen := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				en1 := m.NewExtranonce1()
				if len(en1) != 4 {
					t.Errorf("len: got %d, want 4", len(en1))
				}
				mu.Lock()
				if seen[string(en1)] {
					t.Errorf("duplicate extranonce1 %x", en1)
				}
				seen[string(en1)] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestConfigValidate(t *testing.T) {
	n := newFakeNode(nil)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "ok", cfg: Config{Source: n, Submitter: n, PayoutScript: p2wpkh}, ok: true},
		{name: "no source", cfg: Config{Submitter: n, PayoutScript: p2wpkh}},
		{name: "no submitter", cfg: Config{Source: n, PayoutScript: p2wpkh}},
		{name: "no payout", cfg: Config{Source: n, Submitter: n}},
		{name: "en1 too big", cfg: Config{Source: n, Submitter: n, PayoutScript: p2wpkh, Extranonce1Size: 9}},
		{name: "negative duration", cfg: Config{Source: n, Submitter: n, PayoutScript: p2wpkh, PollInterval: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNodeResetToLowerHeight(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
	m := newTestManager(t, newFakeNode(tpl), nil)
	high := applyTemplate(t, m, tpl)
	// The node restarts on a fresh regtest chain: a later fetch reports
	// height 1 on another parent. It must be followed, not ignored.
	fresh := *tpl
	fresh.Height, fresh.PrevHash = 1, [32]byte{0x06}
	j := applyTemplate(t, m, &fresh)
	if j == high || j.Height != 1 || !j.Clean {
		t.Fatalf("after node reset: got height %d clean %v, want a clean job at 1", j.Height, j.Clean)
	}
}
