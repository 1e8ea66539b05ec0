package pool

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Refusal reasons at accept (metric label values and Stats.Disconnects
// keys), besides reasonConnLimit.
const (
	reasonIPConnLimit = "ip_conn_limit" // the address already has MaxConnsPerIP open
	reasonIPRateLimit = "ip_rate_limit" // the address opens connections faster than ConnRatePerIP
	reasonNoShares    = "no_shares"     // closed near capacity: no accepted share within ShareTimeout
)

// nearCapacity is the share of MaxConns from which sessions without a
// recent accepted share are closed.
const nearCapacity = 0.9

// hostKey is the address a connection counts against: the IPv4 address,
// or the /64 of an IPv6 one (what one host is usually given).
func hostKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if v4 := ta.IP.To4(); v4 != nil {
		return v4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// host is what the pool knows about one address. Guarded by Server.mu.
type host struct {
	conns  int
	bucket tokenBucket // new connections
}

// admitHost decides whether a new connection from key may open (s.mu held)
// and counts it; reason is "" when it may.
func (s *Server) admitHost(key string, now time.Time) (reason string) {
	h := s.hosts[key]
	if h == nil {
		h = &host{bucket: tokenBucket{rate: s.cfg.ConnRatePerIP, burst: float64(s.cfg.ConnBurstPerIP)}}
		s.hosts[key] = h
	}
	if h.conns >= s.cfg.MaxConnsPerIP {
		return reasonIPConnLimit
	}
	if !h.bucket.take(now) {
		return reasonIPRateLimit
	}
	h.conns++
	return ""
}

// releaseHost counts a closed connection of key (s.mu held).
func (s *Server) releaseHost(key string) {
	if h := s.hosts[key]; h != nil && h.conns > 0 {
		h.conns--
	}
}

// pruneHosts forgets addresses with no connection whose rate bucket has
// refilled (s.mu held), so that the table is bounded by the addresses
// seen in the last few seconds plus those connected.
func (s *Server) pruneHosts(now time.Time) {
	for key, h := range s.hosts {
		if h.conns == 0 && h.bucket.full(now) {
			delete(s.hosts, key)
		}
	}
}

// full reports whether the bucket would be at its burst at now.
func (b *tokenBucket) full(now time.Time) bool {
	return b.last.IsZero() || b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst
}

// fdLimit returns the soft limit on open files (RLIMIT_NOFILE); Go raises
// it to the hard limit at start.
func fdLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit(RLIMIT_NOFILE): %w", err)
	}
	return rl.Cur, nil
}

// fitMaxConns lowers maxConns to what the fd limit allows after reserve
// descriptors for everything else, so that a full pool never starves the
// HTTP API or the node RPC of descriptors. warn says what it did ("" when
// nothing).
func fitMaxConns(maxConns, reserve int, limit uint64) (fit int, warn string, err error) {
	if limit >= uint64(maxConns+reserve) {
		return maxConns, "", nil
	}
	if limit <= uint64(reserve) {
		return 0, "", fmt.Errorf("file descriptor limit %d leaves nothing for Stratum connections after %d reserved (raise it: ulimit -n, LimitNOFILE=)", limit, reserve)
	}
	fit = int(limit) - reserve
	return fit, fmt.Sprintf("max connections %d exceed the file descriptor limit %d minus %d reserved for the HTTP API, the node RPC and the data dir: serving at most %d (raise the limit: ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=)",
		maxConns, limit, reserve, fit), nil
}

// acceptBackoff reports whether an Accept error is one to wait out
// (descriptors or memory short, a connection aborted before it was taken)
// rather than a broken listener.
func acceptBackoff(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
