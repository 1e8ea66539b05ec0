package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// UpstreamConfig configures an Upstream (proxy mode).
type UpstreamConfig struct {
	// URL of the upstream pool: stratum+tcp://host:port (or tcp://, or
	// host:port).
	URL string
	// User and Password for mining.authorize.
	User, Password string
	// UserAgent sent with mining.subscribe; default "hashfleet".
	UserAgent string
	// VersionMask is the BIP310 mask asked for with mining.configure; 0
	// asks for no version rolling.
	VersionMask uint32
	// DialTimeout (default 10s), RequestTimeout for subscribe, authorize
	// and submit replies (default 15s) and IdleTimeout, after which a
	// silent connection is dropped (default 5m).
	DialTimeout, RequestTimeout, IdleTimeout time.Duration
	// BackoffMax caps the reconnect backoff; default 30s.
	BackoffMax time.Duration
	// Logger; default slog.Default(). Registerer; nil registers nothing.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Validate reports whether cfg is usable. It does not modify cfg.
func (cfg UpstreamConfig) Validate() error {
	if _, err := upstreamAddr(cfg.URL); err != nil {
		return err
	}
	if cfg.User == "" {
		return errors.New("chain: upstream: User is required")
	}
	if cfg.DialTimeout < 0 || cfg.RequestTimeout < 0 || cfg.IdleTimeout < 0 || cfg.BackoffMax < 0 {
		return errors.New("chain: upstream: negative duration")
	}
	return nil
}

func upstreamAddr(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("chain: upstream: URL is required")
	}
	if !strings.Contains(raw, "://") {
		raw = "stratum+tcp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("chain: upstream: URL: %w", err)
	}
	if u.Scheme != "stratum+tcp" && u.Scheme != "tcp" {
		return "", fmt.Errorf("chain: upstream: scheme %q, want stratum+tcp", u.Scheme)
	}
	if u.Port() == "" || u.Hostname() == "" {
		return "", errors.New("chain: upstream: URL needs host:port")
	}
	return u.Host, nil
}

// UpstreamWork is one mining.notify from the upstream pool together with
// the connection state it belongs to. Immutable.
type UpstreamWork struct {
	Notify stratum.Notify
	// Session numbers upstream connections; shares must be sent on the
	// session their work came from.
	Session         uint64
	Extranonce1     []byte // upstream's extranonce1 for this session
	Extranonce2Size int    // upstream's extranonce2 size
	// Target is the upstream share target in force when the job arrived.
	Target [32]byte
	// VersionMask is the mask the upstream granted (0: no rolling).
	VersionMask uint32
}

// UpstreamShare is a share forwarded upstream.
type UpstreamShare struct {
	Session     uint64
	JobID       string // upstream job id
	Extranonce2 []byte // full upstream extranonce2
	NTime       uint32
	Nonce       uint32
	Version     uint32 // full rolled version; bits outside the mask are ignored
	BaseVersion uint32 // the job's version
}

// ErrSessionGone is returned by Upstream.Submit for a share whose session
// has been replaced by a reconnect.
var ErrSessionGone = errors.New("chain: upstream: session gone (reconnected)")

// Upstream is a Stratum v1 client of an upstream pool: the server's work
// source in proxy mode. Run owns the connection; Work, Target and Submit
// are safe for concurrent use.
type Upstream struct {
	cfg  UpstreamConfig
	addr string
	log  *slog.Logger
	work chan UpstreamWork

	submitted *prometheus.CounterVec // result
	reconnect prometheus.Counter
	connected prometheus.Gauge

	nextID  atomic.Uint64 // request ids
	sessSeq atomic.Uint64

	// mu guards the current session.
	mu   sync.Mutex
	sess *upSession
}

// upSession is one upstream connection's state.
type upSession struct {
	id      uint64
	w       *stratum.Writer
	en1     []byte
	en2Size int
	mask    uint32
	// dmu orders job delivery (early notifies before later ones).
	dmu sync.Mutex
	// pmu guards the fields below.
	pmu     sync.Mutex
	pending map[uint64]chan *stratum.Response
	target  [32]byte
	closed  bool
	ready   bool             // handshake done: notifies are delivered
	early   []stratum.Notify // notifies received before ready
}

// NewUpstream returns an Upstream for cfg. It does not connect; Run does.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	addr, _ := upstreamAddr(cfg.URL)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hashfleet"
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := promauto.With(cfg.Registerer)
	return &Upstream{
		cfg:  cfg,
		addr: addr,
		log:  cfg.Logger.With("upstream", addr),
		work: make(chan UpstreamWork, 64),
		submitted: f.NewCounterVec(prometheus.CounterOpts{Namespace: "hashfleet", Subsystem: "upstream", Name: "shares_total",
			Help: "Shares forwarded to the upstream pool, by result (accepted, rejected, error)."}, []string{"result"}),
		reconnect: f.NewCounter(prometheus.CounterOpts{Namespace: "hashfleet", Subsystem: "upstream", Name: "connects_total",
			Help: "Connections made to the upstream pool."}),
		connected: f.NewGauge(prometheus.GaugeOpts{Namespace: "hashfleet", Subsystem: "upstream", Name: "connected",
			Help: "1 while subscribed and authorized upstream."}),
	}, nil
}

// Work delivers upstream jobs in order. If the reader falls 64 jobs
// behind, the oldest queued job is dropped.
func (u *Upstream) Work() <-chan UpstreamWork { return u.work }

// Run connects, subscribes and authorizes, then reads until the
// connection fails, and reconnects with backoff, until ctx is cancelled.
func (u *Upstream) Run(ctx context.Context) error {
	bo := backoff.Backoff{Min: min(250*time.Millisecond, u.cfg.BackoffMax), Max: u.cfg.BackoffMax}
	for {
		start := time.Now()
		err := u.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			bo.Reset()
		}
		sleep := bo.Next()
		u.log.Warn("upstream connection lost; reconnecting", "in", sleep, "err", err)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session runs one connection.
func (u *Upstream) session(ctx context.Context) error {
	d := net.Dialer{Timeout: u.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return fmt.Errorf("chain: upstream: dial: %w", err)
	}
	u.reconnect.Inc()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	s := &upSession{id: u.sessSeq.Add(1), w: stratum.NewWriter(conn), pending: map[uint64]chan *stratum.Response{}, target: btc.Diff1Target}
	defer func() {
		u.mu.Lock()
		if u.sess == s {
			u.sess = nil
		}
		u.mu.Unlock()
		s.pmu.Lock()
		s.closed = true
		for id, ch := range s.pending {
			close(ch)
			delete(s.pending, id)
		}
		s.pmu.Unlock()
		u.connected.Set(0)
	}()
	r := stratum.NewReader(conn)
	readErr := make(chan error, 1)
	go func() { readErr <- u.readLoop(conn, r, s) }()

	if err := u.handshake(ctx, s); err != nil {
		return err
	}
	u.mu.Lock()
	u.sess = s
	u.mu.Unlock()
	s.dmu.Lock()
	s.pmu.Lock()
	s.ready = true
	early := s.early
	s.early = nil
	s.pmu.Unlock()
	for _, n := range early {
		u.deliver(s, n)
	}
	s.dmu.Unlock()
	u.connected.Set(1)
	u.log.Info("upstream session ready", "extranonce1", fmt.Sprintf("%x", s.en1), "extranonce2_size", s.en2Size, "version_mask", fmt.Sprintf("%08x", s.mask))
	select {
	case err := <-readErr:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handshake runs configure (when a version mask is wanted; a pool that
// does not answer it is fine), subscribe and authorize on s.
func (u *Upstream) handshake(ctx context.Context, s *upSession) error {
	if u.cfg.VersionMask != 0 {
		res, err := u.request(ctx, s, stratum.MethodConfigure, stratum.VersionRollingRequest(u.cfg.VersionMask, 0))
		if err == nil && res.Error == nil {
			var cr stratum.ConfigureResult
			if res.Decode(&cr) == nil {
				if mask, ok, err := cr.VersionRolling(); err == nil && ok {
					s.mask = mask & u.cfg.VersionMask
				}
			}
		}
		if err != nil && !errors.Is(err, errNoReply) {
			return err
		}
	}
	res, err := u.request(ctx, s, stratum.MethodSubscribe, stratum.Subscribe{UserAgent: u.cfg.UserAgent})
	if err != nil {
		return err
	}
	var sub stratum.SubscribeResult
	if res.Error != nil {
		return fmt.Errorf("chain: upstream: subscribe: %w", res.Error)
	}
	if err := res.Decode(&sub); err != nil {
		return fmt.Errorf("chain: upstream: subscribe: %w", err)
	}
	s.en1, s.en2Size = sub.Extranonce1, sub.Extranonce2Size
	res, err = u.request(ctx, s, stratum.MethodAuthorize, stratum.Authorize{User: u.cfg.User, Password: u.cfg.Password})
	if err != nil {
		return err
	}
	if err := res.Bool(); err != nil {
		return fmt.Errorf("chain: upstream: authorize %s: %w", u.cfg.User, err)
	}
	return nil
}

var errNoReply = errors.New("chain: upstream: no reply")

// request sends a request on s and waits for its response.
func (u *Upstream) request(ctx context.Context, s *upSession, method string, params any) (*stratum.Response, error) {
	id := u.nextID.Add(1)
	req, err := stratum.NewRequest(id, method, params)
	if err != nil {
		return nil, fmt.Errorf("chain: upstream: %s: %w", method, err)
	}
	ch := make(chan *stratum.Response, 1)
	s.pmu.Lock()
	if s.closed {
		s.pmu.Unlock()
		return nil, ErrSessionGone
	}
	s.pending[id] = ch
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, id)
		s.pmu.Unlock()
	}()
	if err := s.w.Write(req); err != nil {
		return nil, fmt.Errorf("chain: upstream: %s: write: %w", method, err)
	}
	t := time.NewTimer(u.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case res, ok := <-ch:
		if !ok {
			return nil, ErrSessionGone
		}
		return res, nil
	case <-t.C:
		return nil, fmt.Errorf("chain: upstream: %s: %w", method, errNoReply)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readLoop reads messages until the connection fails. Notifications that
// arrive before the handshake completes are held until it does.
func (u *Upstream) readLoop(conn net.Conn, r *stratum.Reader, s *upSession) error {
	for {
		_ = conn.SetReadDeadline(time.Now().Add(u.cfg.IdleTimeout))
		msg, err := r.Read()
		if err != nil {
			return fmt.Errorf("chain: upstream: read: %w", err)
		}
		switch msg.Kind() {
		case stratum.KindResponse:
			res := msg.Response()
			id, ok := res.IDUint()
			if !ok {
				continue
			}
			s.pmu.Lock()
			ch := s.pending[id]
			s.pmu.Unlock()
			if ch != nil {
				ch <- res
			}
		default:
			req := msg.Request()
			switch req.Method {
			case stratum.MethodNotify:
				var n stratum.Notify
				if err := req.Decode(&n); err != nil {
					u.log.Warn("bad mining.notify from upstream", "err", err)
					continue
				}
				s.dmu.Lock()
				s.pmu.Lock()
				if !s.ready {
					s.early = append(s.early, n)
					s.pmu.Unlock()
				} else {
					s.pmu.Unlock()
					u.deliver(s, n)
				}
				s.dmu.Unlock()
			case stratum.MethodSetDifficulty:
				var sd stratum.SetDifficulty
				if err := req.Decode(&sd); err != nil {
					u.log.Warn("bad mining.set_difficulty from upstream", "err", err)
					continue
				}
				t, err := btc.DifficultyToTarget(sd.Difficulty)
				if err != nil {
					continue
				}
				s.pmu.Lock()
				s.target = t
				s.pmu.Unlock()
			case stratum.MethodSetExtranonce:
				var se stratum.SetExtranonce
				if err := req.Decode(&se); err != nil {
					continue
				}
				// New extranonce: reconnect so every job and share agrees.
				return errors.New("chain: upstream: set_extranonce: resubscribing")
			case stratum.MethodSetVersionMask:
				var sv stratum.SetVersionMask
				if req.Decode(&sv) == nil {
					s.pmu.Lock()
					s.mask = sv.Mask & u.cfg.VersionMask
					s.pmu.Unlock()
				}
			case stratum.MethodReconnect:
				return errors.New("chain: upstream: client.reconnect")
			case stratum.MethodPing:
				if resp, err := stratum.NewResponse(req.ID, stratum.PongResult); err == nil {
					_ = s.w.Write(resp)
				}
			default:
				if len(req.ID) > 0 && string(req.ID) != "null" {
					_ = s.w.Write(stratum.NewErrorResponse(req.ID, stratum.NewError(stratum.ErrOther, "unsupported method")))
				}
			}
		}
	}
}

// deliver queues a job, dropping the oldest queued one if full.
func (u *Upstream) deliver(s *upSession, n stratum.Notify) {
	s.pmu.Lock()
	w := UpstreamWork{Notify: n, Session: s.id, Extranonce1: s.en1, Extranonce2Size: s.en2Size, Target: s.target, VersionMask: s.mask}
	s.pmu.Unlock()
	for {
		select {
		case u.work <- w:
			return
		default:
		}
		select {
		case <-u.work:
		default:
		}
	}
}

// Target returns the upstream share target in force on session (ok false
// when that session is gone).
func (u *Upstream) Target(session uint64) ([32]byte, bool) {
	u.mu.Lock()
	s := u.sess
	u.mu.Unlock()
	if s == nil || s.id != session {
		return [32]byte{}, false
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return s.target, true
}

// Submit forwards a share with mining.submit on its session and waits for
// the verdict: nil (accepted), a *stratum.Error (rejected),
// ErrSessionGone, or a transport error.
func (u *Upstream) Submit(ctx context.Context, sh UpstreamShare) error {
	u.mu.Lock()
	s := u.sess
	u.mu.Unlock()
	if s == nil || s.id != sh.Session {
		u.submitted.WithLabelValues("session_gone").Inc()
		return ErrSessionGone
	}
	p := stratum.Submit{Worker: u.cfg.User, JobID: sh.JobID, Extranonce2: sh.Extranonce2, NTime: sh.NTime, Nonce: sh.Nonce}
	if s.mask != 0 {
		p.HasVersionBits = true
		p.VersionBits = sh.Version & s.mask
	}
	res, err := u.request(ctx, s, stratum.MethodSubmit, p)
	if err != nil {
		u.submitted.WithLabelValues("error").Inc()
		return err
	}
	if err := res.Bool(); err != nil {
		u.submitted.WithLabelValues("rejected").Inc()
		return err
	}
	u.submitted.WithLabelValues("accepted").Inc()
	return nil
}
