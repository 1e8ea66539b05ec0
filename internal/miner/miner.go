package miner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// Miner is a Stratum worker. Build it with New and run it with Run; Stats
// may be called from any goroutine.
type Miner struct {
	pools   []poolTarget
	impl    sha256d.Impl
	log     *slog.Logger
	cfg     Config // with defaults applied
	met     *metrics
	started time.Time

	statsInterval time.Duration
	quiet         bool

	threads []thread
	cur     atomic.Pointer[work] // work the threads hash; nil = idle
	wakeMu  sync.Mutex
	wake    chan struct{} // closed and replaced on every publish
	found   chan found    // threads -> session
	sessSeq atomic.Uint64
	stats   counters
	running atomic.Bool
}

type poolTarget struct {
	ep       Endpoint
	user     string
	password string
}

// New validates cfg, applies defaults and returns a Miner.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Miner{started: time.Now(), log: cfg.Logger, wake: make(chan struct{}), found: make(chan found, 1024)}
	for _, p := range cfg.Pools {
		ep, user, pass, _ := ParseURL(p.URL)
		t := poolTarget{ep: ep, user: p.User, password: p.Password}
		if user != "" {
			t.user = user
			t.password = pass
		}
		m.pools = append(m.pools, t)
	}
	if cfg.Impl.Scan == nil {
		im, err := sha256d.Lookup("auto")
		if err != nil {
			return nil, fmt.Errorf("miner: %w", err)
		}
		cfg.Impl = im
	}
	m.impl = cfg.Impl
	if cfg.Threads == 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hashfleet"
	}
	cfg.MinBackoff = orDuration(cfg.MinBackoff, time.Second)
	cfg.MaxBackoff = orDuration(cfg.MaxBackoff, time.Minute)
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	cfg.DialTimeout = orDuration(cfg.DialTimeout, 10*time.Second)
	cfg.HandshakeTimeout = orDuration(cfg.HandshakeTimeout, 30*time.Second)
	cfg.IdleTimeout = orDuration(cfg.IdleTimeout, 10*time.Minute)
	cfg.KeepAlive = orDuration(cfg.KeepAlive, 30*time.Second)
	cfg.WriteTimeout = orDuration(cfg.WriteTimeout, 10*time.Second)
	cfg.StatsInterval = orDuration(cfg.StatsInterval, 30*time.Second)
	if cfg.batch == 0 {
		cfg.batch = defaultBatch
	}
	if cfg.nonceSpan == 0 || cfg.nonceSpan > defaultNonceSpan {
		cfg.nonceSpan = defaultNonceSpan
	}
	m.cfg = cfg
	m.statsInterval = cfg.StatsInterval
	m.quiet = cfg.Quiet
	m.threads = make([]thread, cfg.Threads)
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m.met = newMetrics(reg, m)
	return m, nil
}

// Threads returns the number of hashing goroutines.
func (m *Miner) Threads() int { return len(m.threads) }

// Impl returns the sha256d implementation in use.
func (m *Miner) Impl() sha256d.Impl { return m.impl }

// Ready reports nil once a pool session is authorized and a job is being
// hashed (for /readyz).
func (m *Miner) Ready() error {
	if m.cur.Load() == nil {
		return errors.New("miner: no job from a pool yet")
	}
	return nil
}

// Run mines until ctx is cancelled, then stops every goroutine it started
// and returns nil. It may be called once.
func (m *Miner) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("miner: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.log.Info("miner starting", "threads", len(m.threads), "impl", m.impl.Name, "pools", len(m.pools))
	var wg sync.WaitGroup
	for i := range m.threads {
		wg.Go(func() { m.hashLoop(ctx, i) })
	}
	wg.Go(func() { m.statsLoop(ctx) })
	err := m.connectLoop(ctx)
	cancel()
	m.publish(nil)
	wg.Wait()
	m.log.Info("miner stopped", "accepted", m.stats.accepted.Load(), "rejected", m.stats.rejected.Load())
	return err
}

// reconnectError is a session ending because the pool sent client.reconnect.
type reconnectError struct {
	ep   Endpoint
	wait time.Duration
}

func (e *reconnectError) Error() string {
	return fmt.Sprintf("miner: pool asked to reconnect to %s in %v", e.ep, e.wait)
}

// connectLoop runs sessions: pools in order; after a full pass of failures
// it sleeps a capped, jittered exponential backoff; after a session that
// worked it starts again from the first pool; client.reconnect redirects
// the next attempt.
func (m *Miner) connectLoop(ctx context.Context) error {
	idx, failures := 0, 0
	var redirect *Endpoint
	for ctx.Err() == nil {
		p := m.pools[idx]
		if redirect != nil {
			p.ep = *redirect
			redirect = nil
		}
		worked, err := m.runSession(ctx, p)
		if ctx.Err() != nil {
			return nil
		}
		var rc *reconnectError
		switch {
		case errors.As(err, &rc):
			m.log.Info("pool requested reconnect", "to", rc.ep.String(), "wait", rc.wait)
			redirect = &rc.ep
			failures = 0
			if backoff.Sleep(ctx, rc.wait) != nil {
				return nil
			}
			continue
		case worked:
			m.log.Warn("pool connection lost", "pool", p.ep.String(), "err", err)
			idx, failures = 0, 0
		default:
			m.log.Warn("pool connection failed", "pool", p.ep.String(), "err", err)
			idx = (idx + 1) % len(m.pools)
			if idx != 0 {
				continue // fail over to the next pool at once
			}
			failures++
		}
		d := backoff.Jitter(backoff.Delay(failures, m.cfg.MinBackoff, m.cfg.MaxBackoff), rand.Float64())
		m.log.Info("retrying", "pool", m.pools[idx].ep.String(), "in", d.Round(time.Millisecond))
		if backoff.Sleep(ctx, d) != nil {
			return nil
		}
	}
	return nil
}

// dial connects to ep, with TLS for stratum+ssl endpoints.
func (m *Miner) dial(ctx context.Context, ep Endpoint) (net.Conn, error) {
	d := net.Dialer{Timeout: m.cfg.DialTimeout, KeepAlive: m.cfg.KeepAlive}
	conn, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, fmt.Errorf("miner: dial %s: %w", ep, err)
	}
	if !ep.TLS {
		return conn, nil
	}
	var tc *tls.Config
	if m.cfg.TLSConfig != nil {
		tc = m.cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = ep.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	tlsConn := tls.Client(conn, tc)
	hctx, cancel := context.WithTimeout(ctx, m.cfg.DialTimeout)
	defer cancel()
	if err := tlsConn.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("miner: tls handshake with %s: %w", ep, err)
	}
	return tlsConn, nil
}
