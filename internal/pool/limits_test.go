package pool

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHostKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.2:3333", "127.0.0.2"},
		{"[::ffff:10.1.2.3]:1", "10.1.2.3"},
		{"[2001:db8:1:2:3:4:5:6]:3333", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:9", "2001:db8:1:2::/64"}, // same /64, same host
		{"[2001:db8:1:3::1]:9", "2001:db8:1:3::/64"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostKey(a); got != tc.want {
			t.Errorf("hostKey(%s): got %s, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestFitMaxConns(t *testing.T) {
	for _, tc := range []struct {
		max, reserve int
		limit        uint64
		want         int
		warn, err    bool
	}{
		{10000, 256, 1 << 20, 10000, false, false},
		{10000, 256, 10256, 10000, false, false},
		{20000, 256, 20000, 19744, true, false},
		{10000, 256, 1024, 768, true, false},
		{10000, 256, 256, 0, false, true},
	} {
		got, warn, err := fitMaxConns(tc.max, tc.reserve, tc.limit)
		if (err != nil) != tc.err || (warn != "") != tc.warn || (err == nil && got != tc.want) {
			t.Errorf("fitMaxConns(%d, %d, %d): got %d, %q, %v; want %d, warning %v, error %v", tc.max, tc.reserve, tc.limit, got, warn, err, tc.want, tc.warn, tc.err)
		}
	}
}

func TestAcceptBackoff(t *testing.T) {
	for _, err := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED,
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}} {
		if !acceptBackoff(err) {
			t.Errorf("acceptBackoff(%v): got false, want true (wait and retry)", err)
		}
	}
	for _, err := range []error{net.ErrClosed, errors.New("other")} {
		if acceptBackoff(err) {
			t.Errorf("acceptBackoff(%v): got true, want false (a broken listener)", err)
		}
	}
}

// TestHostTableBounded: addresses with no connection are forgotten once
// their rate bucket has refilled.
func TestHostTableBounded(t *testing.T) {
	s := &Server{cfg: Config{MaxConnsPerIP: 2, ConnRatePerIP: 10, ConnBurstPerIP: 3}, hosts: make(map[string]*host)}
	now := time.Now()
	for i := range 1000 {
		key := fmt.Sprint("10.0.0.", i)
		if r := s.admitHost(key, now); r != "" {
			t.Fatalf("first connection from %s refused: %s", key, r)
		}
		s.releaseHost(key)
	}
	if r := s.admitHost("a", now); r != "" {
		t.Fatal(r)
	}
	if r := s.admitHost("a", now); r != "" {
		t.Fatal(r)
	}
	if r := s.admitHost("a", now); r != reasonIPConnLimit {
		t.Errorf("third open connection: got %q, want %s", r, reasonIPConnLimit)
	}
	s.releaseHost("a")
	if r := s.admitHost("a", now); r != "" { // the third token (a refusal takes none)
		t.Fatal(r)
	}
	s.releaseHost("a")
	if r := s.admitHost("a", now); r != reasonIPRateLimit {
		t.Errorf("fourth connection in the same instant: got %q, want %s (burst 3)", r, reasonIPRateLimit)
	}
	s.pruneHosts(now.Add(time.Second))
	if len(s.hosts) != 1 || s.hosts["a"] == nil {
		keys := []string{}
		for k := range s.hosts {
			keys = append(keys, k)
		}
		t.Errorf("after prune: got %s, want only a (still connected)", strings.Join(keys, " "))
	}
}
