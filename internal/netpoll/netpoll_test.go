package netpoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// pair returns a connected (server, client) pair of one transport; the
// server end is the Conn under test.
type pair func(t *testing.T) (Conn, net.Conn)

func tcpPair(t *testing.T) (Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); nc.Close() })
	return Wrap(nc), client
}

var addrA = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:1000"))
var addrB = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.2:2000"))

func pipePair(t *testing.T) (Conn, net.Conn) {
	a, b := Pipe(addrA, addrB)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func goPair(t *testing.T) (Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := Wrap(a)
	if _, ok := c.(*goConn); !ok {
		t.Fatalf("Wrap(net.Pipe end) is %T, want the reader-goroutine adapter", c)
	}
	return c, b
}

var transports = []struct {
	name string
	open pair
}{
	{"tcp", tcpPair},
	{"pipe", pipePair},
	{"goroutine", goPair},
}

// readable arms f on c and returns the channel it signals on.
func readable(c Conn) chan struct{} {
	ch := make(chan struct{}, 1)
	c.OnReadable(func() { ch <- struct{}{} })
	return ch
}

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("OnReadable's f was not called: %s", what)
	}
}

func TestReadiness(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, peer := tr.open(t)
			buf := make([]byte, 64)
			if n, err := c.TryRead(buf); n != 0 || err != nil {
				t.Fatalf("TryRead with nothing sent: got %d, %v; want 0, nil", n, err)
			}
			ch := readable(c)
			select {
			case <-ch:
				t.Fatalf("f called before any input")
			default:
			}
			go peer.Write([]byte("hello\n"))
			wait(t, ch, "after the peer wrote")
			var got []byte
			for len(got) < 6 {
				n, err := c.TryRead(buf)
				if err != nil {
					t.Fatalf("TryRead: %v", err)
				}
				if n == 0 { // goroutine adapter: the rest comes with the next f
					wait(t, readable(c), "for the rest")
				}
				got = append(got, buf[:n]...)
			}
			if string(got) != "hello\n" {
				t.Fatalf("read %q, want %q", got, "hello\n")
			}
			if n, err := c.TryRead(buf); n != 0 || err != nil {
				t.Fatalf("TryRead after everything was read: got %d, %v; want 0, nil", n, err)
			}
			ch = readable(c)
			peer.Close()
			wait(t, ch, "after the peer closed")
			if n, err := c.TryRead(buf); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("TryRead after the peer closed: got %d, %v; want 0, EOF", n, err)
			}
		})
	}
}

func TestCloseCallsWaitingF(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, _ := tr.open(t)
			ch := readable(c)
			c.Close()
			wait(t, ch, "after Close")
			wait(t, readable(c), "OnReadable after Close")
			if _, err := c.TryRead(make([]byte, 8)); err == nil {
				t.Fatalf("TryRead after Close: nil error")
			}
		})
	}
}

// TestTryWriteShort fills the peer's receive side without the peer reading:
// TryWrite then writes less than asked, without an error and without
// blocking; once the peer reads, a blocking Write sends the rest.
func TestTryWriteShort(t *testing.T) {
	for _, tr := range transports[:2] { // the goroutine adapter never writes without blocking
		t.Run(tr.name, func(t *testing.T) {
			c, peer := tr.open(t)
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			sent := 0
			for i := 0; ; i++ {
				n, err := c.TryWrite(chunk)
				if err != nil {
					t.Fatalf("TryWrite: %v", err)
				}
				sent += n
				if n < len(chunk) {
					break
				}
				if i > 1000 {
					t.Fatalf("64 MiB written without the peer reading: TryWrite never came short")
				}
			}
			done := make(chan error, 1)
			go func() {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				_, err := c.Write(chunk)
				done <- err
			}()
			got, err := io.ReadFull(peer, make([]byte, sent+len(chunk)))
			if err != nil {
				t.Fatalf("peer read %d of %d: %v", got, sent+len(chunk), err)
			}
			if err := <-done; err != nil {
				t.Fatalf("blocking Write after a short TryWrite: %v", err)
			}
		})
	}
}

func TestPipeDeadlinesAndEOF(t *testing.T) {
	a, b := Pipe(addrA, addrB)
	defer a.Close()
	if a.LocalAddr() != addrA || a.RemoteAddr() != addrB || b.LocalAddr() != addrB {
		t.Fatalf("addresses: a %v→%v, b %v", a.LocalAddr(), a.RemoteAddr(), b.LocalAddr())
	}
	b.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: got %v, want os.ErrDeadlineExceeded", err)
	}
	a.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	n, err := a.Write(make([]byte, PipeBuffer+1))
	if n != PipeBuffer || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write of more than the buffer, nobody reading: got %d, %v; want %d, os.ErrDeadlineExceeded", n, err, PipeBuffer)
	}
	a.Close()
	b.SetReadDeadline(time.Time{})
	got, err := io.ReadAll(b)
	if len(got) != PipeBuffer || err != nil {
		t.Fatalf("after the writer closed: read %d bytes, %v; want %d and EOF", len(got), err, PipeBuffer)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatalf("Write to a closed peer: nil error")
	}
}
