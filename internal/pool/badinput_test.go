package pool_test

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// waitClosed fails unless the server closes c within d.
func waitClosed(t *testing.T, c *stratumClient, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		t.Fatalf("%s: connection still open after %v", what, d)
	}
}

// TestBadInputClosesOnlyTheOffender sends each kind of bad traffic on its
// own connection while a healthy session keeps mining.
func TestBadInputClosesOnlyTheOffender(t *testing.T) {
	node := newFakeNode()
	cfg := protocolConfig()
	// Only the handshake-timeout case, on its own pool, has a short
	// deadline: here every other session (the healthy one, the one trying
	// wrong names) would race it under load, and end with a reason that
	// depends on timing.
	cfg.HandshakeTimeout = time.Minute
	cfg.MaxMsgRate, cfg.MsgBurst = 50, 20
	cfg.MaxLineLen = 1024
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})

	healthy := dial(t, h.addr)
	healthy.handshake("healthy")

	t.Run("oversized line", func(t *testing.T) {
		c := dial(t, h.addr)
		c.nc.Write(append(bytes.Repeat([]byte("x"), 4000), '\n'))
		waitClosed(t, c, 2*time.Second, "oversized line")
	})
	t.Run("malformed lines", func(t *testing.T) {
		c := dial(t, h.addr)
		c.nc.Write([]byte("this is not json\n"))
		select {
		case m := <-c.resps:
			if m.Error == nil || m.Error.Code != stratum.ErrOther {
				t.Errorf("malformed line: got error %v, want code 20", m.Error)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no error reply to a malformed line")
		}
		c.nc.Write([]byte(strings.Repeat("{\"id\":1,\"method\":5}\n", 10)))
		waitClosed(t, c, 2*time.Second, "repeated malformed lines")
	})
	t.Run("flood", func(t *testing.T) {
		c := dial(t, h.addr)
		c.nc.Write([]byte(strings.Repeat("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n", 200)))
		waitClosed(t, c, 2*time.Second, "flood")
	})
	t.Run("handshake timeout", func(t *testing.T) {
		short := cfg
		short.HandshakeTimeout = 300 * time.Millisecond
		hs := startHarness(t, harnessOpts{src: node, sub: node, cfg: short})
		c := dial(t, hs.addr)
		c.call(stratum.MethodSubscribe, []any{}) // subscribes but never authorizes
		waitClosed(t, c, 5*time.Second, "handshake timeout")
		waitDisconnects(t, hs, map[string]uint64{"handshake_timeout": 1})
	})
	t.Run("non-mining method before subscribe", func(t *testing.T) {
		c := dial(t, h.addr)
		c.send("client.hello", []any{})
		waitClosed(t, c, 2*time.Second, "method before subscribe")
	})
	t.Run("wrong worker names", func(t *testing.T) {
		c := dial(t, h.addr)
		c.call(stratum.MethodSubscribe, []any{})
		for _, name := range []string{"", "has space", strings.Repeat("w", 200), "quote\"d"} {
			if got := errCode(c.call(stratum.MethodAuthorize, []any{name, ""})); got != stratum.ErrUnauthorized {
				t.Errorf("authorize %.20q: got code %d, want %d", name, got, stratum.ErrUnauthorized)
			}
		}
		if got := errCode(c.call(stratum.MethodAuthorize, []any{42, ""})); got != stratum.ErrOther {
			t.Errorf("authorize with a number: got code %d, want %d", got, stratum.ErrOther)
		}
		c.nc.Close() // refused names cost the session nothing: it ends when the client leaves
	})

	// The healthy session still mines.
	shareT, _ := targets(t, 1e-12)
	healthy.call(stratum.MethodSuggestDifficulty, []any{1e-12})
	j := healthy.nextJob(5 * time.Second)
	sol := healthy.find(j, 0, func(h [32]byte) bool { return btc.MeetsTarget(&h, &shareT) })
	if got := errCode(healthy.call(stratum.MethodSubmit, sol.params("healthy", j.id))); got != 0 {
		t.Errorf("healthy session share: got code %d, want accepted", got)
	}
	waitDisconnects(t, h, map[string]uint64{"oversized_line": 1, "malformed": 1, "flood": 1, "protocol": 1, "client_closed": 1})
}

// waitDisconnects waits until the pool has counted exactly want's
// disconnects by reason (a closed client sees EOF just before its session's
// reason is counted), failing with the counts seen.
func waitDisconnects(t *testing.T, h *harness, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.pool.Stats().Disconnects
		same := true
		for reason, n := range got {
			if n != want[reason] {
				same = false
			}
		}
		for reason, n := range want {
			if got[reason] != n {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("disconnects by reason: got %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectionLimitAndIdleTimeout(t *testing.T) {
	node := newFakeNode()
	cfg := protocolConfig()
	cfg.MaxConns = 2
	// Long enough that a and b cannot idle out before the third connection
	// is refused, even on a loaded machine (it would then be served).
	cfg.IdleTimeout = 2 * time.Second
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	a := dial(t, h.addr)
	a.handshake("a")
	b := dial(t, h.addr)
	b.handshake("b")
	over := dial(t, h.addr)
	waitClosed(t, over, 2*time.Second, "connection over the limit")
	// a and b send nothing: both are closed as idle.
	waitClosed(t, a, 10*time.Second, "idle session")
	waitClosed(t, b, 10*time.Second, "idle session")
	waitFor(t, 2*time.Second, "idle disconnects counted", func() bool {
		st := h.pool.Stats()
		return st.Disconnects["idle_timeout"] == 2 && st.Disconnects["conn_limit"] == 1
	})
	// Below the limit again: new connections are served.
	c := dial(t, h.addr)
	c.handshake("c")
}

// TestSlowClientDropped: a client that never reads is disconnected once
// a write to it times out (the pool stopped reading its requests when its
// send queue was half full), and counted; the others keep getting work.
func TestSlowClientDropped(t *testing.T) {
	node := newFakeNode()
	cfg := protocolConfig()
	cfg.SendQueueLen = 8
	cfg.WriteTimeout = 500 * time.Millisecond
	cfg.MaxMsgRate, cfg.MsgBurst = 1e9, 1<<30
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	fast := dial(t, h.addr)
	fast.handshake("fast")

	// The slow client has a tiny receive window and never reads.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slow, err := d.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	done := make(chan struct{})
	go func() { // requests whose answers it never reads
		defer close(done)
		w := bufio.NewWriterSize(slow, 1<<16)
		line := []byte("{\"id\":1,\"method\":\"mining.ping\",\"params\":[]}\n")
		for range 400_000 {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
		w.Flush()
	}()
	waitFor(t, 60*time.Second, "slow client dropped", func() bool {
		return h.pool.Stats().Disconnects["slow_client"] == 1
	})
	<-done
	node.advance()
	if j := fast.nextJob(5 * time.Second); !j.clean {
		t.Errorf("fast client after the drop: got clean=%v, want a clean job", j.clean)
	}
}
