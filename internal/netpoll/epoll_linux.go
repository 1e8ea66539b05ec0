package netpoll

import (
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pollers are the epoll loops, one per CPU (started on first use); a
// connection is served by pollers[fd % len].
var (
	pollersOnce sync.Once
	pollers     []*poller
	pollGen     atomic.Uint32 // registration generations, so a stale event for a reused fd is ignored
)

// poller is one epoll instance and the goroutine that waits on it.
type poller struct {
	epfd  int
	mu    sync.Mutex
	conns map[int32]*tcpConn

	waitFn func(epfd int, events []syscall.EpollEvent, msec int) (int, error) // syscall.EpollWait
	sleep  func(time.Duration)                                                // time.Sleep
}

// The pause after a failed epoll_wait doubles from minPause up to maxPause.
const (
	minPause = time.Millisecond
	maxPause = time.Second
)

func startPollers() {
	for range runtime.GOMAXPROCS(0) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			pollers = nil // readiness unavailable: wrapTCP falls back
			return
		}
		p := &poller{epfd: epfd, conns: map[int32]*tcpConn{}, waitFn: syscall.EpollWait, sleep: time.Sleep}
		pollers = append(pollers, p)
		go p.loop()
	}
}

func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	var pause time.Duration
	for {
		p.wait(events, &pause)
	}
}

// wait waits once and calls the f of every connection that became ready.
// epoll_wait fails only when interrupted, or on an invalid epoll
// descriptor or buffer, which would make it fail again at once: then every
// registered connection's f runs, so none waits for an event that cannot
// come (a reader finds out by reading, and re-arms), and the poller pauses
// for *pause, doubled each time, instead of spinning.
func (p *poller) wait(events []syscall.EpollEvent, pause *time.Duration) {
	n, err := p.waitFn(p.epfd, events, -1)
	if err == syscall.EINTR {
		return
	}
	if err != nil {
		p.mu.Lock()
		all := make([]*tcpConn, 0, len(p.conns))
		for _, c := range p.conns {
			all = append(all, c)
		}
		p.mu.Unlock()
		for _, c := range all {
			c.fire()
		}
		*pause = min(max(2**pause, minPause), maxPause)
		p.sleep(*pause)
		return
	}
	*pause = 0
	for _, ev := range events[:n] {
		p.mu.Lock()
		c := p.conns[ev.Fd]
		p.mu.Unlock()
		if c != nil && c.gen == uint32(ev.Pad) {
			c.fire()
		}
	}
}

// tcpConn is a TCP connection with readiness from a poller. Each
// OnReadable arms a one-shot, level-triggered registration, so input that
// arrives between a TryRead and the next OnReadable is still reported.
type tcpConn struct {
	*net.TCPConn
	rc  syscall.RawConn
	p   *poller
	fd  int32
	gen uint32

	mu         sync.Mutex
	f          func()
	registered bool
	closed     bool

	drained bool // the last TryRead did not fill its buffer (owned by the reader)
}

func wrapTCP(nc net.Conn) (Conn, bool) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, false
	}
	pollersOnce.Do(startPollers)
	if len(pollers) == 0 {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil || fd < 0 {
		return nil, false
	}
	c := &tcpConn{TCPConn: tc, rc: rc, p: pollers[fd%len(pollers)], fd: int32(fd), gen: pollGen.Add(1)}
	c.p.mu.Lock()
	c.p.conns[c.fd] = c
	c.p.mu.Unlock()
	return c, true
}

// fire calls the waiting f, if any, once.
func (c *tcpConn) fire() {
	c.mu.Lock()
	f := c.f
	c.f = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *tcpConn) OnReadable(f func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		f()
		return
	}
	c.f = f
	op := syscall.EPOLL_CTL_MOD
	if !c.registered {
		op = syscall.EPOLL_CTL_ADD
	}
	c.registered = true
	c.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.fd, Pad: int32(c.gen)}
	var cerr error
	// Under Control the descriptor cannot be closed (and its number
	// reused) while it is registered. If the Conn is closed meanwhile,
	// Close calls f.
	err := c.rc.Control(func(fd uintptr) { cerr = syscall.EpollCtl(c.p.epfd, op, int(fd), &ev) })
	if err == nil && cerr != nil {
		c.fire() // cannot wait for input: let f find out by reading
	}
}

// TryRead after a read that did not fill its buffer returns 0, nil
// without a system call: the socket is most likely empty, and if it is
// not, the OnReadable that follows reports it at once (level-triggered).
func (c *tcpConn) TryRead(p []byte) (int, error) {
	if c.drained {
		c.drained = false
		return 0, nil
	}
	var n int
	var serr error
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, serr = syscall.Read(int(fd), p)
			if serr != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case serr == syscall.EAGAIN:
		return 0, nil
	case serr != nil:
		return 0, serr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	c.drained = n < len(p)
	return n, nil
}

func (c *tcpConn) TryWrite(p []byte) (int, error) {
	var n int
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				break
			}
			if err != nil {
				serr = err
				break
			}
			n += m
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, serr
}

// Close closes the connection and calls a waiting f.
func (c *tcpConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.p.mu.Lock()
	if c.p.conns[c.fd] == c {
		delete(c.p.conns, c.fd)
	}
	c.p.mu.Unlock()
	err := c.TCPConn.Close() // the kernel drops the registration with the descriptor
	c.fire()
	return err
}
