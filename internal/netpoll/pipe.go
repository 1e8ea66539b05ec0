package netpoll

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// PipeBuffer is how many bytes one direction of a Pipe holds before a
// write waits (or TryWrite writes less): a socket buffer's worth.
const PipeBuffer = 64 << 10

// Pipe returns the two ends of an in-memory, buffered, full-duplex
// connection, with the addresses given (a's local address is aAddr). Unlike
// net.Pipe, a write returns once its bytes are buffered, and an end holds
// no buffer while nothing is in flight.
func Pipe(aAddr, bAddr net.Addr) (a, b Conn) {
	ab, ba := &pipeBuf{}, &pipeBuf{}
	return &pipeEnd{in: ba, out: ab, local: aAddr, remote: bAddr},
		&pipeEnd{in: ab, out: ba, local: bAddr, remote: aAddr}
}

// pipeChunk is the size of the pooled buffers that carry a Pipe's bytes
// while they are in flight (larger writes allocate).
const pipeChunk = 2048

var pipeBufs = sync.Pool{New: func() any { b := make([]byte, 0, pipeChunk); return &b }}

// release drops the drained buffer, back to the pool when it is one of
// the pool's size.
func (p *pipeBuf) release() {
	if b := p.data[:0]; cap(b) == pipeChunk {
		pipeBufs.Put(&b)
	}
	p.data, p.off = nil, 0
}

func (p *pipeBuf) pending() int { return len(p.data) - p.off }

// pipeBuf is one direction of a Pipe.
type pipeBuf struct {
	mu     sync.Mutex
	data   []byte // in flight: data[off:]
	off    int
	closed bool          // either end closed: no more writes; reads drain, then EOF
	f      func()        // the reader's OnReadable
	wake   chan struct{} // closed and replaced on every change, for blocking calls
}

// wakeLocked wakes blocking calls: p changed.
func (p *pipeBuf) wakeLocked() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// changedLocked wakes blocking calls and returns the reader's f to call
// (after unlocking) when there is something to read or the pipe closed.
func (p *pipeBuf) changedLocked() func() {
	p.wakeLocked()
	if p.pending() == 0 && !p.closed {
		return nil
	}
	f := p.f
	p.f = nil
	return f
}

func (p *pipeBuf) waitChan() chan struct{} {
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	return p.wake
}

func (p *pipeBuf) tryRead(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending() == 0 {
		if p.closed {
			return 0, io.EOF
		}
		return 0, nil
	}
	n := copy(b, p.data[p.off:])
	if p.off += n; p.off == len(p.data) {
		p.release() // an idle pipe holds no buffer
	}
	p.wakeLocked() // room for a blocked writer
	return n, nil
}

func (p *pipeBuf) tryWrite(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	n := min(len(b), PipeBuffer-p.pending())
	if n <= 0 {
		p.mu.Unlock()
		return 0, nil
	}
	if p.off > 0 && p.off >= len(p.data)/2 { // drop what was read
		p.data, p.off = p.data[:copy(p.data, p.data[p.off:])], 0
	}
	if p.data == nil && n <= pipeChunk {
		p.data = (*pipeBufs.Get().(*[]byte))[:0]
	}
	p.data = append(p.data, b[:n]...)
	f := p.changedLocked()
	p.mu.Unlock()
	if f != nil {
		f()
	}
	return n, nil
}

func (p *pipeBuf) onReadable(f func()) {
	p.mu.Lock()
	if p.pending() > 0 || p.closed {
		p.mu.Unlock()
		f()
		return
	}
	p.f = f
	p.mu.Unlock()
}

func (p *pipeBuf) close() {
	p.mu.Lock()
	p.closed = true
	f := p.changedLocked()
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

// wait blocks until p changes or the deadline passes.
func (p *pipeBuf) wait(ch chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// pipeEnd is one end of a Pipe.
type pipeEnd struct {
	in, out       *pipeBuf
	local, remote net.Addr

	mu                   sync.Mutex
	rdeadline, wdeadline time.Time
	closed               atomic.Bool
}

func (e *pipeEnd) TryRead(b []byte) (int, error) {
	if e.isClosed() {
		return 0, net.ErrClosed
	}
	return e.in.tryRead(b)
}

func (e *pipeEnd) TryWrite(b []byte) (int, error) {
	if e.isClosed() {
		return 0, net.ErrClosed
	}
	return e.out.tryWrite(b)
}

func (e *pipeEnd) OnReadable(f func()) { e.in.onReadable(f) }

func (e *pipeEnd) Read(b []byte) (int, error) {
	for {
		e.in.mu.Lock()
		ch := e.in.waitChan()
		e.in.mu.Unlock()
		n, err := e.TryRead(b)
		if n > 0 || err != nil || len(b) == 0 {
			return n, err
		}
		e.mu.Lock()
		dl := e.rdeadline
		e.mu.Unlock()
		if err := e.in.wait(ch, dl); err != nil {
			return 0, err
		}
	}
}

func (e *pipeEnd) Write(b []byte) (int, error) {
	written := 0
	for {
		e.out.mu.Lock()
		ch := e.out.waitChan()
		e.out.mu.Unlock()
		n, err := e.TryWrite(b[written:])
		written += n
		if err != nil || written == len(b) {
			return written, err
		}
		e.mu.Lock()
		dl := e.wdeadline
		e.mu.Unlock()
		if err := e.out.wait(ch, dl); err != nil {
			return written, err
		}
	}
}

func (e *pipeEnd) isClosed() bool { return e.closed.Load() }

// Close closes both directions: the peer reads what was sent, then EOF.
func (e *pipeEnd) Close() error {
	e.closed.Store(true)
	e.out.close()
	e.in.close()
	return nil
}

func (e *pipeEnd) LocalAddr() net.Addr  { return e.local }
func (e *pipeEnd) RemoteAddr() net.Addr { return e.remote }

func (e *pipeEnd) SetDeadline(t time.Time) error {
	e.SetReadDeadline(t)
	return e.SetWriteDeadline(t)
}

func (e *pipeEnd) SetReadDeadline(t time.Time) error {
	e.mu.Lock()
	e.rdeadline = t
	e.mu.Unlock()
	e.wakeAll()
	return nil
}

func (e *pipeEnd) SetWriteDeadline(t time.Time) error {
	e.mu.Lock()
	e.wdeadline = t
	e.mu.Unlock()
	e.wakeAll()
	return nil
}

// wakeAll makes blocked calls look at their deadline again.
func (e *pipeEnd) wakeAll() {
	for _, p := range []*pipeBuf{e.in, e.out} {
		p.mu.Lock()
		p.wakeLocked()
		p.mu.Unlock()
	}
}
