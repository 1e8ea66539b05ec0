package job

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// Config configures a Manager. Defaults are applied by New.
type Config struct {
	// Source provides block templates; required unless Upstream is set.
	Source TemplateSource
	// Submitter submits found blocks; required unless Upstream is set.
	Submitter BlockSubmitter
	// Upstream, when set, puts the Manager in proxy mode: jobs come from
	// an upstream pool's mining.notify, each connection's extranonce1 is
	// a prefix of the upstream extranonce2 (Extranonce1Size bytes, default
	// 2), and shares that meet the upstream target are forwarded to it.
	// Source, Submitter and PayoutScript are then unused.
	Upstream WorkSource
	// Checker verifies accepted blocks are in the main chain; default:
	// Submitter when it implements BlockChecker, else no verification.
	Checker BlockChecker
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
	// SubmitWait is how long Submit waits for a found block's submission
	// to settle before returning it as Pending; default 10s.
	SubmitWait time.Duration
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
	if cfg.Upstream != nil {
		if cfg.Source != nil || cfg.Submitter != nil {
			return errors.New("job: config: Upstream (proxy mode) excludes Source and Submitter")
		}
	} else {
		switch {
		case cfg.Source == nil:
			return errors.New("job: config: Source is required")
		case cfg.Submitter == nil:
			return errors.New("job: config: Submitter is required")
		case len(cfg.PayoutScript) == 0:
			return errors.New("job: config: PayoutScript is required")
		}
	}
	switch {
	case cfg.Extranonce1Size < 0 || cfg.Extranonce1Size > 8:
		return errors.New("job: config: Extranonce1Size must be 1..8")
	case cfg.Extranonce2Size < 0 || cfg.Extranonce2Size > 16:
		return errors.New("job: config: Extranonce2Size must be 1..16")
	case cfg.PollInterval < 0 || cfg.RefreshInterval < 0 || cfg.SubmitWait < 0 || cfg.SubmitRetryFor < 0 || cfg.ShutdownGrace < 0:
		return errors.New("job: config: negative duration")
	case cfg.MaxJobs < 0 || cfg.MaxDupEntries < 0:
		return errors.New("job: config: negative limit")
	}
	return nil
}

// Manager turns templates into jobs, hands out extranonce1 values,
// validates shares and submits blocks. Run drives the template loop;
// Subscribe, Current, NewExtranonce1, Submit and Status are safe for
// concurrent use from any goroutine.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	met     *metrics
	params  BuildParams
	idBase  uint32
	en1Next atomic.Uint64

	table    atomic.Pointer[jobTable] // written only by the owner goroutine
	dups     dupSet
	fetchSeq atomic.Uint64
	kick     chan struct{}            // buffered(1): fetch a template now
	fwdq     chan chain.UpstreamShare // proxy mode: shares to forward
	running  atomic.Bool
	stopping chan struct{} // closed when Run is shutting down

	// subMu guards subs.
	subMu   sync.Mutex
	subs    map[uint64]chan *Job
	nextSub uint64

	// blockMu guards blocks: every block hash ever submitted, so none is
	// submitted twice.
	blockMu sync.Mutex
	blocks  map[[32]byte]*blockTask

	templates   atomic.Uint64
	blocksFound atomic.Uint64
	blocksOK    atomic.Uint64
	forwarded   atomic.Uint64
	lastErr     atomic.Pointer[string]
}

// jobTable is an immutable snapshot of the known jobs.
type jobTable struct {
	byID    map[string]*Job
	order   []string // oldest first
	current *Job
	tpl     *chain.Template
	tipSeq  uint64 // fetch sequence of the template that set the tip
}

// New returns a Manager for cfg. It does no I/O.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Extranonce1Size == 0 {
		cfg.Extranonce1Size = 4
		if cfg.Upstream != nil {
			cfg.Extranonce1Size = 2
		}
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
	if cfg.SubmitWait == 0 {
		cfg.SubmitWait = 10 * time.Second
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
	if cfg.Checker == nil {
		if c, ok := cfg.Submitter.(BlockChecker); ok {
			cfg.Checker = c
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var seed [12]byte
	_, _ = rand.Read(seed[:])
	m := &Manager{
		cfg: cfg,
		log: cfg.Logger,
		met: newMetrics(cfg.Registerer),
		params: BuildParams{
			PayoutScript:    cfg.PayoutScript,
			Tag:             cfg.Tag,
			Extranonce1Size: cfg.Extranonce1Size,
			Extranonce2Size: cfg.Extranonce2Size,
		},
		idBase:   binary.BigEndian.Uint32(seed[:4]),
		kick:     make(chan struct{}, 1),
		fwdq:     make(chan chain.UpstreamShare, forwardQueueLen),
		stopping: make(chan struct{}),
		subs:     make(map[uint64]chan *Job),
		blocks:   make(map[[32]byte]*blockTask),
	}
	m.en1Next.Store(binary.BigEndian.Uint64(seed[4:]))
	m.dups.max = cfg.MaxDupEntries
	m.table.Store(&jobTable{byID: map[string]*Job{}})
	return m, nil
}

// Extranonce2Size is the extranonce2 size miners must use. In proxy mode
// it follows the upstream (0 before the first job); jobs carry their own
// Extranonce2Size, which is authoritative.
func (m *Manager) Extranonce2Size() int {
	if m.cfg.Upstream != nil {
		if j := m.Current(); j != nil {
			return j.Extranonce2Size
		}
		return 0
	}
	return m.cfg.Extranonce2Size
}

// Extranonce1Size is the size of the values NewExtranonce1 returns.
func (m *Manager) Extranonce1Size() int { return m.cfg.Extranonce1Size }

// NewExtranonce1 returns an extranonce1 unique among all values this
// Manager has returned (a counter from a random start, so 2^(8·size)
// connections get distinct values). Safe for concurrent use.
func (m *Manager) NewExtranonce1() []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], m.en1Next.Add(1))
	return append([]byte(nil), b[8-m.cfg.Extranonce1Size:]...)
}

// Current returns the newest job, or nil before the first template.
func (m *Manager) Current() *Job { return m.table.Load().current }

// Subscribe returns a channel that receives each new job (buffer 1,
// newest wins: a slow reader skips intermediate jobs, but a skipped clean
// job turns the next delivered one into a clean copy), starting with the
// current job if any, and a func that unsubscribes and closes the channel.
func (m *Manager) Subscribe() (<-chan *Job, func()) {
	ch := make(chan *Job, 1)
	m.subMu.Lock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = ch
	if cur := m.Current(); cur != nil {
		ch <- cur
	}
	m.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			m.subMu.Lock()
			delete(m.subs, id)
			close(ch)
			m.subMu.Unlock()
		})
	}
}

func (m *Manager) broadcast(j *Job) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for _, ch := range m.subs {
		send := j
		select {
		case old := <-ch:
			if old.Clean && !send.Clean {
				c := *send
				c.Clean = true
				send = &c
			}
		default:
		}
		select {
		case ch <- send:
		default: // cannot happen: only broadcast sends, under subMu
		}
	}
}

// Status is a snapshot for the dashboard and /api/stats.
type Status struct {
	Height         int64   `json:"height"`
	PrevHash       string  `json:"prev_hash"` // display order
	JobID          string  `json:"job_id"`
	Txs            int     `json:"txs"`
	Bits           string  `json:"bits"`
	NetworkDiff    float64 `json:"network_difficulty"`
	Jobs           int     `json:"jobs"`
	Templates      uint64  `json:"templates"`
	BlocksFound    uint64  `json:"blocks_found"`
	BlocksAccepted uint64  `json:"blocks_accepted"`
	// Forwarded counts shares queued for the upstream pool (proxy mode),
	// counted before Submit returns.
	Forwarded uint64    `json:"forwarded,omitempty"`
	LastJob   time.Time `json:"last_job"`
	LastError string    `json:"last_error,omitempty"`
}

// Status returns a snapshot of the manager's state.
func (m *Manager) Status() Status {
	t := m.table.Load()
	s := Status{
		Jobs:           len(t.byID),
		Templates:      m.templates.Load(),
		BlocksFound:    m.blocksFound.Load(),
		BlocksAccepted: m.blocksOK.Load(),
		Forwarded:      m.forwarded.Load(),
	}
	if p := m.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	if j := t.current; j != nil {
		s.Height, s.PrevHash, s.JobID, s.Txs = j.Height, btc.HashString(j.PrevHash), j.ID, len(j.Txs)
		s.Bits = btc.HexUint32(j.Bits)
		s.NetworkDiff = btc.TargetToDifficulty(j.NetworkTarget)
		s.LastJob = j.Created
	}
	return s
}

// fetched is one template and the sequence number of its fetch.
type fetched struct {
	tpl *chain.Template
	seq uint64
}

// Run drives the template loop: a longpoll (or polling) fetcher, a
// periodic refresher, and the owner goroutine that turns templates into
// jobs and publishes them. It returns when ctx is cancelled, after pending
// block submissions have settled or ShutdownGrace has passed. Run may be
// called once.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("job: Run called twice")
	}
	defer func() {
		close(m.stopping)
		m.waitSettled()
	}()
	if m.cfg.Upstream != nil {
		err := m.runProxy(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	templc := make(chan fetched)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.longpollLoop(gctx, templc) })
	g.Go(func() error { return m.refreshLoop(gctx, templc) })
	g.Go(func() error { return m.ownerLoop(gctx, templc) })
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
			m.met.templateErrors.Inc()
			s := err.Error()
			m.lastErr.Store(&s)
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// longpollLoop keeps a longpoll outstanding, falling back to polling every
// PollInterval when the node gives no longpollid or longpoll fails.
func (m *Manager) longpollLoop(ctx context.Context, templc chan<- fetched) error {
	lpid := ""
	backoff := m.cfg.PollInterval / 4
	for {
		start := time.Now()
		f, err := m.fetch(ctx, lpid)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			m.log.Warn("getblocktemplate failed; retrying", "longpoll", lpid != "", "in", backoff, "err", err)
			lpid = ""
			if sleepCtx(ctx, backoff) != nil {
				return nil
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = m.cfg.PollInterval / 4
		if deliver(ctx, templc, f) != nil {
			return nil
		}
		switch {
		case f.tpl.LongPollID == "":
			// No longpoll support: poll.
			if sleepCtx(ctx, m.cfg.PollInterval) != nil {
				return nil
			}
		case time.Since(start) < 50*time.Millisecond && f.tpl.LongPollID == lpid:
			// The node returned at once with the same id: do not spin.
			if sleepCtx(ctx, m.cfg.PollInterval) != nil {
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
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.kick:
		}
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
				m.met.templateErrors.Inc()
				s := err.Error()
				m.lastErr.Store(&s)
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
	id := fmt.Sprintf("%08x%x", m.idBase, seq)
	j, err := NewJob(id, tpl, m.params, newTip, now)
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
	return nil
}

// publish stores a new job table with j as the current job (dropping every
// older job when dropOld) and broadcasts j. Only the owner goroutine calls
// it.
func (m *Manager) publish(old *jobTable, j *Job, tpl *chain.Template, tipSeq uint64, dropOld bool) {
	t := &jobTable{byID: make(map[string]*Job, len(old.byID)+1), current: j, tpl: tpl, tipSeq: tipSeq}
	if !dropOld {
		t.order = append(t.order, old.order...)
		for k, v := range old.byID {
			t.byID[k] = v
		}
	}
	t.order = append(t.order, j.ID)
	t.byID[j.ID] = j
	for len(t.order) > m.cfg.MaxJobs {
		delete(t.byID, t.order[0])
		t.order = t.order[1:]
	}
	newTip := old.current == nil || old.current.gen != j.gen
	if newTip {
		m.dups.reset(j.gen)
		m.met.height.Set(float64(j.Height))
	}
	m.table.Store(t)
	m.met.jobs.WithLabelValues(map[bool]string{true: "clean", false: "update"}[newTip]).Inc()
	m.broadcast(j)
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
// version mask. A rejection is returned as a *stratum.RejectError together with
// the Result (Hash, Difficulty, Block set when the header was hashed).
// A block is submitted at most once per hash; node errors are retried in
// the background for SubmitRetryFor. Safe for concurrent use.
func (m *Manager) Submit(ctx context.Context, sh Share) (Result, error) {
	t := m.table.Load()
	j := t.byID[sh.JobID]
	stale := j != nil && t.current != nil && j.gen != t.current.gen
	v := Check(j, stale, &sh, uint32(time.Now().Unix()))
	var res Result
	if v.Hashed {
		res.Hash = v.Hash
		res.Difficulty = btc.HashDifficulty(v.Hash)
		res.Stale = stale
	}
	rej := v.Reject
	if rej == nil && j.Upstream != nil && (v.Version^j.Version)&^j.Upstream.VersionMask != 0 {
		rej = errUpstreamVersion
	}
	if rej == nil && !m.dups.add(j.gen, v.Hash) {
		rej = errDuplicate
	}
	if v.Solves && rej != errDuplicate && j.Upstream == nil {
		b := m.submitBlock(ctx, j, &sh, v)
		res.Block = &b
	}
	if rej == nil && !v.Solves {
		// A share that solves a block is never "low difficulty": on
		// regtest the network target is easier than share difficulty 1.
		rej = CheckTarget(&v.Hash, &sh.Target)
	}
	if j != nil && j.Upstream != nil {
		res.Block = m.forward(j, &sh, v, rej)
	}
	if rej != nil {
		m.met.shares.WithLabelValues(rej.Kind.String()).Inc()
		return res, rej
	}
	m.met.sharesAccepted.Inc()
	return res, nil
}

// dupSet remembers share hashes (SHA-256d of the full 80-byte header, so
// the version, ntime, nonce and both extranonces are all part of the key)
// for the current tip. Memory is bounded by rotating two generations.
type dupSet struct {
	max int
	// mu guards the fields below.
	mu   sync.Mutex
	tip  uint64 // tip generation
	cur  map[[32]byte]struct{}
	prev map[[32]byte]struct{}
}

func (d *dupSet) reset(tip uint64) {
	d.mu.Lock()
	d.tip, d.cur, d.prev = tip, make(map[[32]byte]struct{}), nil
	d.mu.Unlock()
}

// add records h for tip and reports whether it was new. Hashes for another
// tip (a race with a tip change) are not recorded and count as new.
func (d *dupSet) add(tip uint64, h [32]byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tip != d.tip || d.cur == nil {
		return true
	}
	if _, ok := d.cur[h]; ok {
		return false
	}
	if _, ok := d.prev[h]; ok {
		return false
	}
	if len(d.cur) >= d.max/2 {
		d.prev, d.cur = d.cur, make(map[[32]byte]struct{}, len(d.cur))
	}
	d.cur[h] = struct{}{}
	return true
}
