//go:build !linux

package netpoll

import "net"

// wrapTCP has no readiness loop off Linux: Wrap uses a reader goroutine.
func wrapTCP(net.Conn) (Conn, bool) { return nil, false }
