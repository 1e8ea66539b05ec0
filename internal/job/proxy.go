package job

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/store"
	"github.com/hashfleet/hashfleet/internal/stratum"
	"golang.org/x/sync/errgroup"
)

// WorkSource is the proxy-mode source of work: an upstream Stratum pool.
// It is satisfied by *chain.Upstream. Run owns the upstream connection;
// the Manager runs it.
type WorkSource interface {
	Run(ctx context.Context) error
	Work() <-chan chain.UpstreamWork
	// Target is the upstream share target now in force on session.
	Target(session uint64) ([32]byte, bool)
	// Submit forwards a share and waits for the upstream's verdict.
	Submit(ctx context.Context, sh chain.UpstreamShare) error
}

// forwardQueueLen bounds shares waiting to go upstream; forwardParallel
// bounds submissions awaiting an upstream reply.
const (
	forwardQueueLen = 4096
	forwardParallel = 32
)

// ProxyConfig configures a Proxy. Defaults are applied by NewProxy.
type ProxyConfig struct {
	// Upstream is the pool the jobs come from and shares go to; required.
	Upstream WorkSource
	// Extranonce1Size is the prefix of the upstream extranonce2 that
	// tells our connections apart (bytes, default 2); workers get the
	// rest of it as their extranonce2.
	Extranonce1Size int
	// MaxJobs is how many recent jobs are kept for share lookup; default 64.
	MaxJobs int
	// MaxDupEntries bounds the duplicate-share memory; default 1<<21.
	MaxDupEntries int
	// Store, if set, keeps the records of blocks forwarded upstream
	// (bucket "blocks") across restarts, as Config.Store. The caller opens
	// and closes it.
	Store *store.DB
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Validate reports whether cfg is usable. It does not modify cfg.
func (cfg ProxyConfig) Validate() error {
	switch {
	case cfg.Upstream == nil:
		return errors.New("job: proxy config: Upstream is required")
	case cfg.Extranonce1Size < 0 || cfg.Extranonce1Size > 8:
		return errors.New("job: proxy config: Extranonce1Size must be 1..8")
	case cfg.MaxJobs < 0 || cfg.MaxDupEntries < 0:
		return errors.New("job: proxy config: negative limit")
	}
	return nil
}

// Proxy is proxy mode: jobs come from an upstream pool's mining.notify,
// each connection's extranonce1 is a prefix of the upstream extranonce2,
// and shares that meet the upstream target are forwarded to it. It shares
// job publication, Check and the duplicate set with Manager (core); it
// submits no blocks itself: a block-solving share is forwarded and
// recorded as pending ("forwarded upstream"), never followed, and its
// SubscribeBlocks stream stays silent. Run drives it; the other methods
// are safe for concurrent use.
type Proxy struct {
	core
	cfg       ProxyConfig
	fwdq      chan chain.UpstreamShare // shares to forward
	forwarded atomic.Uint64
}

// NewProxy returns a Proxy for cfg. It does no I/O.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Extranonce1Size = cmp.Or(cfg.Extranonce1Size, 2)
	cfg.MaxJobs = cmp.Or(cfg.MaxJobs, 64)
	cfg.MaxDupEntries = cmp.Or(cfg.MaxDupEntries, 1<<21)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Proxy{cfg: cfg, fwdq: make(chan chain.UpstreamShare, forwardQueueLen)}
	if err := m.init(cfg.Logger, cfg.Registerer, cfg.Store, cfg.Extranonce1Size, cfg.MaxJobs, cfg.MaxDupEntries); err != nil {
		return nil, err
	}
	return m, nil
}

// Extranonce2Size is the extranonce2 size of the current upstream job (0
// before the first one); jobs carry their own, which is authoritative.
func (m *Proxy) Extranonce2Size() int {
	if j := m.Current(); j != nil {
		return j.Extranonce2Size
	}
	return 0
}

// Status returns a snapshot of the proxy's state.
func (m *Proxy) Status() Status {
	s := m.status()
	s.Forwarded = m.forwarded.Load()
	return s
}

// Submit validates a share like Manager.Submit, also against the upstream
// pool's version mask, and queues it for the upstream when it meets the
// upstream target (a block-solving share even when locally stale). Safe
// for concurrent use.
func (m *Proxy) Submit(_ context.Context, sh Share) (Result, error) {
	j, v, res := m.verdict(&sh)
	rej := v.Reject
	if rej == nil && (v.Version^j.Version)&^j.Upstream.VersionMask != 0 {
		rej = errUpstreamVersion
	}
	if rej == nil && !m.dups.add(j.gen, v.Hash) {
		rej = errDuplicate
	}
	if rej == nil && !v.Solves {
		rej = CheckTarget(&v.Hash, &sh.Target)
	}
	if j != nil {
		res.Block = m.forward(j, &sh, v, rej)
	}
	return m.count(res, rej)
}

// NewProxyJob builds an immutable job from upstream work. The upstream
// extranonce1 is appended to coinb1; the upstream extranonce2 is split
// into our connection's extranonce1 (prefixSize bytes) and the worker's
// extranonce2 (the rest, at least 2 bytes). It is pure.
func NewProxyJob(id string, w chain.UpstreamWork, prefixSize int, created time.Time) (*Job, error) {
	en2 := w.Extranonce2Size - prefixSize
	if en2 < 2 {
		return nil, fmt.Errorf("job: upstream extranonce2 of %d bytes leaves %d for workers after a %d-byte prefix, want >= 2",
			w.Extranonce2Size, en2, prefixSize)
	}
	n := w.Notify
	target, err := btc.CompactToTarget(n.NBits)
	if err != nil {
		return nil, fmt.Errorf("job: upstream job %s: %w", n.JobID, err)
	}
	coinb1 := make([]byte, 0, len(n.Coinb1)+len(w.Extranonce1))
	coinb1 = append(append(coinb1, n.Coinb1...), w.Extranonce1...)
	return &Job{
		ID:              id,
		Height:          coinbaseHeight(n.Coinb1),
		PrevHash:        n.PrevHash,
		Coinb1:          coinb1,
		Coinb2:          bytes.Clone(n.Coinb2),
		Branch:          n.Branch,
		Version:         n.Version,
		Bits:            n.NBits,
		Time:            n.NTime,
		MinTime:         n.NTime,
		Clean:           n.Clean,
		NetworkTarget:   target,
		Extranonce1Size: prefixSize,
		Extranonce2Size: en2,
		Created:         created,
		Upstream: &UpstreamJob{
			JobID:       n.JobID,
			Session:     w.Session,
			Target:      w.Target,
			VersionMask: w.VersionMask,
		},
	}, nil
}

// coinbaseHeight reads the BIP34 height push at the start of the coinbase
// scriptSig in coinb1 (best effort; 0 when it cannot).
func coinbaseHeight(coinb1 []byte) int64 {
	// version(4) ‖ [marker/flag] ‖ 1 input ‖ prevout(36) ‖ script length ‖ script
	i := 4
	if len(coinb1) > 6 && coinb1[4] == 0 && coinb1[5] == 1 {
		i += 2
	}
	i += 1 + 36 + 1 // input count, prevout, script length (< 0xfd)
	if len(coinb1) <= i {
		return 0
	}
	op := coinb1[i]
	switch {
	case op >= 0x51 && op <= 0x60:
		return int64(op - 0x50)
	case op >= 1 && op <= 8 && len(coinb1) > i+int(op):
		var h int64
		for k := int(op) - 1; k >= 0; k-- {
			h = h<<8 | int64(coinb1[i+1+k])
		}
		return h
	}
	return 0
}

// Run connects to the upstream and turns its work into jobs, forwarding
// queued shares, until ctx is cancelled. Run may be called once.
func (m *Proxy) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("job: Run called twice")
	}
	defer m.endBlocks()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.cfg.Upstream.Run(gctx) })
	g.Go(func() error { return m.proxyOwnerLoop(gctx) })
	g.Go(func() error { return m.forwardLoop(gctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// proxyOwnerLoop turns upstream work into jobs; it is the single writer of
// m.table in proxy mode.
func (m *Proxy) proxyOwnerLoop(ctx context.Context) error {
	var seq uint64
	work := m.cfg.Upstream.Work()
	for {
		select {
		case <-ctx.Done():
			return nil
		case w := <-work:
			m.templates.Add(1)
			seq++
			if err := m.applyUpstream(w, seq, time.Now()); err != nil {
				m.recordErr(err)
				m.log.Error("cannot build job from upstream work", "upstream_job", w.Notify.JobID, "err", err)
			}
		}
	}
}

// applyUpstream publishes a job for upstream work. A new session (a
// reconnect) drops every older job: their extranonce1 is gone.
func (m *Proxy) applyUpstream(w chain.UpstreamWork, seq uint64, now time.Time) error {
	old := m.table.Load()
	cur := old.current
	j, err := NewProxyJob(m.jobID(seq), w, m.cfg.Extranonce1Size, now)
	if err != nil {
		return err
	}
	newSession := cur == nil || cur.Upstream == nil || cur.Upstream.Session != w.Session
	newTip := newSession || w.Notify.Clean || cur.PrevHash != j.PrevHash
	j.Clean = newTip
	j.gen = 1
	if cur != nil {
		j.gen = cur.gen
		if newTip {
			j.gen++
		}
	}
	if newTip {
		m.log.Info("new upstream work", "upstream_job", w.Notify.JobID, "height", j.Height, "prev", btc.HashString(j.PrevHash),
			"new_session", newSession, "job", j.ID)
	}
	m.publish(old, j, nil, 0, newSession)
	return nil
}

// forward queues a proxy-mode share for the upstream when it is worth
// sending: accepted locally (or rejected locally only as stale, when it
// solves a block), same session, and meeting the upstream target. It
// returns the Block record for a block-solving share.
func (m *Proxy) forward(j *Job, sh *Share, v Verdict, rej *stratum.RejectError) *Block {
	if !v.Hashed {
		return nil
	}
	ok := rej == nil || (v.Solves && rej == errStaleJob)
	if !ok {
		return nil
	}
	target := j.Upstream.Target
	if now, live := m.cfg.Upstream.Target(j.Upstream.Session); live && !btc.MeetsTarget(&now, &target) {
		target = now // the current upstream target is easier
	}
	var b *Block
	if v.Solves {
		m.blocksFound.Add(1)
		m.met.blocksFound.Inc()
		b = &Block{Hash: v.Hash, Height: j.Height, Worker: sh.Worker, Pending: true, NodeResult: "forwarded upstream"}
		m.recordFound(*b)
		m.log.Info("share solves a block; forwarding upstream", "hash", btc.HashString(v.Hash), "height", j.Height, "worker", sh.Worker)
	}
	if !v.Solves && !btc.MeetsTarget(&v.Hash, &target) {
		return nil
	}
	en2 := make([]byte, 0, len(sh.Extranonce1)+len(sh.Extranonce2))
	en2 = append(append(en2, sh.Extranonce1...), sh.Extranonce2...)
	us := chain.UpstreamShare{
		Session: j.Upstream.Session, JobID: j.Upstream.JobID, Extranonce2: en2,
		NTime: sh.NTime, Nonce: sh.Nonce, Version: v.Version, BaseVersion: j.Version,
	}
	select {
	case m.fwdq <- us:
		m.forwarded.Add(1)
	default:
		m.met.forwarded.WithLabelValues("queue_full").Inc()
		m.log.Warn("upstream forward queue full; share dropped", "worker", sh.Worker)
	}
	return b
}

// forwardLoop sends queued shares upstream, up to forwardParallel at once.
func (m *Proxy) forwardLoop(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, forwardParallel)
	for {
		var us chain.UpstreamShare
		select {
		case <-ctx.Done():
			return nil
		case us = <-m.fwdq:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Go(func() {
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err := m.cfg.Upstream.Submit(sctx, us)
			switch {
			case err == nil:
				m.met.forwarded.WithLabelValues("accepted").Inc()
			case errors.Is(err, chain.ErrSessionGone):
				m.met.forwarded.WithLabelValues("session_gone").Inc()
			default:
				m.met.forwarded.WithLabelValues("rejected").Inc()
				m.log.Debug("upstream rejected share", "upstream_job", us.JobID, "err", err)
			}
		})
	}
}
