package loadgen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/hashfleet/hashfleet/internal/netpoll"
)

// MemListener is a net.Listener whose connections are in-memory pipes
// (netpoll.Pipe: buffered, and each end says when it has input): a pool
// serving it holds sessions that need no file descriptor, so a single
// process can measure its own cost per session far beyond the open-file
// limit. Dial is the client side.
type MemListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewMemListener returns an open MemListener.
func NewMemListener() *MemListener {
	return &MemListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// errClosed is what Accept and Dial return once the listener is closed.
var errClosed = errors.New("loadgen: in-memory listener closed")

// Accept waits for the next Dial.
func (l *MemListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "mem", Err: errClosed}
	}
}

// Close stops Accept and Dial; open connections stay open.
func (l *MemListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's pretend address.
func (l *MemListener) Addr() net.Addr { return memServerAddr }

var memServerAddr = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:3333"))

// Dial opens session i's connection. Its remote address, as the pool sees
// it, is one of many 10.x.y.z addresses (50 sessions each, within the pool's default per-address burst), as if the
// miners came from many hosts: the pool's per-address limits apply as
// they would on the internet.
func (l *MemListener) Dial(ctx context.Context, i int) (net.Conn, error) {
	host := i / 50
	src := netip.AddrFrom4([4]byte{10, byte(host >> 16), byte(host >> 8), byte(host)})
	addr := net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(1024+i%50)))
	client, server := netpoll.Pipe(addr, memServerAddr)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, &net.OpError{Op: "dial", Net: "mem", Err: errClosed}
}
