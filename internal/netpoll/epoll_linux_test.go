package netpoll

import (
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestPollerWaitError: an epoll_wait failure other than EINTR must neither
// spin nor strand a waiting connection: every registered connection's f
// runs (its reader then finds out by reading), and the poller pauses with
// a growing delay that resets after a successful wait.
func TestPollerWaitError(t *testing.T) {
	srv, client := tcpPair(t)
	c := srv.(*tcpConn)
	fired := readable(c)

	var pauses []time.Duration
	fails := 3
	p := &poller{epfd: c.p.epfd, conns: map[int32]*tcpConn{c.fd: c},
		sleep: func(d time.Duration) { pauses = append(pauses, d) },
		waitFn: func(int, []syscall.EpollEvent, int) (int, error) {
			if fails > 0 {
				fails--
				return 0, syscall.EBADF
			}
			return 0, nil
		},
	}
	events := make([]syscall.EpollEvent, 4)
	var pause time.Duration
	p.wait(events, &pause)
	select {
	case <-fired:
	default:
		t.Fatal("a failed epoll_wait left the waiting connection's f uncalled")
	}
	p.wait(events, &pause)
	p.wait(events, &pause)
	want := []time.Duration{minPause, 2 * minPause, 4 * minPause}
	if !slices.Equal(pauses, want) {
		t.Fatalf("pauses after 3 failures = %v, want %v", pauses, want)
	}
	p.wait(events, &pause) // succeeds
	if pause != 0 || len(pauses) != 3 {
		t.Fatalf("after a successful wait: pause %v, %d pauses; want 0 and no new pause", pause, len(pauses))
	}

	// EINTR is not a failure: no pause.
	p.waitFn = func(int, []syscall.EpollEvent, int) (int, error) { return 0, syscall.EINTR }
	p.wait(events, &pause)
	if len(pauses) != 3 {
		t.Fatalf("EINTR paused the poller: %v", pauses)
	}

	// The connection still works through the real poller afterwards.
	ch := readable(c)
	client.Write([]byte("x"))
	wait(t, ch, "input after the failed waits")
}

func TestPollerPauseIsBounded(t *testing.T) {
	var last time.Duration
	p := &poller{conns: map[int32]*tcpConn{},
		sleep:  func(d time.Duration) { last = d },
		waitFn: func(int, []syscall.EpollEvent, int) (int, error) { return 0, syscall.EINVAL },
	}
	var pause time.Duration
	for range 64 {
		p.wait(nil, &pause)
	}
	if last != maxPause {
		t.Fatalf("pause after 64 failures = %v, want the cap %v", last, maxPause)
	}
}
