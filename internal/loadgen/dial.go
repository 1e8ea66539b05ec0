package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// SourceDialer dials addr over TCP from loopback source addresses
// 127.0.0.2, 127.0.0.3, ... (sources of them, round robin by session):
// each source address has its own ephemeral ports, and the pool counts
// its per-address limits per source.
func SourceDialer(addr string, sources int) (func(ctx context.Context, i int) (net.Conn, error), error) {
	if sources < 1 || sources > 250 {
		return nil, fmt.Errorf("loadgen: %d source addresses: want 1..250 (127.0.0.2-127.0.0.251)", sources)
	}
	return func(ctx context.Context, i int) (net.Conn, error) {
		src := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i%sources)})
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
		return d.DialContext(ctx, "tcp", addr)
	}, nil
}
