package netpoll

import (
	"net"
	"sync"
)

// Conn is a net.Conn that can also be used without blocking. The blocking
// methods of net.Conn keep working; a caller must not mix a blocking Read
// with TryRead, nor a blocking Write with TryWrite, at the same time.
type Conn interface {
	net.Conn
	// TryRead reads what has arrived without waiting: 0, nil when nothing
	// has (or, right after a read that did not fill its buffer, when
	// nothing more is likely: the caller then calls OnReadable, which
	// reports input that is there at once). After the peer closed, it
	// returns io.EOF; after Close, an error matching net.ErrClosed. One
	// goroutine at a time may call it.
	TryRead(p []byte) (int, error)
	// TryWrite writes what fits without waiting: n < len(p) with a nil
	// error when the rest must wait (for a blocking Write). Conns that
	// cannot write without blocking always return 0, nil.
	TryWrite(p []byte) (int, error)
	// OnReadable calls f once, the next time the connection has input, the
	// peer closed or the Conn was closed; at once (on the caller's
	// goroutine) when that is already so, or when the Conn is closed. A
	// later call replaces an f not yet called. f runs on the poller's
	// goroutine or a writer's: it must not block (start a goroutine for
	// real work), and may call OnReadable again only after TryRead
	// returned 0, nil.
	OnReadable(f func())
}

// Wrap returns nc as a Conn: nc itself if it is one, an epoll-backed
// Conn for a TCP connection on Linux, else nc with a reader goroutine.
func Wrap(nc net.Conn) Conn {
	if c, ok := nc.(Conn); ok {
		return c
	}
	if c, ok := wrapTCP(nc); ok {
		return c
	}
	return &goConn{Conn: nc, drained: make(chan struct{}, 1)}
}

// goConn adapts a net.Conn that cannot signal readiness: once OnReadable
// is first called, a goroutine reads into a small array, hands the bytes
// over and waits until TryRead has taken them all before reading again.
// TryWrite writes nothing (writes go through the blocking Write).
type goConn struct {
	net.Conn
	drained chan struct{} // TryRead took the last pending byte (buffer 1)

	mu      sync.Mutex
	pending []byte
	err     error // the read error, reported once pending is empty
	f       func()
	started bool
}

func (g *goConn) readLoop() {
	var buf [512]byte
	for {
		n, err := g.Conn.Read(buf[:])
		g.mu.Lock()
		g.pending = append(g.pending, buf[:n]...)
		if err != nil {
			g.err = err
		}
		f := g.takeLocked()
		wait := len(g.pending) > 0
		g.mu.Unlock()
		if f != nil {
			f()
		}
		if err != nil {
			return
		}
		if wait {
			<-g.drained
		}
	}
}

// takeLocked returns f and forgets it when there is something to report.
func (g *goConn) takeLocked() func() {
	if len(g.pending) == 0 && g.err == nil {
		return nil
	}
	f := g.f
	g.f = nil
	return f
}

func (g *goConn) TryRead(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		if g.pending = g.pending[n:]; len(g.pending) == 0 {
			g.pending = nil
			select {
			case g.drained <- struct{}{}:
			default:
			}
		}
		return n, nil
	}
	return 0, g.err
}

func (g *goConn) TryWrite(p []byte) (int, error) { return 0, nil }

func (g *goConn) OnReadable(f func()) {
	g.mu.Lock()
	if len(g.pending) > 0 || g.err != nil {
		g.mu.Unlock()
		f()
		return
	}
	g.f = f
	start := !g.started
	g.started = true
	g.mu.Unlock()
	if start {
		go g.readLoop()
	}
}
