package pool_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/pool"
)

// rawSession opens a connection and completes subscribe + authorize with
// no client goroutine and a small buffer, so that the client side costs
// little memory. It returns after the first mining.notify.
func rawSession(tb testing.TB, addr, worker string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	fmt.Fprintf(nc, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n{\"id\":2,\"method\":\"mining.authorize\",\"params\":[%q,\"\"]}\n", worker)
	r := bufio.NewReaderSize(nc, 2048)
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			tb.Fatalf("handshake read: %v", err)
		}
		if bytes.Contains(line, []byte(`"mining.notify"`)) {
			break
		}
	}
	nc.SetReadDeadline(time.Time{})
	return nc, r
}

// manyConnsConfig lets one address (the benchmark's clients) open n
// connections at once.
func manyConnsConfig(n int) pool.Config {
	return pool.Config{MaxConns: n, MaxConnsPerIP: n, ConnRatePerIP: 1e9, ConnBurstPerIP: n}
}

// rss returns the process's resident set size in bytes (VmRSS).
func rss(tb testing.TB) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb * 1024
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func memStats() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// BenchmarkIdleConnMemory reports the memory (Go heap + goroutine stacks,
// after GC) per idle, authorized session: the server's two goroutines,
// buffers and session state, plus the test client's socket objects (no
// client goroutines). Run with -benchtime=1x. rss-B/conn (VmRSS growth,
// server and client objects together) means something only in a fresh
// process: run it with -count=1.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 1000
	node := newFakeNode()
	h := startHarness(b, harnessOpts{src: node, sub: node, cfg: manyConnsConfig(2 * conns)})
	before := memStats()
	rssBefore := rss(b)
	ncs := make([]net.Conn, 0, conns)
	for i := range conns {
		nc, _ := rawSession(b, h.addr, fmt.Sprintf("w%d", i))
		ncs = append(ncs, nc)
	}
	waitFor(b, 10*time.Second, "all sessions", func() bool { return h.pool.Stats().Sessions == conns })
	after := memStats()
	b.ReportMetric((rss(b)-rssBefore)/conns, "rss-B/conn")
	heap := float64(after.HeapInuse) - float64(before.HeapInuse)
	stack := float64(after.StackInuse) - float64(before.StackInuse)
	b.ReportMetric((heap+stack)/conns, "B/conn")
	b.ReportMetric(heap/conns, "heap-B/conn")
	b.ReportMetric(stack/conns, "stack-B/conn")
	for range b.N {
	}
	for _, nc := range ncs {
		nc.Close()
	}
}

// BenchmarkNewTipBroadcast1000 measures the time from a new tip at the node
// (a fake node on loopback; the real job.Manager longpolls it) until all
// 1,000 connected clients have read the clean mining.notify.
func BenchmarkNewTipBroadcast1000(b *testing.B) {
	const conns = 1000
	node := newFakeNode()
	reg := prometheus.NewRegistry()
	cfg := manyConnsConfig(2 * conns)
	cfg.Registerer = reg
	h := startHarness(b, harnessOpts{src: node, sub: node, cfg: cfg})
	var (
		mu   sync.Mutex
		cond = sync.NewCond(&mu)
		seen int
	)
	ncs := make([]net.Conn, 0, conns)
	for i := range conns {
		nc, r := rawSession(b, h.addr, fmt.Sprintf("w%d", i))
		ncs = append(ncs, nc)
		go func() {
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.Contains(line, []byte(`"mining.notify"`)) && bytes.HasSuffix(line, []byte("true]}\n")) {
					mu.Lock()
					seen++
					cond.Broadcast()
					mu.Unlock()
				}
			}
		}()
	}
	defer func() {
		for _, nc := range ncs {
			nc.Close()
		}
	}()
	var worst time.Duration
	b.ResetTimer()
	for range b.N {
		mu.Lock()
		seen = 0
		mu.Unlock()
		start := time.Now()
		node.advance()
		mu.Lock()
		for seen < conns {
			cond.Wait()
		}
		mu.Unlock()
		worst = max(worst, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
	// The pool's own share: queueing the notify on every session.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "hashfleet_pool_broadcast_seconds" {
			hg := mf.GetMetric()[0].GetHistogram()
			b.ReportMetric(hg.GetSampleSum()/float64(hg.GetSampleCount())*1e6, "queue-µs/tip")
		}
	}
}

// BenchmarkMaxSessions fills one server with idle, authorized sessions
// until it refuses more. The clients run in a second process (this test
// binary again, TestHoldSessionsChild) so that their descriptors do not
// count against the server's, from 100 loopback addresses. The server asks
// for MaxConns 1,000,000 and gets what its file descriptor limit allows
// less FDReserve (Go raises the soft limit to the hard one at start).
// Reported: sessions held, RSS per session, and whether the HTTP API still
// answered with the server full. Run with -benchtime=1x.
func BenchmarkMaxSessions(b *testing.B) {
	node := newFakeNodeBits(0x1d00ffff)
	h := startHarness(b, harnessOpts{src: node, sub: node, cfg: manyConnsConfig(1_000_000)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	api := &http.Server{Handler: h.pool.StatsHandler()}
	go api.Serve(ln)
	defer api.Close()
	runtime.GC()
	rssBefore := rss(b)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldSessionsChild$", "-test.v")
	cmd.Env = append(os.Environ(), "HASHFLEET_HOLD_SESSIONS="+h.addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	held := -1
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "held %d", &held); err == nil {
			break
		}
	}
	if held < 0 {
		b.Fatalf("the client process reported nothing")
	}
	st := h.pool.Stats()
	runtime.GC()
	rssAfter := rss(b)
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		b.Fatalf("HTTP API with the server full: %v", err)
	}
	resp.Body.Close()
	b.ReportMetric(float64(st.Sessions), "sessions")
	b.ReportMetric(float64(held), "client-held")
	b.ReportMetric(float64(st.Disconnects["conn_limit"]), "refused")
	b.ReportMetric((rssAfter-rssBefore)/float64(st.Sessions), "rss-B/session")
	for range b.N {
	}
}

// TestHoldSessionsChild is BenchmarkMaxSessions's client process: it opens
// sessions until the server has refused 50 in a row, prints "held N", and
// holds them until its stdin closes.
func TestHoldSessionsChild(t *testing.T) {
	addr := os.Getenv("HASHFLEET_HOLD_SESSIONS")
	if addr == "" {
		t.Skip("the client process of BenchmarkMaxSessions; runs only from it")
	}
	var held []net.Conn
	for i, refused := 0, 0; refused < 50; i++ {
		src := fmt.Sprintf("127.0.10.%d", 1+i%100)
		nc, err := tryRawSession(addr, src, fmt.Sprint("idle", i))
		if err != nil {
			refused++
			continue
		}
		refused = 0
		held = append(held, nc)
	}
	fmt.Printf("held %d\n", len(held))
	io.Copy(io.Discard, os.Stdin)
}
