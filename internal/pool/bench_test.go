package pool_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
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
// client goroutines). Run with -benchtime=1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 1000
	node := newFakeNode()
	h := startHarness(b, harnessOpts{src: node, sub: node, cfg: pool.Config{MaxConns: 2 * conns}})
	before := memStats()
	ncs := make([]net.Conn, 0, conns)
	for i := range conns {
		nc, _ := rawSession(b, h.addr, fmt.Sprintf("w%d", i))
		ncs = append(ncs, nc)
	}
	waitFor(b, 10*time.Second, "all sessions", func() bool { return h.pool.Stats().Sessions == conns })
	after := memStats()
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
	h := startHarness(b, harnessOpts{src: node, sub: node, cfg: pool.Config{MaxConns: 2 * conns, Registerer: reg}})
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
