package pool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Disconnect reasons (metric label values and Stats.Disconnects keys).
const (
	reasonClientClosed = "client_closed"
	reasonSlowClient   = "slow_client"
	reasonIdle         = "idle_timeout"
	reasonHandshake    = "handshake_timeout"
	reasonOversized    = "oversized_line"
	reasonMalformed    = "malformed"
	reasonFlood        = "flood"
	reasonWriteError   = "write_error"
	reasonReadError    = "read_error"
	reasonShutdown     = "shutdown"
	reasonConnLimit    = "conn_limit"
	reasonProtocol     = "protocol"
	reasonExtranonce   = "extranonce_changed"
)

// closeError is the cause a connection ends with; Reason is a label value.
type closeError struct {
	Reason string
	Err    error
}

func (e *closeError) Error() string {
	if e.Err == nil {
		return "pool: connection closed: " + e.Reason
	}
	return "pool: connection closed: " + e.Reason + ": " + e.Err.Error()
}

func (e *closeError) Unwrap() error { return e.Err }

var errSlowClient = &closeError{Reason: reasonSlowClient}

// maxMalformed is how many undecodable lines a connection may send before
// it is closed.
const maxMalformed = 8

// conn is one TCP connection: a reader goroutine that decodes and handles
// requests, and a writer goroutine that drains a bounded send queue. Both
// are started by serve and joined before it returns.
type conn struct {
	s     *Server
	nc    net.Conn
	id    uint64
	log   *slog.Logger
	start time.Time

	sendq  chan []byte
	room   chan struct{} // the writer took lines off sendq (buffer 1)
	closec chan error    // reader asks the writer to flush and close, once
	cancel context.CancelCauseFunc

	host      string       // hostKey of the remote address
	isSession atomic.Bool  // subscribed and authorized (for Stats)
	lastShare atomic.Int64 // unix ns of the last accepted share, or of the connect

	// mu guards the session state below. Held only for short, non-blocking
	// sections (enqueue is non-blocking); never across I/O or Submit.
	mu   sync.Mutex
	sess session
}

func newConn(s *Server, nc net.Conn, cancel context.CancelCauseFunc) *conn {
	id := s.ids.Add(1)
	now := time.Now()
	c := &conn{
		s:      s,
		nc:     nc,
		id:     id,
		log:    s.log.With("conn", id, "remote", nc.RemoteAddr().String()),
		start:  now,
		sendq:  make(chan []byte, s.cfg.SendQueueLen),
		room:   make(chan struct{}, 1),
		closec: make(chan error, 1),
		cancel: cancel,
	}
	c.sess.init(s.cfg, now)
	c.lastShare.Store(now.UnixNano())
	return c
}

// serve runs the connection until it ends or ctx (whose cancel func is
// c.cancel) is cancelled.
func (c *conn) serve(ctx context.Context) {
	cancel := c.cancel
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()
	c.log.Debug("connected")

	// The reader runs on this goroutine, the writer on a second one: two
	// goroutines per connection.
	var wg sync.WaitGroup
	wg.Go(func() { cancel(c.writeLoop(ctx)) })
	if err := c.readLoop(ctx); err != nil {
		cancel(err)
	}
	wg.Wait()
	c.nc.Close()

	cause := context.Cause(ctx)
	reason := reasonShutdown
	var ce *closeError
	switch {
	case errors.As(cause, &ce):
		reason = ce.Reason
	case ctx.Err() != nil && cause == context.Canceled:
		reason = reasonShutdown
	}
	c.s.m.disconnects.WithLabelValues(reason).Inc()
	c.s.ledger.disconnected(reason)
	c.mu.Lock()
	name, wasSession := c.sess.worker, c.sess.authorized && c.sess.subscribed
	c.mu.Unlock()
	if wasSession {
		c.s.m.sessions.Dec()
	}
	if name != "" {
		c.s.ledger.disconnect(name)
	}
	lvl := slog.LevelDebug
	if reason == reasonSlowClient || reason == reasonFlood || reason == reasonOversized || reason == reasonMalformed {
		lvl = slog.LevelWarn
	}
	c.log.Log(context.Background(), lvl, "disconnected", "reason", reason, "cause", cause, "worker", name)
}

// enqueue queues line without blocking. A full queue means the client does
// not read fast enough: it is disconnected and counted (STYLE R7). The
// reader keeps half the queue free for the broadcaster (waitRoom), so a
// client that pipelines requests but reads its answers never fills it.
func (c *conn) enqueue(line []byte) bool {
	select {
	case c.sendq <- line:
		return true
	default:
		c.cancel(errSlowClient)
		return false
	}
}

// closeAfterFlush makes the writer send everything queued so far, then end
// the connection with cause.
func (c *conn) closeAfterFlush(cause error) {
	select {
	case c.closec <- cause:
	default:
	}
}

// writeBufs recycles write buffers, so that an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *conn) writeLoop(ctx context.Context) error {
	for {
		var (
			final error
			first []byte
		)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case first = <-c.sendq:
		case final = <-c.closec:
		}
		bp := writeBufs.Get().(*[]byte)
		buf := append((*bp)[:0], first...)
		// Batch whatever else is queued into one write.
	drain:
		for len(buf) < 64<<10 {
			select {
			case line := <-c.sendq:
				buf = append(buf, line...)
			default:
				break drain
			}
		}
		select { // after the drain, so that the reader sees the room it is told of
		case c.room <- struct{}{}:
		default:
		}
		var err error
		if len(buf) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
			_, err = c.nc.Write(buf)
		}
		if cap(buf) <= 256<<10 {
			*bp = buf[:0]
			writeBufs.Put(bp)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &closeError{Reason: reasonSlowClient, Err: err} // the client stopped reading
		}
		if err != nil {
			return &closeError{Reason: reasonWriteError, Err: err}
		}
		if final != nil {
			return final
		}
	}
}

func (c *conn) readLoop(ctx context.Context) error {
	r := stratum.NewReaderSize(c.nc, c.s.cfg.MaxLineLen)
	bucket := tokenBucket{rate: c.s.cfg.MaxMsgRate, burst: float64(c.s.cfg.MsgBurst)}
	malformed := 0
	for {
		if !c.waitRoom(ctx) {
			return nil
		}
		c.mu.Lock()
		ready := c.sess.subscribed && c.sess.authorized
		c.mu.Unlock()
		deadline := time.Now().Add(c.s.cfg.IdleTimeout)
		if !ready {
			deadline = c.start.Add(c.s.cfg.HandshakeTimeout)
		}
		c.nc.SetReadDeadline(deadline)
		line, err := r.ReadLine()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			switch {
			case errors.Is(err, stratum.ErrLineTooLong):
				c.fail(nil, stratum.ErrOther, "line too long", &closeError{Reason: reasonOversized, Err: err})
				return nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				if ready {
					return &closeError{Reason: reasonIdle}
				}
				c.fail(nil, stratum.ErrNotSubscribed, "handshake timeout: subscribe and authorize first", &closeError{Reason: reasonHandshake})
				return nil
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
				return &closeError{Reason: reasonClientClosed}
			default:
				return &closeError{Reason: reasonReadError, Err: err}
			}
		}
		now := time.Now()
		if !bucket.take(now) {
			c.fail(nil, stratum.ErrOther, "too many messages", &closeError{Reason: reasonFlood})
			return nil
		}
		msg, err := stratum.ParseMessage(line)
		if err != nil {
			malformed++
			c.s.m.rejects.WithLabelValues("malformed").Inc()
			if malformed >= maxMalformed {
				c.fail(nil, stratum.ErrOther, "too many malformed messages", &closeError{Reason: reasonMalformed, Err: err})
				return nil
			}
			c.reply(nil, nil, stratum.NewError(stratum.ErrOther, "malformed request"))
			continue
		}
		if msg.Kind() == stratum.KindResponse {
			continue // answers to our pings and get_version; nothing to do
		}
		if err := c.handle(ctx, msg.Request(), now); err != nil {
			return err
		}
	}
}

// waitRoom is the reader's backpressure: while more than half the send
// queue is taken it reads nothing more (the client's requests wait in the
// socket), so answers to pipelined requests never overflow the queue and the
// other half stays free for broadcasts. A client that stops reading is
// dropped by the writer's timeout, not here. It returns false once ctx is
// done.
func (c *conn) waitRoom(ctx context.Context) bool {
	for len(c.sendq) > cap(c.sendq)/2 {
		select {
		case <-c.room:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// fail sends a final error reply (id may be nil) and closes the connection
// after it is written.
func (c *conn) fail(id []byte, code int, msg string, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line, err := stratum.Encode(stratum.NewErrorResponse(id, stratum.NewError(code, msg)))
	if err == nil && !c.enqueue(line) {
		return
	}
	c.closeAfterFlush(cause)
}

// tokenBucket limits a connection's incoming message rate.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
