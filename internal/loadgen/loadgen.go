package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
)

// Config describes one load run. Zero values take the documented defaults.
type Config struct {
	// Sessions is how many Stratum sessions to open. Required (> 0).
	Sessions int
	// Submitters is how many of them submit shares (the first ones opened).
	Submitters int
	// ShareInterval is the mean time between one submitter's shares.
	// Default 5 s. Each submitter starts at a random offset within it.
	ShareInterval time.Duration
	// Difficulty is asked for with mining.suggest_difficulty, so that a
	// share costs little hashing here (1e-7: ~430 double SHA-256 per
	// share). Shares that would also meet the network target are never
	// sent: the load itself never moves the chain. Default 1e-7.
	Difficulty float64
	// Hold is how long the sessions stay open, submitting, once all are
	// up (or ConnectTimeout passed). Default 30 s.
	Hold time.Duration
	// ConnectTimeout bounds the connect phase. Default 2 min.
	ConnectTimeout time.Duration
	// Concurrency is how many sessions are being opened at once.
	// Default 128.
	Concurrency int
	// ConnectRate paces new connections (per second, all sources
	// together); 0 opens them as fast as Concurrency allows. A pool limits
	// new connections per address (hashfleet: 20/s, burst 100), and closes
	// the excess at once, as it should.
	ConnectRate float64
	// Tips is how many new chain tips Tip makes during Hold, evenly
	// spaced; the clean mining.notify of each is timed at every session.
	Tips int
	// Tip makes the node's chain move (e.g. generatetoaddress on a
	// regtest node). Required when Tips > 0.
	Tip func(ctx context.Context) error
	// Dial opens session i's connection. Required.
	Dial func(ctx context.Context, i int) (net.Conn, error)
	// User and Password are sent in mining.authorize; User gets ".i"
	// appended for session i. Default user "loadgen".
	User, Password string
	// Memory, if set, is read before the first connection and once all
	// sessions are up (e.g. the server's RSS), to report the cost per
	// session.
	Memory func() (int64, error)
	// Logger receives progress. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Sessions <= 0 {
		return c, errors.New("loadgen: Sessions must be > 0")
	}
	if c.Submitters < 0 || c.Submitters > c.Sessions {
		return c, fmt.Errorf("loadgen: Submitters %d must be within 0..Sessions (%d)", c.Submitters, c.Sessions)
	}
	if c.Dial == nil {
		return c, errors.New("loadgen: Dial is required")
	}
	if c.Tips > 0 && c.Tip == nil {
		return c, errors.New("loadgen: Tips > 0 needs Tip")
	}
	if c.ConnectRate < 0 || c.ConnectRate != c.ConnectRate {
		return c, fmt.Errorf("loadgen: ConnectRate %v must be >= 0", c.ConnectRate)
	}
	if c.Difficulty < 0 || c.Difficulty != c.Difficulty {
		return c, fmt.Errorf("loadgen: Difficulty %v must be a positive number", c.Difficulty)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ShareInterval, 5*time.Second)
	def(&c.Hold, 30*time.Second)
	def(&c.ConnectTimeout, 2*time.Minute)
	if c.Difficulty == 0 {
		c.Difficulty = 1e-7
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 128
	}
	if c.User == "" {
		c.User = "loadgen"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Run opens the sessions, holds them for cfg.Hold while the submitters
// submit and the tips are made, closes them all and reports. It stops by
// itself; ctx ends it early (the report then covers what was done).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := newRun(cfg)
	if cfg.Memory != nil {
		if r.memBefore, err = cfg.Memory(); err != nil {
			return nil, fmt.Errorf("loadgen: memory before: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx = ctx
	r.connect(ctx)
	if cfg.Memory != nil {
		// Let the server settle (handshake garbage, buffers) before reading.
		time.Sleep(time.Second)
		if r.memAfter, err = cfg.Memory(); err != nil {
			r.errorf("memory after: %v", err)
		}
	}
	r.hold(ctx)
	cancel()
	r.closeAll()
	r.readers.Wait()
	return r.report(), nil
}

// run is the shared state of one load run.
type run struct {
	cfg       Config
	ctx       context.Context // the run's; done once the hold ends
	readers   sync.WaitGroup  // sessions still reading
	start     time.Time
	memBefore int64
	memAfter  int64

	up        atomic.Int64 // sessions whose first job arrived
	upDone    chan struct{}
	upOnce    sync.Once
	lastUp    atomic.Int64 // unix nanos of the latest session up
	submitGo  chan struct{}
	mu        sync.Mutex
	sessions  []*session
	connectNS []int64                   // per session: dial → first job
	shareNS   []int64                   // accepted or rejected share round trips
	tipCalls  []time.Time               // when each Tip call began
	tipSeen   map[string]*tipRecord     // new prevhash (as sent) → its receipts
	lastTip   atomic.Pointer[tipRecord] // the newest in tipSeen: newTip's path without r.mu
	errs      map[string]int            // error text → count
	counts    map[string]int64          // shares sent/accepted/rejected
}

// tipRecord is one new chain tip as the sessions saw it.
type tipRecord struct {
	prev     string
	n        atomic.Int64 // receipts so far
	received []int64      // unix nanos at each session that read its notify: [:n], one slot per session
}

// receipts returns the receipts recorded (once the sessions are done).
func (t *tipRecord) receipts() []int64 { return t.received[:min(t.n.Load(), int64(len(t.received)))] }

func newRun(cfg Config) *run {
	return &run{
		cfg:      cfg,
		upDone:   make(chan struct{}),
		submitGo: make(chan struct{}),
		errs:     map[string]int{},
		tipSeen:  map[string]*tipRecord{},
		counts:   map[string]int64{},
	}
}

func (r *run) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.errs[msg]++
	r.mu.Unlock()
}

func (r *run) count(name string) {
	r.mu.Lock()
	r.counts[name]++
	r.mu.Unlock()
}

// connect opens every session with cfg.Concurrency dialers and waits until
// all are up, the connect timeout passes or ctx ends.
func (r *run) connect(ctx context.Context) {
	r.start = time.Now()
	next := make(chan int)
	var dialers sync.WaitGroup
	for range r.cfg.Concurrency {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for i := range next {
				r.open(ctx, i)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range r.cfg.Sessions {
			if r.cfg.ConnectRate > 0 {
				at := r.start.Add(time.Duration(float64(i) / r.cfg.ConnectRate * float64(time.Second)))
				if !sleepUntil(ctx, at) {
					return
				}
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	timer := time.NewTimer(r.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-r.upDone:
	case <-timer.C:
		r.errorf("connect phase: %d of %d sessions up after %v", r.up.Load(), r.cfg.Sessions, r.cfg.ConnectTimeout)
	case <-ctx.Done():
	}
	r.cfg.Logger.Info("loadgen: sessions up", "up", r.up.Load(), "of", r.cfg.Sessions, "in", time.Since(r.start).Round(time.Millisecond))
	dialers.Wait()
}

// open dials session i and starts its reader; the dial itself is bounded so
// one stuck connect does not hold a dialer forever.
func (r *run) open(ctx context.Context, i int) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t0 := time.Now()
	nc, err := r.cfg.Dial(dctx, i)
	if err != nil {
		r.errorf("dial: %v", trimAddr(err))
		return
	}
	s := newSession(r, i, nc, t0)
	r.mu.Lock()
	r.sessions = append(r.sessions, s)
	r.mu.Unlock()
	if err := s.handshake(); err != nil {
		r.errorf("handshake: %v", err)
		nc.Close()
		return
	}
	r.readers.Add(1)
	s.serve(ctx)
}

// sessionUp records that session s got its first job.
func (r *run) sessionUp(s *session, now time.Time) {
	r.mu.Lock()
	r.connectNS = append(r.connectNS, int64(now.Sub(s.opened)))
	r.mu.Unlock()
	r.lastUp.Store(now.UnixNano())
	if r.up.Add(1) == int64(r.cfg.Sessions) {
		r.upOnce.Do(func() { close(r.upDone) })
	}
}

// hold lets the submitters run and makes the tips, for cfg.Hold.
func (r *run) hold(ctx context.Context) {
	close(r.submitGo)
	end := time.Now().Add(r.cfg.Hold)
	for k := range r.cfg.Tips {
		// Tips at (k+1)/(Tips+1) of the hold, so each has time to spread.
		at := end.Add(-r.cfg.Hold * time.Duration(r.cfg.Tips-k) / time.Duration(r.cfg.Tips+1))
		if !sleepUntil(ctx, at) {
			return
		}
		r.makeTip(ctx)
	}
	sleepUntil(ctx, end)
}

func (r *run) makeTip(ctx context.Context) {
	r.mu.Lock()
	r.tipCalls = append(r.tipCalls, time.Now())
	r.mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.cfg.Tip(tctx); err != nil {
		r.errorf("tip: %v", err)
	}
}

// newTip records that a session read a clean notify on a new prevhash.
// Tips are told apart by their prevhash, not by when they were made: on a
// loaded machine one tip's fan-out can outlast the next Tip call.
// At 100,000 sessions this runs 100,000 times per tip from the pool's
// fan-out workers: the newest tip's receipts take no lock.
func (r *run) newTip(prev []byte, now time.Time) {
	rec := r.lastTip.Load()
	if rec == nil || rec.prev != string(prev) {
		r.mu.Lock()
		if rec = r.tipSeen[string(prev)]; rec == nil {
			rec = &tipRecord{prev: string(prev), received: make([]int64, r.cfg.Sessions)}
			r.tipSeen[rec.prev] = rec
			r.lastTip.Store(rec)
		}
		r.mu.Unlock()
	}
	if i := rec.n.Add(1) - 1; i < int64(len(rec.received)) {
		rec.received[i] = now.UnixNano()
	}
}

func (r *run) shareDone(rtt time.Duration, accepted bool, reason string) {
	r.mu.Lock()
	r.shareNS = append(r.shareNS, int64(rtt))
	if accepted {
		r.counts["accepted"]++
	} else {
		r.counts["rejected"]++
		r.errs["share rejected: "+reason]++
	}
	r.mu.Unlock()
}

func (r *run) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		s.close()
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	return backoff.Sleep(ctx, time.Until(t)) == nil
}

// trimAddr keeps error texts countable: a dial error names the source
// port, which differs every time.
func trimAddr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// sortedCopy returns v sorted ascending.
func sortedCopy(v []int64) []int64 {
	out := append([]int64(nil), v...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
