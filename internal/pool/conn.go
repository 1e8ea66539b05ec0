package pool

import (
	"bytes"
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

	"github.com/hashfleet/hashfleet/internal/netpoll"
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

// Read states of a conn (conn.rstate).
const (
	readArmed   = iota // waiting for input: the conn's OnReadable is set, no goroutine
	readRunning        // a readSome goroutine is reading and handling lines
	readPaused         // more than half the send queue is taken: the writer resumes reading
	readStopped        // no more reading: the conn ends once its writer is done
)

// conn is one client connection. An idle connection has no goroutine: its
// netpoll.Conn calls onReadable when input arrives, which starts readSome
// to read and handle the lines that came, then re-arms and returns. Lines
// to the client are written at once, without blocking, by whoever sends
// them (the reader, the broadcaster); only what the socket does not take
// is queued, for a writer goroutine that runs while the queue holds lines.
// An idle connection thus holds no goroutine and no buffers: its session
// state, a stratum.Reader and a timer (handshake, then idle deadline).
type conn struct {
	s     *Server
	nc    netpoll.Conn
	id    uint64
	start time.Time

	rd        *stratum.Reader // owned by the running readSome
	bucket    tokenBucket     // owned by the running readSome
	malformed int             // owned by the running readSome
	timer     *time.Timer     // handshake, then idle deadline (onTimer)
	lastLine  atomic.Int64    // unix ns of the last line read, or of the connect
	rstate    atomic.Int32    // read state (readArmed, ...)

	// wmu guards the send queue and the close state. Lock order: mu, then
	// wmu. Nothing that takes wmu may be called from onReadable.
	wmu      sync.Mutex
	queue    [][]byte // lines for the writer; nil when empty
	final    error    // closeAfterFlush's cause: ends the connection once the queue is sent
	writing  bool     // a writer goroutine is running
	closed   bool     // cancelled: no more reads or writes
	cause    error    // why (the first cause given)
	finished bool     // finish has been started

	host      string       // hostKey of the remote address
	isSession atomic.Bool  // subscribed and authorized (for Stats)
	lastShare atomic.Int64 // unix ns of the last accepted share, or of the connect

	// mu guards the session state below. Held only for short, non-blocking
	// sections (enqueue does not block); never across Submit.
	mu   sync.Mutex
	sess session
}

// sendBuffer is the socket send buffer asked for each connection (the
// kernel doubles it). Lines are written without blocking, so the kernel's
// buffer is where a client that stops reading piles up its lines: bounded
// here (not autotuned up to megabytes), it fills after ~64 KiB, the rest
// is queued, and the writer's timeout drops the client (slow_client). It
// also bounds the kernel memory one client can hold.
const sendBuffer = 32 << 10

func newConn(s *Server, nc net.Conn) *conn {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetWriteBuffer(sendBuffer)
	}
	id := s.ids.Add(1)
	now := time.Now()
	c := &conn{
		s:      s,
		nc:     netpoll.Wrap(nc),
		id:     id,
		start:  now,
		bucket: tokenBucket{rate: s.cfg.MaxMsgRate, burst: float64(s.cfg.MsgBurst)},
	}
	c.rd = stratum.NewPollReader(c.nc, s.cfg.MaxLineLen)
	c.sess.init(s.cfg, now)
	c.lastShare.Store(now.UnixNano())
	c.lastLine.Store(now.UnixNano())
	return c
}

// begin starts the handshake deadline and waits for input.
func (c *conn) begin() {
	if c.s.log.Enabled(context.Background(), slog.LevelDebug) {
		c.logger().Debug("connected")
	}
	c.timer = time.AfterFunc(c.s.cfg.HandshakeTimeout, c.onTimer)
	c.rstate.Store(readArmed)
	c.nc.OnReadable(c.onReadable)
}

// onReadable is the conn's netpoll callback: it must not block.
func (c *conn) onReadable() {
	if c.rstate.CompareAndSwap(readArmed, readRunning) {
		go c.readSome()
	}
}

// readSome reads and handles lines until none is left, then waits for
// input again (or pauses, or stops for good).
func (c *conn) readSome() {
	for {
		if c.pauseIfFull() {
			return
		}
		line, err := c.rd.ReadLine()
		if errors.Is(err, stratum.ErrWouldBlock) {
			c.rearm()
			return
		}
		if c.isClosed() {
			c.stopReading()
			return
		}
		if err != nil {
			c.readFailed(err)
			c.stopReading()
			return
		}
		now := time.Now()
		c.lastLine.Store(now.UnixNano())
		if !c.handleLine(line, now) {
			c.stopReading()
			return
		}
	}
}

// handleLine applies the message rate limit and answers one line; false
// ends reading (the connection is closing).
func (c *conn) handleLine(line []byte, now time.Time) bool {
	if !c.bucket.take(now) {
		c.fail(nil, stratum.ErrOther, "too many messages", &closeError{Reason: reasonFlood})
		return false
	}
	msg, err := stratum.ParseMessage(line)
	if err != nil {
		c.malformed++
		c.s.m.rejects.WithLabelValues("malformed").Inc()
		if c.malformed >= maxMalformed {
			c.fail(nil, stratum.ErrOther, "too many malformed messages", &closeError{Reason: reasonMalformed, Err: err})
			return false
		}
		c.reply(nil, nil, stratum.NewError(stratum.ErrOther, "malformed request"))
		return true
	}
	if msg.Kind() == stratum.KindResponse {
		return true // answers to our pings and get_version; nothing to do
	}
	if err := c.handle(c.s.ctx, msg.Request(), now); err != nil {
		c.cancel(err)
		return false
	}
	return true
}

// readFailed ends the connection after a read error.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, stratum.ErrLineTooLong):
		c.fail(nil, stratum.ErrOther, "line too long", &closeError{Reason: reasonOversized, Err: err})
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		c.cancel(&closeError{Reason: reasonClientClosed})
	default:
		c.cancel(&closeError{Reason: reasonReadError, Err: err})
	}
}

// rearm waits for input again, unless the connection closed meanwhile.
func (c *conn) rearm() {
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		c.stopReading()
		return
	}
	c.rstate.Store(readArmed)
	c.wmu.Unlock()
	// Closed from here on, OnReadable calls onReadable at once: the next
	// readSome finds the connection closed.
	c.nc.OnReadable(c.onReadable)
}

// pauseIfFull is the reader's backpressure: while more than half the send
// queue is taken it reads nothing more (the client's requests wait in the
// socket), so answers to pipelined requests never overflow the queue and
// the other half stays free for broadcasts; the writer resumes reading.
// A client that stops reading is dropped by the writer's timeout, not
// here. It returns true when readSome must return.
func (c *conn) pauseIfFull() bool {
	c.wmu.Lock()
	if len(c.queue) <= c.s.cfg.SendQueueLen/2 {
		c.wmu.Unlock()
		return false
	}
	if c.closed {
		c.wmu.Unlock()
		c.stopReading()
		return true
	}
	c.rstate.Store(readPaused)
	c.wmu.Unlock()
	return true
}

// stopReading ends reading for good; the connection finishes once its
// writer is done too.
func (c *conn) stopReading() {
	c.wmu.Lock()
	c.rstate.Store(readStopped)
	fin := c.finishableLocked()
	c.wmu.Unlock()
	if fin {
		c.finish()
	}
}

// finishableLocked reports, once, that nothing reads or writes any more.
func (c *conn) finishableLocked() bool {
	if c.finished || c.writing || c.rstate.Load() != readStopped {
		return false
	}
	c.finished = true
	return true
}

func (c *conn) isClosed() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closed
}

// cancel ends the connection with cause (the first cause given wins): no
// more reads or writes, the socket closed. Safe from any goroutine not
// holding wmu.
func (c *conn) cancel(cause error) {
	c.wmu.Lock()
	fin := c.cancelLocked(cause)
	c.wmu.Unlock()
	if fin {
		go c.finish() // the caller may hold mu
	}
}

// cancelLocked is cancel with wmu held; it returns whether the caller must
// start finish (after unlocking). Closing the socket calls onReadable of
// an armed reader, which then finds the connection closed.
func (c *conn) cancelLocked(cause error) bool {
	if c.closed {
		return false
	}
	c.closed, c.cause = true, cause
	c.nc.Close()
	if c.rstate.Load() == readPaused {
		c.rstate.Store(readStopped)
	}
	return c.finishableLocked()
}

// onTimer enforces the handshake deadline, then the idle one; it re-arms
// itself until one passes.
func (c *conn) onTimer() {
	if c.isClosed() {
		return
	}
	c.mu.Lock()
	ready := c.sess.subscribed && c.sess.authorized
	c.mu.Unlock()
	now := time.Now()
	deadline := time.Unix(0, c.lastLine.Load()).Add(c.s.cfg.IdleTimeout)
	if !ready {
		deadline = c.start.Add(c.s.cfg.HandshakeTimeout)
	}
	switch {
	case now.Before(deadline):
		c.timer.Reset(deadline.Sub(now))
	case ready:
		c.cancel(&closeError{Reason: reasonIdle})
	default:
		c.fail(nil, stratum.ErrNotSubscribed, "handshake timeout: subscribe and authorize first", &closeError{Reason: reasonHandshake})
	}
}

// finish runs once nothing reads or writes: it counts the disconnect and
// removes the connection from the server.
func (c *conn) finish() {
	c.timer.Stop()
	c.nc.Close()
	c.wmu.Lock()
	cause := c.cause
	c.wmu.Unlock()
	reason := reasonShutdown
	if ce, ok := errors.AsType[*closeError](cause); ok {
		reason = ce.Reason
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
	if c.s.log.Enabled(context.Background(), lvl) {
		c.logger().Log(context.Background(), lvl, "disconnected", "reason", reason, "cause", cause)
	}
	c.s.removeConn(c)
}

// worker is the session's first authorized worker name ("" before).
func (c *conn) worker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.worker
}

// logger is the server's logger with the connection's attributes (built
// when something is logged: an idle connection holds none). Not with mu
// held.
func (c *conn) logger() *slog.Logger {
	worker := c.worker()
	l := c.s.log.With("conn", c.id, "remote", c.nc.RemoteAddr().String())
	if worker != "" {
		l = l.With("worker", worker)
	}
	return l
}

// enqueue sends line, which the caller gives away (see send).
func (c *conn) enqueue(line []byte) bool { return c.send(line, false) }

// send writes line at once, without blocking, when nothing is queued
// before it; what the socket does not take is queued (copied first when
// shared: the caller reuses line) and a writer goroutine started. A full
// queue means the client does not read fast enough: it is disconnected and
// counted (STYLE R7). The reader keeps half the queue free for the
// broadcaster (pauseIfFull), so a client that pipelines requests but reads
// its answers never fills it. It returns false when the connection ended.
func (c *conn) send(line []byte, shared bool) bool {
	c.wmu.Lock()
	fin, ok := c.sendLocked(line, shared)
	c.wmu.Unlock()
	if fin {
		go c.finish() // the caller may hold mu
	}
	return ok
}

func (c *conn) sendLocked(line []byte, shared bool) (fin, ok bool) {
	if c.closed {
		return false, false
	}
	if len(c.queue) >= c.s.cfg.SendQueueLen {
		return c.cancelLocked(errSlowClient), false
	}
	if !c.writing && len(c.queue) == 0 {
		n, err := c.nc.TryWrite(line)
		if err != nil {
			return c.cancelLocked(&closeError{Reason: reasonWriteError, Err: err}), false
		}
		if line = line[n:]; len(line) == 0 {
			return false, true
		}
	}
	if shared {
		line = bytes.Clone(line)
	}
	c.queue = append(c.queue, line)
	c.startWriterLocked()
	return false, true
}

// closeAfterFlush sends everything queued so far, then ends the connection
// with cause (the first cause given wins).
func (c *conn) closeAfterFlush(cause error) {
	c.wmu.Lock()
	if c.final == nil {
		c.final = cause
	}
	fin := false
	if !c.writing && len(c.queue) == 0 {
		fin = c.cancelLocked(c.final) // all sent already
	} else {
		c.startWriterLocked()
	}
	c.wmu.Unlock()
	if fin {
		go c.finish()
	}
}

func (c *conn) startWriterLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	go c.writeLoop()
}

// writeBufs recycles write buffers, so that an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeLoop sends the queue in batches and returns once it is empty (or the
// connection ends); send starts it again when the socket next fills.
func (c *conn) writeLoop() {
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
			c.wmu.Lock()
			c.cancelLocked(err)
			c.writing = false
			fin := c.finishableLocked()
			c.wmu.Unlock()
			if fin {
				c.finish()
			}
			return
		}
	}
}

// takeBatch takes up to 64 KiB of queued lines into a pooled buffer, with
// the final cause when the batch empties the queue, and resumes a paused
// reader once the queue is at most half full. ok is false when there is
// nothing to do: the writer then stops (in the same critical section that
// saw the queue empty, so no line is left behind), and finishes the
// connection if it is the last to stop.
func (c *conn) takeBatch() (bp *[]byte, final error, ok bool) {
	c.wmu.Lock()
	if c.closed || (len(c.queue) == 0 && c.final == nil) {
		c.writing = false
		fin := c.finishableLocked()
		c.wmu.Unlock()
		if fin {
			c.finish()
		}
		return nil, nil, false
	}
	defer c.wmu.Unlock()
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
	if len(c.queue) <= c.s.cfg.SendQueueLen/2 && c.rstate.CompareAndSwap(readPaused, readRunning) {
		go c.readSome()
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
