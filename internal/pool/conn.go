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
// requests, and a writer goroutine that drains a bounded send queue and
// runs only while the queue holds lines. An idle connection is thus one
// goroutine blocked in a read into a 256-byte array (stratum.Reader), with
// no writer and no buffers; serve joins the writer before it returns.
type conn struct {
	s     *Server
	nc    net.Conn
	id    uint64
	log   *slog.Logger
	start time.Time

	ctx    context.Context // the connection's; cancelled with its cause
	cancel context.CancelCauseFunc
	room   chan struct{} // the writer took lines off the queue (buffer 1)

	// wmu guards the send queue. Lock order: mu, then wmu.
	wmu     sync.Mutex
	queue   [][]byte // lines for the writer; nil when empty
	final   error    // closeAfterFlush's cause: ends the connection once the queue is sent
	writing bool     // a writer goroutine is running
	closed  bool     // serve is returning: no new writer
	writers sync.WaitGroup

	host      string       // hostKey of the remote address
	isSession atomic.Bool  // subscribed and authorized (for Stats)
	lastShare atomic.Int64 // unix ns of the last accepted share, or of the connect

	// mu guards the session state below. Held only for short, non-blocking
	// sections (enqueue is non-blocking); never across I/O or Submit.
	mu   sync.Mutex
	sess session
}

func newConn(s *Server, nc net.Conn, ctx context.Context, cancel context.CancelCauseFunc) *conn {
	id := s.ids.Add(1)
	now := time.Now()
	c := &conn{
		s:      s,
		nc:     nc,
		id:     id,
		log:    s.log.With("conn", id, "remote", nc.RemoteAddr().String()),
		start:  now,
		ctx:    ctx,
		cancel: cancel,
		room:   make(chan struct{}, 1),
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

	// The reader runs on this goroutine; the writer, while there is
	// something to send, on a second one.
	if err := c.readLoop(ctx); err != nil {
		cancel(err)
	}
	c.wmu.Lock()
	c.closed = true
	c.wmu.Unlock()
	c.writers.Wait()
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

// worker is the session's first authorized worker name ("" before).
func (c *conn) worker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.worker
}

// enqueue queues line without blocking and starts the writer if it is not
// running. A full queue means the client does not read fast enough: it is
// disconnected and counted (STYLE R7). The reader keeps half the queue free
// for the broadcaster (waitRoom), so a client that pipelines requests but
// reads its answers never fills it.
func (c *conn) enqueue(line []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.queue) >= c.s.cfg.SendQueueLen {
		c.cancel(errSlowClient)
		return false
	}
	c.queue = append(c.queue, line)
	c.startWriterLocked()
	return true
}

// closeAfterFlush makes the writer send everything queued so far, then end
// the connection with cause (the first cause given wins).
func (c *conn) closeAfterFlush(cause error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.final == nil {
		c.final = cause
	}
	c.startWriterLocked()
}

func (c *conn) startWriterLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.writeLoop()
}

// queueLen is how many lines wait for the writer.
func (c *conn) queueLen() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.queue)
}

// writeBufs recycles write buffers, so that an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeLoop sends the queue in batches and returns once it is empty (or the
// connection ends); enqueue starts it again for the next line.
func (c *conn) writeLoop() {
	defer c.writers.Done()
	for {
		bp, final, ok := c.takeBatch()
		if !ok {
			return
		}
		err := c.write(*bp)
		if cap(*bp) <= 256<<10 {
			*bp = (*bp)[:0]
			writeBufs.Put(bp)
		}
		if err == nil {
			err = final
		}
		if err != nil {
			c.cancel(err)
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			return
		}
	}
}

// takeBatch takes up to 64 KiB of queued lines into a pooled buffer, with
// the final cause when the batch empties the queue. ok is false when there
// is nothing to do: the writer then stops (in the same critical section
// that saw the queue empty, so no line is left behind).
func (c *conn) takeBatch() (bp *[]byte, final error, ok bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx.Err() != nil || (len(c.queue) == 0 && c.final == nil) {
		c.writing = false
		return nil, nil, false
	}
	bp = writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	n := 0
	for n < len(c.queue) && (n == 0 || len(buf)+len(c.queue[n]) <= 64<<10) {
		buf = append(buf, c.queue[n]...)
		c.queue[n] = nil
		n++
	}
	*bp = buf
	if c.queue = c.queue[n:]; len(c.queue) == 0 {
		c.queue = nil // an idle connection keeps no queue
		final = c.final
	}
	select { // the reader may be waiting for room
	case c.room <- struct{}{}:
	default:
	}
	return bp, final, true
}

// write sends one batch with the write timeout.
func (c *conn) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := c.nc.Write(buf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &closeError{Reason: reasonSlowClient, Err: err} // the client stopped reading
	case err != nil:
		return &closeError{Reason: reasonWriteError, Err: err}
	}
	return nil
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
	for c.queueLen() > c.s.cfg.SendQueueLen/2 {
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
