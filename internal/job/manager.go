package job

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/store"
)

// Config configures a Manager. Defaults are applied by New.
type Config struct {
	// Source provides block templates; required.
	Source TemplateSource
	// Submitter submits found blocks; required.
	Submitter BlockSubmitter
	// Checker verifies that blocks the node did not reject are in its main
	// chain and reports their depth, by which found blocks are followed
	// (*chain.Client: pass the same client as Source, Submitter and
	// Checker). Nil: such blocks count as accepted unverified and are not
	// followed.
	Checker BlockChecker
	// Store, if set, keeps the block records (bucket "blocks") across
	// restarts: each is written, fsynced, before Submit answers the share
	// that found it and again at each change of state. New loads them.
	// The caller opens and closes it.
	Store *store.DB
	// BlockMaturity is the depth at which a found block counts as buried
	// (confirmed) and is no longer followed; until then a block that
	// leaves the node's main chain is marked orphaned. Default 100 (the
	// coinbase maturity of every network).
	BlockMaturity int
	// BlockCheckInterval is how often found blocks are re-checked besides
	// at each new tip. Default 30 s.
	BlockCheckInterval time.Duration
	// PayoutScript is the coinbase output script; required.
	PayoutScript []byte
	// Tag is put in the coinbase scriptSig (e.g. "/hashfleet/").
	Tag []byte
	// Extranonce1Size (default 4) and Extranonce2Size (default 8), bytes.
	Extranonce1Size, Extranonce2Size int
	// PollInterval paces plain getblocktemplate polling when the node
	// offers no longpoll or longpoll fails; default 2s.
	PollInterval time.Duration
	// RefreshInterval is how often a fresh template is fetched to pick up
	// new transactions and a newer ntime on the same tip; default 30s.
	RefreshInterval time.Duration
	// MaxJobs is how many recent jobs are kept for share lookup; default 64.
	MaxJobs int
	// SubmitRetryFor is how long a block submission is retried through
	// node errors and restarts; default 10m.
	SubmitRetryFor time.Duration
	// ShutdownGrace is how long pending block submissions keep retrying
	// after Run's context is cancelled; default 15s.
	ShutdownGrace time.Duration
	// MaxDupEntries bounds the duplicate-share memory; default 1<<21.
	MaxDupEntries int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Validate reports whether cfg is usable. It does not modify cfg.
func (cfg Config) Validate() error {
	switch {
	case cfg.Source == nil:
		return errors.New("job: config: Source is required")
	case cfg.Submitter == nil:
		return errors.New("job: config: Submitter is required")
	case len(cfg.PayoutScript) == 0:
		return errors.New("job: config: PayoutScript is required")
	}
	switch {
	case cfg.Extranonce1Size < 0 || cfg.Extranonce1Size > 8:
		return errors.New("job: config: Extranonce1Size must be 1..8")
	case cfg.Extranonce2Size < 0 || cfg.Extranonce2Size > 16:
		return errors.New("job: config: Extranonce2Size must be 1..16")
	case cfg.PollInterval < 0 || cfg.RefreshInterval < 0 || cfg.SubmitRetryFor < 0 || cfg.ShutdownGrace < 0 || cfg.BlockCheckInterval < 0:
		return errors.New("job: config: negative duration")
	case cfg.MaxJobs < 0 || cfg.MaxDupEntries < 0 || cfg.BlockMaturity < 0:
		return errors.New("job: config: negative limit")
	}
	return nil
}

// Manager is node mode: it turns a node's block templates into jobs,
// hands out extranonce1 values, validates shares, and owns found blocks:
// it records, submits, retries, verifies, follows and persists them. Run
// drives the template loop, the settler and the follower; Subscribe,
// Current, NewExtranonce1, Submit, SubscribeBlocks, Blocks and Status are
// safe for concurrent use from any goroutine. Proxy is the upstream-pool
// counterpart; both share core.
type Manager struct {
	core
	cfg      Config
	params   BuildParams
	fetchSeq atomic.Uint64
	kick     chan struct{} // buffered(1): fetch a template now
	tipc     chan struct{} // buffered(1): a new tip was published; follow blocks now

	// blockMu guards blocks (every block hash ever submitted, so none is
	// submitted twice), queued (found blocks the settler has not started)
	// and closed (the settler has stopped: a later block is settled on its
	// own, within ShutdownGrace).
	blockMu sync.Mutex
	blocks  map[[32]byte]*blockTask
	queued  []*blockTask
	closed  bool
	wake    chan struct{} // buffered(1): queued is not empty

	blocksOK atomic.Uint64
}

// New returns a Manager for cfg, with the block records of cfg.Store
// loaded (a record that does not decode is a *store.DamagedError). It does
// no network I/O.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Extranonce1Size == 0 {
		cfg.Extranonce1Size = 4
	}
	if cfg.Extranonce2Size == 0 {
		cfg.Extranonce2Size = 8
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.MaxJobs == 0 {
		cfg.MaxJobs = 64
	}
	if cfg.SubmitRetryFor == 0 {
		cfg.SubmitRetryFor = 10 * time.Minute
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 15 * time.Second
	}
	if cfg.MaxDupEntries == 0 {
		cfg.MaxDupEntries = 1 << 21
	}
	if cfg.BlockMaturity == 0 {
		cfg.BlockMaturity = 100
	}
	if cfg.BlockCheckInterval == 0 {
		cfg.BlockCheckInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{
		cfg: cfg,
		params: BuildParams{
			PayoutScript:    cfg.PayoutScript,
			Tag:             cfg.Tag,
			Extranonce1Size: cfg.Extranonce1Size,
			Extranonce2Size: cfg.Extranonce2Size,
		},
		kick:   make(chan struct{}, 1),
		tipc:   make(chan struct{}, 1),
		wake:   make(chan struct{}, 1),
		blocks: make(map[[32]byte]*blockTask),
	}
	if err := m.init(cfg.Logger, cfg.Registerer, cfg.Store, cfg.Extranonce1Size, cfg.MaxJobs, cfg.MaxDupEntries); err != nil {
		return nil, err
	}
	return m, nil
}

// Extranonce2Size is the extranonce2 size miners must use.
func (m *Manager) Extranonce2Size() int { return m.cfg.Extranonce2Size }

// Status returns a snapshot of the manager's state.
func (m *Manager) Status() Status {
	s := m.status()
	s.BlocksAccepted = m.blocksOK.Load()
	return s
}

// fetched is one template and the sequence number of its fetch.
type fetched struct {
	tpl *chain.Template
	seq uint64
}

// Run drives the template loop: a longpoll (or polling) fetcher, a
// periodic refresher, the owner goroutine that turns templates into jobs
// and publishes them, the settler, which submits found blocks one at a
// time in the order they were found, records each outcome and publishes
// it on SubscribeBlocks, and (with a Checker) the follower, which follows
// recorded blocks until they are buried or orphaned.
// It returns when ctx is cancelled, after pending block submissions have
// settled or ShutdownGrace has passed. Run may be called once.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("job: Run called twice")
	}
	defer func() {
		m.waitSettled() // blocks found after the settler stopped
		m.endBlocks()
	}()
	templc := make(chan fetched)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.settleLoop(gctx) })
	g.Go(func() error { return m.longpollLoop(gctx, templc) })
	g.Go(func() error { return m.refreshLoop(gctx, templc) })
	g.Go(func() error { return m.ownerLoop(gctx, templc) })
	if m.cfg.Checker != nil {
		g.Go(func() error { return m.followLoop(gctx) })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// fetch gets one template; it records the fetch sequence before the call.
func (m *Manager) fetch(ctx context.Context, lpid string) (fetched, error) {
	seq := m.fetchSeq.Add(1)
	tpl, err := m.cfg.Source.GetBlockTemplate(ctx, lpid)
	if err != nil {
		if ctx.Err() == nil {
			m.recordErr(err)
		}
		return fetched{}, err
	}
	return fetched{tpl: tpl, seq: seq}, nil
}

func deliver(ctx context.Context, templc chan<- fetched, f fetched) error {
	select {
	case templc <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// longpollLoop keeps a longpoll outstanding, falling back to polling every
// PollInterval when the node gives no longpollid or longpoll fails.
func (m *Manager) longpollLoop(ctx context.Context, templc chan<- fetched) error {
	lpid := ""
	bo := backoff.Backoff{Min: m.cfg.PollInterval / 4, Max: 30 * time.Second}
	for {
		start := time.Now()
		f, err := m.fetch(ctx, lpid)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d := bo.Next()
			m.log.Warn("getblocktemplate failed; retrying", "longpoll", lpid != "", "in", d, "err", err)
			lpid = ""
			if backoff.Sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		if deliver(ctx, templc, f) != nil {
			return nil
		}
		switch {
		case f.tpl.LongPollID == "":
			// No longpoll support: poll.
			if backoff.Sleep(ctx, m.cfg.PollInterval) != nil {
				return nil
			}
		case time.Since(start) < 50*time.Millisecond && f.tpl.LongPollID == lpid:
			// The node returned at once with the same id: do not spin.
			if backoff.Sleep(ctx, m.cfg.PollInterval) != nil {
				return nil
			}
		}
		lpid = f.tpl.LongPollID
	}
}

// refreshLoop fetches a plain template every RefreshInterval and whenever
// kicked (after a block was accepted).
func (m *Manager) refreshLoop(ctx context.Context, templc chan<- fetched) error {
	t := time.NewTicker(m.cfg.RefreshInterval)
	defer t.Stop()
	for tickOrKick(ctx, t, m.kick) {
		f, err := m.fetch(ctx, "")
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			m.log.Warn("template refresh failed", "err", err)
			continue
		}
		if deliver(ctx, templc, f) != nil {
			return nil
		}
	}
	return nil
}

// tickOrKick waits for t's next tick or a signal on kick; it reports false
// once ctx is done.
func tickOrKick(ctx context.Context, t *time.Ticker, kick <-chan struct{}) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-kick:
	}
	return true
}

// ownerLoop is the single writer of m.table.
func (m *Manager) ownerLoop(ctx context.Context, templc <-chan fetched) error {
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-templc:
			m.templates.Add(1)
			seq++
			if err := m.apply(f, seq, time.Now()); err != nil {
				m.recordErr(err)
				m.log.Error("cannot build job from template", "height", f.tpl.Height, "err", err)
			}
		}
	}
}

// apply decides what a fetched template means and publishes a job if
// needed. Only the owner goroutine calls it.
func (m *Manager) apply(f fetched, seq uint64, now time.Time) error {
	old := m.table.Load()
	tpl, cur := f.tpl, old.current
	newTip := cur == nil || tpl.PrevHash != cur.PrevHash
	if cur != nil {
		switch {
		case newTip && tpl.Height <= cur.Height && f.seq < old.tipSeq:
			// A late reply to a fetch that started before the current tip
			// was seen. (A lower tip from a later fetch is real: a reorg
			// or a node restarted on a fresh chain.)
			return nil
		case !newTip && !templateChanged(old.tpl, tpl):
			return nil
		}
	}
	j, err := NewJob(m.jobID(seq), tpl, m.params, newTip, now)
	if err != nil {
		return err
	}
	if j.CommitmentMismatch {
		m.met.commitmentMismatch.Inc()
		m.log.Warn("node's default_witness_commitment differs from ours; using ours", "height", j.Height)
	}
	j.gen = 1
	tipSeq := old.tipSeq
	if cur != nil {
		j.gen = cur.gen
	}
	if newTip {
		j.gen++
		tipSeq = f.seq
		m.log.Info("new tip", "height", j.Height, "prev", btc.HashString(j.PrevHash), "txs", len(j.Txs), "job", j.ID)

	} else {
		m.log.Debug("job update", "height", j.Height, "txs", len(j.Txs), "job", j.ID)
	}
	m.publish(old, j, tpl, tipSeq, false)
	if newTip { // follow found blocks from the new tip
		select {
		case m.tipc <- struct{}{}:
		default:
		}
	}
	return nil
}

// templateChanged reports whether a same-tip template differs enough to be
// worth a new job: other transactions, version, value, or a newer time.
func templateChanged(a, b *chain.Template) bool {
	if a == nil {
		return true
	}
	if a.Version != b.Version || a.Bits != b.Bits || a.CoinbaseValueSats != b.CoinbaseValueSats || len(a.Txs) != len(b.Txs) {
		return true
	}
	for i := range a.Txs {
		if a.Txs[i].WTxID != b.Txs[i].WTxID {
			return true
		}
	}
	return b.CurTime > a.CurTime
}

// Submit validates a share (mining-protocols.md §1.7 order) and, when its
// hash meets the network target, assembles and submits the block at once
// — also for shares rejected as stale, out-of-window or outside the
// version mask. A rejection is returned as a *stratum.RejectError together
// with the Result (Hash, Difficulty, Block set when the header was
// hashed). A block is submitted at most once per hash; node errors are
// retried in the background for SubmitRetryFor. Safe for concurrent use.
func (m *Manager) Submit(ctx context.Context, sh Share) (Result, error) {
	j, v, res := m.verdict(&sh)
	rej := v.Reject
	if rej == nil && !m.dups.add(j.gen, v.Hash) {
		rej = errDuplicate
	}
	if v.Solves && rej != errDuplicate {
		b := m.submitBlock(j, &sh, v)
		res.Block = &b
	}
	if rej == nil && !v.Solves {
		// A share that solves a block is never "low difficulty": on
		// regtest the network target is easier than share difficulty 1.
		rej = CheckTarget(&v.Hash, &sh.Target)
	}
	return m.count(res, rej)
}
