package miner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/sha256d"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// maxJobs bounds the jobs a session remembers for submitting late shares.
const maxJobs = 32

type reqKind int

const (
	reqOther reqKind = iota
	reqConfigure
	reqSubscribe
	reqAuthorize
	reqExtranonce
	reqSubmit
)

type pendingReq struct {
	kind  reqKind
	share found
	diff  float64 // difficulty the submitted hash achieves
	sent  time.Time
}

// session is one connection to a pool. All its fields are owned by the
// goroutine running runSession.
type session struct {
	m    *Miner
	p    poolTarget
	id   uint64
	log  *slog.Logger
	conn net.Conn
	w    *stratum.Writer

	nextID  uint64
	pending map[uint64]pendingReq

	subscribed, authorized bool
	retriedSubscribe       bool
	en1                    []byte
	en2Size                int
	pendingEN              *stratum.SetExtranonce
	diff, nextDiff         float64
	vmask                  uint32 // mask for jobs from now on; 0 = no rolling
	askedRolling           bool

	jobs     map[string]*work
	jobOrder []string
	latest   *work // newest job, published once authorized
}

// runSession connects to p and runs one session until the connection
// fails, the pool redirects us, or ctx is cancelled. worked reports whether
// the session got as far as authorization.
func (m *Miner) runSession(ctx context.Context, p poolTarget) (worked bool, err error) {
	m.stats.connects.Add(1)
	m.met.connects.Inc()
	m.stats.setSession(func(c *counters) { c.pool, c.user, c.connected, c.authorized = p.ep.String(), p.user, false, false })
	conn, err := m.dial(ctx, p.ep)
	if err != nil {
		return false, err
	}
	s := &session{
		m:       m,
		p:       p,
		id:      m.sessSeq.Add(1),
		log:     m.log.With("pool", p.ep.String()),
		conn:    conn,
		w:       stratum.NewWriter(conn),
		pending: map[uint64]pendingReq{},
		jobs:    map[string]*work{},
		diff:    1,
	}
	s.log.Info("connected", "addr", conn.RemoteAddr().String())
	m.stats.setSession(func(c *counters) { c.connected = true })

	msgs := make(chan *stratum.Message, 16)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.readLoop(msgs, readErr, done) })
	defer func() {
		close(done)
		conn.Close()
		wg.Wait()
		m.publish(nil)
		m.met.connected.Set(0)
		m.stats.setSession(func(c *counters) { c.connected, c.authorized = false, false })
	}()
	// Shares found for an earlier session are useless now.
	for drained := false; !drained; {
		select {
		case <-m.found:
		default:
			drained = true
		}
	}

	err = s.run(ctx, msgs, readErr)
	return s.authorized, err
}

// readLoop reads lines until the connection fails. Malformed and oversized
// lines are logged and skipped: the connection stays in use.
func (s *session) readLoop(msgs chan<- *stratum.Message, readErr chan<- error, done <-chan struct{}) {
	r := stratum.NewReader(s.conn)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.m.cfg.IdleTimeout))
		msg, err := r.Read()
		if err != nil {
			if errors.Is(err, stratum.ErrMalformed) || errors.Is(err, stratum.ErrLineTooLong) {
				s.m.stats.badLines.Add(1)
				s.m.met.badLines.Inc()
				s.log.Warn("ignoring bad line from pool", "err", err)
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("miner: nothing received from pool for %v: %w", s.m.cfg.IdleTimeout, err)
			}
			readErr <- err
			return
		}
		select {
		case msgs <- msg:
		case <-done:
			return
		}
	}
}

func (s *session) run(ctx context.Context, msgs <-chan *stratum.Message, readErr <-chan error) error {
	if !s.m.cfg.NoVersionRolling {
		s.askedRolling = true
		if _, err := s.send(reqConfigure, stratum.MethodConfigure, stratum.VersionRollingRequest(0xffffffff, 2)); err != nil {
			return err
		}
	}
	if err := s.sendSubscribe(); err != nil {
		return err
	}
	handshake := time.NewTimer(s.m.cfg.HandshakeTimeout)
	defer handshake.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if errors.Is(err, net.ErrClosed) && ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("miner: read: %w", err)
		case <-handshake.C:
			if !s.authorized {
				return fmt.Errorf("miner: not subscribed and authorized within %v", s.m.cfg.HandshakeTimeout)
			}
		case msg := <-msgs:
			if err := s.handle(msg); err != nil {
				return err
			}
		case f := <-s.m.found:
			if err := s.submit(f); err != nil {
				return err
			}
		}
	}
}

// send writes a request and records it as pending.
func (s *session) send(kind reqKind, method string, params any) (uint64, error) {
	id := s.nextID
	s.nextID++
	req, err := stratum.NewRequest(id, method, params)
	if err != nil {
		return 0, err
	}
	if err := s.write(req); err != nil {
		return 0, err
	}
	s.pending[id] = pendingReq{kind: kind, sent: time.Now()}
	return id, nil
}

func (s *session) write(v any) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.m.cfg.WriteTimeout))
	if err := s.w.Write(v); err != nil {
		return fmt.Errorf("miner: %w", err)
	}
	return nil
}

func (s *session) reply(id json.RawMessage, result any) error {
	resp, err := stratum.NewResponse(id, result)
	if err != nil {
		return err
	}
	return s.write(resp)
}

func (s *session) replyErr(id json.RawMessage, code int, msg string) error {
	return s.write(stratum.NewErrorResponse(id, stratum.NewError(code, msg)))
}

func (s *session) sendSubscribe() error {
	var p any = stratum.Subscribe{UserAgent: s.m.cfg.UserAgent}
	if s.retriedSubscribe {
		p = nil // cpuminer retries with empty params
	}
	_, err := s.send(reqSubscribe, stratum.MethodSubscribe, p)
	return err
}

// handle processes one message from the pool. A returned error ends the
// session; bad parameters only refuse the message.
func (s *session) handle(msg *stratum.Message) error {
	if msg.Kind() == stratum.KindResponse {
		return s.handleResponse(msg.Response())
	}
	req := msg.Request()
	isCall := msg.Kind() == stratum.KindRequest
	refuse := func(err error) error { return s.refuse(req, isCall, err) }
	switch req.Method {
	case stratum.MethodNotify:
		var n stratum.Notify
		if err := req.Decode(&n); err != nil {
			s.refuseJob(err)
			return nil
		}
		return s.newJob(&n)
	case stratum.MethodSetDifficulty:
		var d stratum.SetDifficulty
		if err := req.Decode(&d); err != nil {
			return refuse(err)
		}
		if _, err := btc.DifficultyToTarget(d.Difficulty); err != nil {
			return refuse(err)
		}
		s.nextDiff = d.Difficulty
		s.log.Info("difficulty set; applies from the next job", "difficulty", d.Difficulty)
	case stratum.MethodSetExtranonce:
		var e stratum.SetExtranonce
		if err := req.Decode(&e); err != nil {
			return refuse(err)
		}
		s.pendingEN = &e
		s.log.Info("extranonce set; applies from the next job", "extranonce1", fmt.Sprintf("%x", e.Extranonce1), "extranonce2_size", e.Extranonce2Size)
		if isCall {
			return s.reply(req.ID, true)
		}
	case stratum.MethodSetVersionMask:
		var v stratum.SetVersionMask
		if err := req.Decode(&v); err != nil {
			return refuse(err)
		}
		if s.askedRolling {
			s.vmask = v.Mask
			s.log.Info("version mask set; applies from the next job", "mask", stratum.HexU32(v.Mask))
		}
	case stratum.MethodReconnect:
		var r stratum.Reconnect
		if err := req.Decode(&r); err != nil {
			return refuse(err)
		}
		return s.reconnectTo(r)
	case stratum.MethodPing:
		if isCall {
			return s.reply(req.ID, stratum.PongResult)
		}
	case stratum.MethodGetVersion:
		if isCall {
			return s.reply(req.ID, s.m.cfg.UserAgent)
		}
	case stratum.MethodShowMessage:
		var sm stratum.ShowMessage
		if err := req.Decode(&sm); err != nil {
			return refuse(err)
		}
		s.log.Info("message from pool", "text", sm.Text)
		if isCall {
			return s.reply(req.ID, true)
		}
	default:
		s.log.Debug("unsupported method from pool", "method", req.Method)
		if isCall {
			return s.replyErr(req.ID, stratum.ErrOther, "unsupported method "+req.Method)
		}
	}
	return nil
}

// refuse logs a bad server message and, for calls, answers with error 20.
func (s *session) refuse(req *stratum.Request, isCall bool, err error) error {
	s.log.Warn("refused message from pool", "method", req.Method, "reason", err)
	if isCall {
		return s.replyErr(req.ID, stratum.ErrOther, err.Error())
	}
	return nil
}

// reconnectTo answers client.reconnect with a *reconnectError that ends
// the session and makes the miner dial the named endpoint (this pool's,
// for what r leaves out); with NoRedirect a move to another host is
// ignored.
func (s *session) reconnectTo(r stratum.Reconnect) error {
	ep := s.p.ep
	if r.Host != "" {
		ep.Host = r.Host
	}
	if r.Port != 0 {
		ep.Port = r.Port
	}
	if s.m.cfg.NoRedirect && ep.Host != s.p.ep.Host {
		s.log.Warn("ignoring client.reconnect to another host (no-redirect)", "to", ep.String())
		return nil
	}
	return &reconnectError{ep: ep, wait: r.Wait}
}

func (s *session) refuseJob(reason error) {
	s.m.stats.jobsRefused.Add(1)
	s.m.met.refused.Inc()
	s.log.Warn("job refused", "reason", reason)
}

// newJob turns a decoded notify into work, applying the difficulty,
// extranonce and version mask that were set since the previous job.
func (s *session) newJob(n *stratum.Notify) error {
	if !s.subscribed {
		s.refuseJob(errors.New("mining.notify before the subscription completed"))
		return nil
	}
	if s.pendingEN != nil {
		s.en1, s.en2Size = s.pendingEN.Extranonce1, s.pendingEN.Extranonce2Size
		s.pendingEN = nil
	}
	if s.nextDiff > 0 {
		s.diff, s.nextDiff = s.nextDiff, 0
	}
	target, err := btc.DifficultyToTarget(s.diff)
	if err != nil {
		s.refuseJob(err)
		return nil
	}
	w := &work{
		sess:      s.id,
		jobID:     n.JobID,
		bw:        btc.Work{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branch: n.Branch, Version: n.Version, Bits: n.NBits, Time: n.NTime},
		en1:       s.en1,
		en2Size:   s.en2Size,
		diff:      s.diff,
		target:    target,
		vmask:     s.vmask,
		clean:     n.Clean,
		batch:     s.m.cfg.batch,
		nonceSpan: s.m.cfg.nonceSpan,
	}
	if nt, err := btc.CompactToTarget(n.NBits); err == nil {
		w.netTarget = nt
	} else {
		s.log.Warn("job nbits invalid; block candidates will not be flagged", "job", n.JobID, "err", err)
	}
	if n.Clean {
		clear(s.jobs)
		s.jobOrder = s.jobOrder[:0]
	}
	if _, ok := s.jobs[n.JobID]; !ok {
		s.jobOrder = append(s.jobOrder, n.JobID)
		if len(s.jobOrder) > maxJobs {
			delete(s.jobs, s.jobOrder[0])
			s.jobOrder = s.jobOrder[1:]
		}
	}
	s.jobs[n.JobID] = w
	s.latest = w
	s.m.stats.jobs.Add(1)
	s.m.met.jobs.Inc()
	s.log.Info("new job", "job", n.JobID, "clean", n.Clean, "difficulty", s.diff, "ntime", n.NTime)
	if s.authorized {
		s.startWork(w)
	}
	return nil
}

func (s *session) startWork(w *work) {
	s.m.publish(w)
	s.m.met.difficulty.Set(w.diff)
	s.m.stats.setSession(func(c *counters) {
		c.diff, c.jobID, c.en2Size, c.vmask = w.diff, w.jobID, w.en2Size, w.vmask
	})
}

func (s *session) handleResponse(resp *stratum.Response) error {
	id, ok := resp.IDUint()
	p, known := s.pending[id]
	if !ok || !known {
		s.log.Debug("response to unknown request", "id", string(resp.ID))
		return nil
	}
	delete(s.pending, id)
	switch p.kind {
	case reqConfigure:
		var cr stratum.ConfigureResult
		if err := resp.Decode(&cr); err != nil {
			s.log.Info("pool does not support mining.configure; no version rolling", "reason", errOf(resp, err))
			return nil
		}
		mask, ok, err := cr.VersionRolling()
		if err != nil || !ok {
			s.log.Info("version rolling not granted", "err", err)
			return nil
		}
		s.vmask = mask
		s.log.Info("version rolling granted", "mask", stratum.HexU32(mask))
	case reqSubscribe:
		var sr stratum.SubscribeResult
		if err := resp.Decode(&sr); err != nil {
			if resp.Error != nil && !s.retriedSubscribe {
				s.retriedSubscribe = true
				s.log.Warn("subscribe failed; retrying with empty params", "err", resp.Error)
				return s.sendSubscribe()
			}
			return fmt.Errorf("miner: subscribe refused: %w", errOf(resp, err))
		}
		s.subscribed = true
		s.en1, s.en2Size = sr.Extranonce1, sr.Extranonce2Size
		s.log.Info("subscribed", "extranonce1", fmt.Sprintf("%x", sr.Extranonce1), "extranonce2_size", sr.Extranonce2Size)
		if d := s.m.cfg.SuggestDifficulty; d > 0 {
			if _, err := s.send(reqOther, stratum.MethodSuggestDifficulty, stratum.SuggestDifficulty{Difficulty: d}); err != nil {
				return err
			}
		}
		if _, err := s.send(reqAuthorize, stratum.MethodAuthorize, stratum.Authorize{User: s.p.user, Password: s.p.password}); err != nil {
			return err
		}
	case reqAuthorize:
		if err := resp.Bool(); err != nil {
			return fmt.Errorf("miner: authorize %q: %w", s.p.user, err)
		}
		s.authorized = true
		s.m.met.connected.Set(1)
		s.m.stats.setSession(func(c *counters) { c.authorized = true })
		s.log.Info("authorized", "user", s.p.user)
		if s.m.cfg.ExtranonceSubscribe {
			if _, err := s.send(reqExtranonce, stratum.MethodExtranonceSubscribe, nil); err != nil {
				return err
			}
		}
		if s.latest != nil {
			s.startWork(s.latest)
		}
	case reqExtranonce:
		if err := resp.Bool(); err != nil {
			s.log.Info("extranonce.subscribe refused", "err", err)
		}
	case reqSubmit:
		s.submitResult(resp, p)
	default:
		if resp.Error != nil {
			s.log.Debug("request failed", "id", id, "err", resp.Error)
		}
	}
	return nil
}

func errOf(resp *stratum.Response, decodeErr error) error {
	if resp.Error != nil {
		return resp.Error
	}
	return decodeErr
}

// submit re-checks a found share against the notify it came from and sends
// it. Shares for replaced jobs or earlier sessions are dropped.
func (s *session) submit(f found) error {
	w := f.w
	if w.sess != s.id || s.jobs[w.jobID] != w {
		s.m.stats.stale.Add(1)
		s.m.met.shares.WithLabelValues("stale").Inc()
		s.log.Debug("dropping share for a replaced job", "job", w.jobID)
		return nil
	}
	hdr := w.bw.Header(w.en1, f.en2, w.bw.Time, f.nonce, f.version)
	h := sha256d.Sum(hdr[:])
	if !btc.MeetsTarget(&h, &w.target) {
		s.m.stats.invalid.Add(1)
		s.m.met.shares.WithLabelValues("invalid").Inc()
		s.log.Error("share failed the re-check; not submitted (hashing implementation fault?)",
			"job", w.jobID, "nonce", stratum.HexU32(f.nonce), "impl", s.m.impl.Name, "thread", f.thread)
		return nil
	}
	if w.netTarget != ([32]byte{}) && btc.MeetsTarget(&h, &w.netTarget) {
		s.m.stats.blocks.Add(1)
		s.m.met.blocks.Inc()
		s.log.Info("share meets the network target: block candidate", "job", w.jobID, "hash", btc.HashString(h))
	}
	p := stratum.Submit{Worker: s.p.user, JobID: w.jobID, Extranonce2: f.en2, NTime: w.bw.Time, Nonce: f.nonce}
	if w.vmask != 0 {
		p.VersionBits, p.HasVersionBits = f.version&w.vmask, true
	}
	id, err := s.send(reqSubmit, stratum.MethodSubmit, p)
	if err != nil {
		return err
	}
	s.pending[id] = pendingReq{kind: reqSubmit, share: f, diff: btc.HashDifficulty(h), sent: time.Now()}
	return nil
}

func (s *session) submitResult(resp *stratum.Response, p pendingReq) {
	st := &s.m.stats
	err := resp.Bool()
	if err == nil {
		st.accepted.Add(1)
		s.m.met.shares.WithLabelValues("accepted").Inc()
	} else {
		rej := stratum.AsReject(err)
		st.reject(rej.Message())
		s.m.met.shares.WithLabelValues("rejected").Inc()
		s.m.met.rejects.WithLabelValues(rej.Kind.String()).Inc()
		err = rej
	}
	acc, rej := st.accepted.Load(), st.rejected.Load()
	st.mu.Lock()
	rate := st.rate
	st.mu.Unlock()
	pct := 100 * float64(acc) / float64(max(acc+rej, 1))
	line := fmt.Sprintf("accepted: %d/%d (%.2f%%), %s", acc, acc+rej, pct, FormatHashRate(rate))
	attrs := []any{"accepted", acc, "rejected", rej, "hashrate", rate, "job", p.share.w.jobID,
		"share_difficulty", p.diff, "latency", time.Since(p.sent).Round(time.Millisecond)}
	if err == nil {
		s.log.Info(line+" (yay!!!)", attrs...)
	} else {
		s.log.Warn(line+" (booooo)", append(attrs, "reason", err)...)
	}
}
