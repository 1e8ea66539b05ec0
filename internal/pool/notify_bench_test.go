package pool

import (
	"bytes"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/netpoll"
)

// BenchmarkNotifyEncode measures what a new tip costs the encoder for 1,000
// sessions: the job's shared notify params once, then one line per session
// (its job id and the clean flag). The broadcast figure in BENCHMARKS.md
// (BenchmarkNewTipBroadcast1000) includes this work.
func BenchmarkNotifyEncode(b *testing.B) {
	j := *newFixedJobs(b).j
	j.Branch = make([][32]byte, 12) // a block of a few thousand transactions
	for i := range j.Branch {
		j.Branch[i][0] = byte(i)
	}
	sids := make([]string, 1000)
	for i := range sids {
		sids[i] = strconv.FormatUint(uint64(i+1), 16)
	}
	b.ReportAllocs()
	for b.Loop() {
		body := notifyBody(&j)
		for _, sid := range sids {
			_ = body.AppendLine(make([]byte, 0, body.LineLen(len(sid))), sid, true)
		}
	}
}

// BenchmarkFanOutInMemory measures the pool's own cost of a new tip's
// broadcast to N idle sessions over in-memory pipes (netpoll.Pipe): the
// sessions' client ends only count the bytes that arrive, in the pipe's
// readiness callback, so the figure is the pool's fan-out (one notify line
// per session, written at once from the GOMAXPROCS workers) plus one
// buffered copy into each pipe. Reported: ms per tip and ns per session.
func BenchmarkFanOutInMemory(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchFanOut(b, n) })
	}
}

func benchFanOut(b *testing.B, n int) {
	jobs := newFixedJobs(b)
	s, err := New(Config{Jobs: jobs, Listener: memListener{}, ConnsNeedNoFDs: true, MaxConns: n,
		MaxConnsPerIP: n, ConnRatePerIP: 1e9, ConnBurstPerIP: n})
	if err != nil {
		b.Fatal(err)
	}
	s.publish(jobs.j)
	var lines atomic.Int64
	hello := []byte(`{"id":1,"method":"mining.subscribe","params":[]}` + "\n" + `{"id":2,"method":"mining.authorize","params":["w",""]}` + "\n")
	clients := make([]netpoll.Conn, n)
	for i := range n {
		client, server := netpoll.Pipe(memAddr, memAddr)
		clients[i] = client
		serveConn(s, server)
		var count func()
		buf := make([]byte, 4096)
		count = func() {
			for {
				k, err := client.TryRead(buf)
				if k == 0 {
					if err == nil {
						client.OnReadable(count)
					}
					return
				}
				lines.Add(int64(bytes.Count(buf[:k], []byte("\n"))))
			}
		}
		client.OnReadable(count)
		client.Write(hello)
	}
	// subscribe, authorize, set_difficulty, notify per session
	for lines.Load() < int64(4*n) {
		time.Sleep(time.Millisecond)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	j2 := *jobs.j
	b.ResetTimer()
	for i := range b.N {
		lines.Store(0)
		next := j2
		next.ID = strconv.Itoa(i + 2)
		s.publish(&next)
		for lines.Load() < int64(n) {
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/tip")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/session")
}

// memListener is only for New: benchFanOut serves its pipes itself.
type memListener struct{}

func (memListener) Accept() (net.Conn, error) { select {} }
func (memListener) Close() error              { return nil }
func (memListener) Addr() net.Addr            { return memAddr }

var memAddr = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:3333"))
