package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Server is the Stratum v1 pool server. Build it with New, run it with Run;
// Stats, Addr, Ready and StatsHandler may be called from any goroutine at
// any time.
type Server struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	ledger  *ledger
	started time.Time

	addr atomic.Pointer[net.TCPAddr]
	cur  atomic.Pointer[broadcastJob] // the job being mined, nil before the first
	ids  atomic.Uint64                // connection ids
	ctx  context.Context              // Run's, for share submission (set before the first connection)
	live sync.WaitGroup               // connections not yet finished

	// mu guards conns, the set of live connections (the broadcaster
	// iterates a snapshot of it), and hosts, the per-address counts.
	mu     sync.Mutex
	conns  map[*conn]struct{}
	hosts  map[string]*host
	sweepc chan struct{} // accept asks tickLoop for a sweep (buffer 1)
}

// broadcastJob is a job with its notify parameters encoded once for all
// sessions.
type broadcastJob struct {
	job    *job.Job
	notify stratum.NotifyBody // the job's notify, encoded once for every session
	since  time.Time
}

// New checks cfg, applies defaults and loads the worker totals of
// cfg.Store (if any). The caller must call Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Extranonce2Size == 0 {
		cfg.Extranonce2Size = cfg.Jobs.Extranonce2Size()
	}
	cfg = cfg.withDefaults()
	if !cfg.ConnsNeedNoFDs {
		limit, err := fdLimit()
		if err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		fit, warn, err := fitMaxConns(cfg.MaxConns, cfg.FDReserve, limit)
		if err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		if warn != "" {
			cfg.Logger.Warn(warn)
			cfg.MaxConns = fit
		}
	}
	cfg.Logger.Info("pool limits", "max_conns", cfg.MaxConns, "max_conns_per_ip", cfg.MaxConnsPerIP,
		"conn_rate_per_ip", cfg.ConnRatePerIP, "conn_burst_per_ip", cfg.ConnBurstPerIP)
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		started: time.Now(),
		ctx:     context.Background(), // Run sets its own
		conns:   make(map[*conn]struct{}),
		hosts:   make(map[string]*host),
		sweepc:  make(chan struct{}, 1),
	}
	var totals map[string]WorkerTotals
	if cfg.Store != nil {
		var err error
		if totals, err = loadTotals(cfg.Store); err != nil {
			return nil, err
		}
		s.log.Info("pool state loaded", "file", cfg.Store.Path(), "workers", len(totals))
	}
	s.ledger = newLedger(s.started, totals, cfg.MaxWorkerNames)
	s.m = newMetrics(cfg.Registerer, func() float64 {
		s.ledger.mu.Lock()
		defer s.ledger.mu.Unlock()
		return s.ledger.total.rate(time.Now())
	})
	if ln := cfg.Listener; ln != nil {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			s.addr.Store(a)
		}
	}
	return s, nil
}

// Addr returns the Stratum listen address, nil until Run has started
// listening (or at once when Config.Listener was given).
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return a
	}
	return nil
}

// Ready returns nil once the server has a job to hand out.
func (s *Server) Ready() error {
	if s.cur.Load() == nil {
		return errors.New("pool: no job yet")
	}
	return nil
}

// Run serves Stratum until ctx is cancelled, then closes every connection,
// waits for in-flight share submissions and writes the worker totals. It
// returns nil on a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("pool: listen %s: %w", s.cfg.Addr, err)
		}
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.addr.Store(a)
	}
	s.log.Info("stratum listening", "addr", ln.Addr().String())
	s.ctx = ctx

	// Subscribed before the first connection, so no outcome is missed.
	blocks, stopBlocks := s.cfg.Jobs.SubscribeBlocks()
	defer stopBlocks()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		<-gctx.Done()
		return ln.Close()
	})
	g.Go(func() error { return s.acceptLoop(gctx, ln) })
	g.Go(func() error { return s.broadcastLoop(gctx) })
	g.Go(func() error { return s.tickLoop(gctx) })
	g.Go(func() error { return s.outcomeLoop(gctx, blocks) })
	err := g.Wait()
	s.closeAll()
	s.live.Wait()
	s.flush()
	if ctx.Err() != nil && (err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled)) {
		s.log.Info("stratum stopped")
		return nil
	}
	return err
}

func (s *Server) acceptLoop(ctx context.Context, ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !acceptBackoff(err) {
				return fmt.Errorf("pool: accept: %w", err)
			}
			// Out of descriptors (or memory): wait instead of spinning, and
			// make room by closing sessions that do not mine.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			s.askSweep()
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 0
		c, reason := s.admit(nc)
		if c == nil {
			s.m.accepts.WithLabelValues(reason).Inc()
			s.ledger.disconnected(reason)
			nc.Close()
			continue
		}
		s.m.accepts.WithLabelValues("accepted").Inc()
		s.m.conns.Inc()
		c.begin()
	}
}

// removeConn forgets a finished connection.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.releaseHost(c.host)
	s.mu.Unlock()
	s.m.conns.Dec()
	s.live.Done()
}

// closeAll ends every connection (shutdown).
func (s *Server) closeAll() {
	for _, c := range s.snapshot() {
		c.cancel(&closeError{Reason: reasonShutdown})
	}
}

// admit applies the connection limits to a new connection: the pool's
// (asking for a sweep of sessions that do not mine when it is full), then
// its address's count and rate. It returns the registered conn, or nil and
// the refusal reason.
func (s *Server) admit(nc net.Conn) (*conn, string) {
	key := hostKey(nc.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.cfg.MaxConns {
		s.askSweep()
		return nil, reasonConnLimit
	}
	if reason := s.admitHost(key, time.Now()); reason != "" {
		return nil, reason
	}
	c := newConn(s, nc)
	c.host = key
	s.conns[c] = struct{}{}
	s.live.Add(1)
	return c, ""
}

// askSweep asks tickLoop to close sessions without recent shares now.
func (s *Server) askSweep() {
	select {
	case s.sweepc <- struct{}{}:
	default:
	}
}

// sweep closes, once the pool is near capacity, the sessions whose last
// accepted share (or connect) is older than ShareTimeout: keeping a slot
// takes mining, not mining.ping.
func (s *Server) sweep(now time.Time, conns []*conn) {
	if float64(len(conns)) < nearCapacity*float64(s.cfg.MaxConns) {
		return
	}
	cutoff := now.Add(-s.cfg.ShareTimeout).UnixNano()
	closed := 0
	for _, c := range conns {
		if c.lastShare.Load() < cutoff {
			c.cancel(&closeError{Reason: reasonNoShares})
			closed++
		}
	}
	if closed > 0 {
		s.log.Warn("near capacity: closed sessions without an accepted share", "closed", closed, "share_timeout", s.cfg.ShareTimeout, "conns", len(conns), "max_conns", s.cfg.MaxConns)
	}
}

// broadcastLoop turns each new job into one pre-encoded notify and sends
// it to every session without waiting for any of them (STYLE R7).
func (s *Server) broadcastLoop(ctx context.Context) error {
	ch, unsubscribe := s.cfg.Jobs.Subscribe()
	defer unsubscribe()
	if j := s.cfg.Jobs.Current(); j != nil {
		s.publish(j)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case j, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return nil // the job manager stopped with us
				}
				return errors.New("pool: job stream closed")
			}
			s.publish(j)
		}
	}
}

// publish makes j the current job and sends it to every session.
func (s *Server) publish(j *job.Job) {
	if old := s.cur.Load(); old != nil && old.job == j {
		return
	}
	start := time.Now()
	bj := &broadcastJob{job: j, notify: notifyBody(j), since: start}
	s.cur.Store(bj)
	conns := s.snapshot()
	fanOut(conns, func(c *conn, scratch *[]byte) { c.pushJob(bj, j.Clean, scratch) })
	s.m.broadcast.Observe(time.Since(start).Seconds())
	s.m.jobs.WithLabelValues(fmt.Sprint(j.Clean)).Inc()
	s.log.Debug("job broadcast", "job", j.ID, "height", j.Height, "clean", j.Clean, "sessions", len(conns), "took", time.Since(start))
}

// tickLoop runs vardiff for idle sessions, closes sessions that do not
// mine when the pool is near capacity, and flushes worker totals.
func (s *Server) tickLoop(ctx context.Context) error {
	vd := time.NewTicker(max(s.cfg.RetargetInterval/4, 100*time.Millisecond))
	defer vd.Stop()
	fl := time.NewTicker(s.cfg.FlushInterval)
	defer fl.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-vd.C:
			conns := s.snapshot()
			for _, c := range conns {
				c.tick(now)
			}
			s.sweep(now, conns)
			s.mu.Lock()
			s.pruneHosts(now)
			s.mu.Unlock()
		case <-s.sweepc:
			s.sweep(time.Now(), s.snapshot())
		case <-fl.C:
			s.flush()
		}
	}
}

// snapshot returns the live connections.
func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// outcomeLoop reads the job source's block outcomes, as broadcastLoop
// reads its jobs, and tells each one to the finder's sessions. It ends
// with ctx or the stream.
func (s *Server) outcomeLoop(ctx context.Context, blocks <-chan job.Block) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case b, ok := <-blocks:
			if !ok {
				return nil
			}
			s.tellFinder(b)
		}
	}
}

// tellFinder sends the outcome of block b, as a client.show_message, to
// every session authorized as its worker, and logs it on each session's
// logger.
func (s *Server) tellFinder(b job.Block) {
	hash := btc.HashString(b.Hash)
	text := fmt.Sprintf("block %d %s accepted by the node", b.Height, hash)
	if !b.Accepted {
		text = fmt.Sprintf("block %d %s not accepted: %s", b.Height, hash, b.NodeResult)
	}
	line, err := stratum.EncodeNotification(stratum.MethodShowMessage, stratum.ShowMessage{Text: text})
	if err != nil {
		s.log.Error("encode block outcome", "err", err)
		return
	}
	for _, c := range s.snapshot() {
		if c.isSession.Load() && c.worker() == b.Worker {
			c.logger().Info("block outcome told to the finder", "height", b.Height, "hash", hash, "accepted", b.Accepted, "node_result", b.NodeResult)
			c.enqueue(line)
		}
	}
}

// flush writes changed worker totals to the data dir.
func (s *Server) flush() {
	if s.cfg.Store == nil {
		return
	}
	dirty := s.ledger.takeDirty()
	if err := writeTotals(s.cfg.Store, dirty); err != nil {
		s.ledger.markDirty(dirty)
		s.log.Error("persist worker totals", "err", err)
	}
}

// Stats returns a snapshot of the pool. Safe for concurrent use.
func (s *Server) Stats() Stats {
	now := time.Now()
	st := Stats{Time: now, Started: s.started}
	if a := s.Addr(); a != nil {
		st.StratumAddr = a.String()
	}
	if bj := s.cur.Load(); bj != nil {
		j := bj.job
		st.Job = &JobInfo{
			ID:       j.ID,
			Height:   j.Height,
			PrevHash: btc.HashString(j.PrevHash),
			Bits:     fmt.Sprintf("%08x", j.Bits),
			NetDiff:  btc.TargetToDifficulty(j.NetworkTarget),
			Txs:      len(j.Txs),
			Since:    bj.since,
		}
	}
	s.mu.Lock()
	st.Connections = len(s.conns)
	for c := range s.conns {
		if c.isSession.Load() {
			st.Sessions++
		}
	}
	s.mu.Unlock()
	s.ledger.fill(&st, now, s.cfg.Jobs.Blocks())
	return st
}

// StatsHandler serves GET /api/stats as JSON. Mount it on the HTTP mux.
func (s *Server) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Stats())
	})
}
