package pool_test

// The hostile-client suite: every attack a client can make on the pool
// from the network, each on loopback and bounded in time, and each
// checking that an honest miner (the probe) is still served while it runs.
// badinput_test.go holds the older single-connection cases (malformed
// JSON, oversized lines, floods of one connection, slowloris handshakes,
// slow readers).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/obs"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// probeConfig pins the share difficulty at 1e-12 (every hash is a share)
// so that the probe's shares are never low-difficulty whatever vardiff
// would do.
func probeConfig() pool.Config {
	return pool.Config{MinDiff: 1e-12, MaxDiff: 1e-12, InitialDiff: 1e-12}
}

// probe is an honest miner that submits valid shares, one at a time, on
// its own session while an attack runs, and records how long each answer
// took. It never submits a block (shares that meet the network target are
// skipped) so the job it mines stays current.
type probe struct {
	c    *stratumClient
	name string
	net  [32]byte

	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	lat  []time.Duration
	errs []string
}

// startProbe connects from addr (dialed from src when not empty) and
// starts mining.
func startProbe(t *testing.T, addr, src, name string) *probe {
	t.Helper()
	c := dialFrom(t, addr, src)
	c.handshake(name)
	_, network := targets(t, 1)
	p := &probe{c: c, name: name, net: network, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	t.Cleanup(func() { p.halt() })
	return p
}

func (p *probe) run() {
	defer close(p.done)
	j := p.c.lastJob
	en2 := make([]byte, p.c.en2Size)
	nonce := uint32(0)
	for {
		select {
		case <-p.stop:
			return
		case m := <-p.c.notes:
			if m.Method == stratum.MethodNotify {
				j = parseNotify(p.c.t, m.Params)
			}
			continue
		default:
		}
		// The next nonce whose hash is a share but no block.
		for {
			nonce++
			hdr := j.work.Header(p.c.en1, en2, j.work.Time, nonce, j.work.Version)
			if h := btc.BlockHash(&hdr); !btc.MeetsTarget(&h, &p.net) {
				break
			}
		}
		p.c.nextID++
		id := p.c.nextID
		req, _ := stratum.NewRequest(uint64(id), stratum.MethodSubmit,
			[]any{p.name, j.id, hex.EncodeToString(en2), fmt.Sprintf("%08x", j.work.Time), fmt.Sprintf("%08x", nonce)})
		line, _ := stratum.Encode(req)
		start := time.Now()
		if _, err := p.c.nc.Write(line); err != nil {
			p.fail("write: " + err.Error())
			return
		}
		if err := p.await(id); err != "" {
			p.fail(err)
			if strings.HasPrefix(err, "closed") || strings.HasPrefix(err, "no answer") {
				return
			}
			continue
		}
		p.mu.Lock()
		p.lat = append(p.lat, time.Since(start))
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond) // pace: a miner (under MaxMsgRate), not a second flood
	}
}

// await waits for the answer to request id; "" means accepted.
func (p *probe) await(id int) string {
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m := <-p.c.resps:
			r := m.Response()
			if got, ok := r.IDUint(); !ok || int(got) != id {
				continue
			}
			if err := r.Bool(); err != nil {
				return "rejected: " + err.Error()
			}
			return ""
		case <-p.c.closed:
			return "closed by the server"
		case <-timeout:
			return "no answer within 60s"
		}
	}
}

func (p *probe) fail(msg string) {
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

func (p *probe) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lat)
}

func (p *probe) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// served waits until the probe has had n more shares accepted than it had
// at mark (so they were answered while the attack held), then checks that
// none was refused, and logs the answer latencies.
func (p *probe) served(t *testing.T, mark, n int, attack string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.count() < mark+n {
		p.mu.Lock()
		errs := slices.Clone(p.errs)
		p.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("%s: honest miner refused or dropped: %v", attack, errs)
		}
		select {
		case <-p.done:
			t.Fatalf("%s: honest miner stopped after %d shares: %v", attack, p.count(), errs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: honest miner got %d shares accepted in 60s, want %d", attack, p.count()-mark, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.mu.Lock()
	lat := slices.Clone(p.lat[mark:])
	errs := slices.Clone(p.errs)
	p.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%s: honest miner refused or dropped: %v", attack, errs)
	}
	slices.Sort(lat)
	t.Logf("%s: honest share latency over %d shares: p50 %v, p99 %v, max %v", attack, len(lat),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// dialFrom dials addr from the local address src (a 127.0.0.x address,
// to stand for another host); src "" lets the kernel choose.
func dialFrom(t testing.TB, addr, src string) *stratumClient {
	t.Helper()
	if src == "" {
		return dial(t, addr)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	return wrapClient(t, nc)
}

func workerNames(st pool.Stats) []string {
	var out []string
	for _, w := range st.Workers {
		out = append(out, w.Name)
	}
	return out
}

// TestWorkerNameFlood: a client without credentials authorizes names by
// the thousand (each with one bad share). The names never crowd out an
// honest miner's credit, are never written to the data dir, and are
// forgotten once their connections close.
func TestWorkerNameFlood(t *testing.T) {
	node := newFakeNode()
	dir := t.TempDir()
	cfg := protocolConfig()
	cfg.InitialDiff = 1e-12
	cfg.MaxWorkerNames = 20
	cfg.FlushInterval = 20 * time.Millisecond
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})

	var held []*stratumClient
	flood := func(conns int) {
		for range conns {
			c := dial(t, h.addr)
			c.call(stratum.MethodSubscribe, []any{})
			for k := range 16 {
				name := fmt.Sprintf("junk%d", len(held)*16+k)
				if err := c.call(stratum.MethodAuthorize, []any{name, ""}).Bool(); err != nil {
					t.Fatalf("authorize %s: %v", name, err)
				}
				if errCode(c.call(stratum.MethodSubmit, []any{name, "nojob", "00", "00000000", "00000000"})) == 0 {
					t.Fatalf("a bad share was accepted")
				}
			}
			held = append(held, c)
		}
	}
	flood(3) // 48 names in a table of 20
	honest := dial(t, h.addr)
	honest.handshake("honest")
	flood(3) // pushes the honest name, which has no share yet, out
	hash := mineBlock(t, honest, "honest")
	waitSettled(t, h, hash)
	flood(3) // the honest name has credit now: it stays

	st := h.pool.Stats()
	w := workerStats(st, "honest")
	if w == nil || w.Accepted != 1 || w.Blocks != 1 {
		t.Fatalf("honest worker during the flood: got %+v, want 1 accepted share and 1 block", w)
	}
	if n := len(st.Workers); n > cfg.MaxWorkerNames+1 {
		t.Errorf("worker table holds %d names, want at most %d + 1", n, cfg.MaxWorkerNames)
	}
	for _, c := range held {
		c.nc.Close()
	}
	waitFor(t, 10*time.Second, "the flood's names to be forgotten", func() bool {
		return slices.Equal(workerNames(h.pool.Stats()), []string{"honest"})
	})
	h.stop(t)

	h2 := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, dataDir: dir})
	st = h2.pool.Stats()
	if got := workerNames(st); !slices.Equal(got, []string{"honest"}) {
		t.Fatalf("names after a restart: got %v, want only honest", got)
	}
	if w := workerStats(st, "honest"); w.Accepted != 1 || w.Blocks != 1 || len(st.Blocks) != 1 || st.Blocks[0].Hash != hash {
		t.Fatalf("after a restart: got %+v and blocks %+v, want 1 share and block %s", w, st.Blocks, hash)
	}
}

// TestWorkerNameFloodWhileMining runs the name flood without pause while
// an honest miner mines: every one of its shares is answered and
// credited.
func TestWorkerNameFloodWhileMining(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.MaxWorkerNames = 50
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "", "honest")
	mark := p.count()
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		names := 0
		for {
			select {
			case <-stop:
				done <- names
				return
			default:
			}
			nc, err := net.Dial("tcp", h.addr)
			if err != nil {
				continue
			}
			var b strings.Builder
			b.WriteString("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
			for k := range 16 {
				fmt.Fprintf(&b, "{\"id\":%d,\"method\":\"mining.authorize\",\"params\":[\"junk%d\",\"\"]}\n", k+2, names+k)
				fmt.Fprintf(&b, "{\"id\":99,\"method\":\"mining.submit\",\"params\":[\"junk%d\",\"x\",\"00\",\"00000000\",\"00000000\"]}\n", names+k)
			}
			nc.Write([]byte(b.String()))
			buf := make([]byte, 8192)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for n := 0; n < 33; { // the answers (and notifications) before closing
				k, err := nc.Read(buf)
				if err != nil {
					break
				}
				n += strings.Count(string(buf[:k]), "\"id\":")
			}
			nc.Close()
			names += 16
		}
	}()
	p.served(t, mark, 50, "worker-name flood")
	close(stop)
	names := <-done
	st := h.pool.Stats()
	if w := workerStats(st, "honest"); w == nil || w.Accepted < 50 {
		t.Fatalf("honest worker after %d flooded names: got %+v, want at least 50 accepted shares", names, w)
	}
	t.Logf("%d names flooded", names)
}

// pipeline writes n mining.ping requests (ids 1..n) in one write.
func pipeline(t *testing.T, c *stratumClient, n int) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"method\":\"mining.ping\",\"params\":[]}\n", i)
	}
	if _, err := c.nc.Write([]byte(b.String())); err != nil {
		t.Fatalf("pipelined write: %v", err)
	}
	c.nextID = n
}

// TestPipelinedRequests: a client that sends the documented burst of
// 1,000 requests in one write and reads its answers gets every answer
// (the pool stops reading while its send queue is half full instead of
// dropping it); a client that sends bursts of 1,000 and never reads is
// dropped as slow_client once a write to it times out; the honest miner is
// served throughout.
func TestPipelinedRequests(t *testing.T) {
	t.Run("reading client", func(t *testing.T) {
		node := newFakeNodeBits(0x1d00ffff)
		h := startHarness(t, harnessOpts{src: node, sub: node, cfg: probeConfig()}) // default queue, rate and burst
		p := startProbe(t, h.addr, "", "honest")
		mark := p.count()
		for range 3 {
			c := dial(t, h.addr)
			pipeline(t, c, 1000)
			for id := 1; id <= 1000; id++ {
				if r := c.response(id); r.Error != nil {
					t.Fatalf("ping %d: %v", id, r.Error)
				}
			}
			c.handshake("pipeliner") // still connected and served
		}
		p.served(t, mark, 20, "pipelined requests")
		if n := h.pool.Stats().Disconnects["slow_client"]; n != 0 {
			t.Fatalf("slow_client disconnects: got %d, want 0", n)
		}
	})
	t.Run("non-reading client", func(t *testing.T) {
		node := newFakeNodeBits(0x1d00ffff)
		cfg := probeConfig()
		cfg.WriteTimeout = 500 * time.Millisecond
		cfg.MaxMsgRate = 1e6 // so that the socket buffers fill in a second, not a minute
		h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
		p := startProbe(t, h.addr, "", "honest")
		mark := p.count()
		c := dialSmallWindow(t, h.addr)
		req := []byte(strings.Repeat("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"a-long-user-agent-to-make-answers-bigger\"]}\n", 1000))
		go func() {
			for {
				if _, err := c.Write(req); err != nil {
					return
				}
			}
		}()
		waitFor(t, 30*time.Second, "the non-reading client dropped as slow_client", func() bool {
			return h.pool.Stats().Disconnects["slow_client"] == 1
		})
		p.served(t, mark, 20, "non-reading pipelining client")
		if n := h.pool.Stats().Disconnects["flood"]; n != 0 {
			t.Errorf("flood disconnects: got %d, want 0", n)
		}
	})
}

// dialSmallWindow dials with a 4 KiB receive buffer, for a client that
// never reads.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// tryRawSession opens a session from src (see rawSession) and returns an
// error instead of failing when the pool refuses or closes it.
func tryRawSession(addr, src, worker string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(nc, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n{\"id\":2,\"method\":\"mining.authorize\",\"params\":[%q,\"\"]}\n{\"id\":3,\"method\":\"mining.ping\",\"params\":[]}\n", worker)
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "\"mining.notify\"") {
		n, err := nc.Read(buf)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("session from %s: %w", src, err)
		}
		got = append(got, buf[:n]...)
	}
	nc.SetReadDeadline(time.Time{})
	return nc, nil
}

// holdSessions opens n ping-only sessions from src and returns how many
// the pool kept.
func holdSessions(t *testing.T, addr, src string, n int) (kept []net.Conn) {
	t.Helper()
	for i := range n {
		nc, err := tryRawSession(addr, src, fmt.Sprintf("squatter%d", i))
		if err != nil {
			continue
		}
		kept = append(kept, nc)
	}
	t.Cleanup(func() {
		for _, nc := range kept {
			nc.Close()
		}
	})
	return kept
}

// TestOneHostCannotTakeEverySlot: one address holding logged-in sessions
// is capped at MaxConnsPerIP; the others' miners get in and are served.
func TestOneHostCannotTakeEverySlot(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.MaxConns, cfg.MaxConnsPerIP = 40, 10
	cfg.ConnRatePerIP, cfg.ConnBurstPerIP = 1e6, 1e6
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "127.0.0.3", "honest")
	mark := p.count()
	if kept := holdSessions(t, h.addr, "127.0.0.2", 30); len(kept) != 10 {
		t.Fatalf("sessions one address holds: got %d, want MaxConnsPerIP 10", len(kept))
	}
	if n := h.pool.Stats().Disconnects["ip_conn_limit"]; n != 20 {
		t.Errorf("ip_conn_limit refusals: got %d, want 20", n)
	}
	nc, err := tryRawSession(h.addr, "127.0.0.4", "newcomer")
	if err != nil {
		t.Fatalf("a miner from another address: %v", err)
	}
	nc.Close()
	p.served(t, mark, 20, "one host holding its connection limit")
}

// TestConnectionRatePerHost: one address opening connections in a loop is
// refused beyond its burst; another address is not.
func TestConnectionRatePerHost(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.ConnRatePerIP, cfg.ConnBurstPerIP = 0.5, 5
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "127.0.0.3", "honest")
	mark := p.count()
	served := 0
	for i := range 50 {
		if nc, err := tryRawSession(h.addr, "127.0.0.2", fmt.Sprint("cycler", i)); err == nil {
			served++
			nc.Close()
		}
	}
	// 5 from the burst, and at most one more per 2 s of the loop.
	if served < 5 || served > 10 {
		t.Errorf("sessions opened by 50 quick connections from one address: got %d, want the burst of 5 (+1 per 2s)", served)
	}
	if n := h.pool.Stats().Disconnects["ip_rate_limit"]; n != uint64(50-served) {
		t.Errorf("ip_rate_limit refusals: got %d, want %d", n, 50-served)
	}
	nc, err := tryRawSession(h.addr, "127.0.0.4", "newcomer")
	if err != nil {
		t.Fatalf("a miner from another address: %v", err)
	}
	nc.Close()
	p.served(t, mark, 20, "connection cycling from one host")
}

// TestPingDoesNotHoldASlot: sessions from many addresses fill the pool and
// keep alive with mining.ping but never submit a share. A new miner is
// refused at first, then gets in because the full pool closes sessions
// without a share in ShareTimeout; the miner that mines is never closed.
func TestPingDoesNotHoldASlot(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.MaxConns = 20
	cfg.ShareTimeout = 500 * time.Millisecond
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "127.0.0.3", "honest")
	mark := p.count()
	held := 0
	for i := range 19 {
		held += len(holdSessions(t, h.addr, fmt.Sprintf("127.0.1.%d", i+1), 1))
	}
	if held != 19 {
		t.Fatalf("ping-only sessions: got %d, want 19 (the pool is then full)", held)
	}
	var newcomer net.Conn
	waitFor(t, 30*time.Second, "a new miner to get a slot in the full pool", func() bool {
		nc, err := tryRawSession(h.addr, "127.0.0.4", "newcomer")
		newcomer = nc
		return err == nil
	})
	newcomer.Close()
	st := h.pool.Stats()
	if st.Disconnects["no_shares"] == 0 {
		t.Errorf("no_shares closes: got 0, want the ping-only sessions closed (disconnects %v)", st.Disconnects)
	}
	p.served(t, mark, 20, "ping-only sessions filling the pool")
}

// TestMaxConnsFitsTheFDLimit runs itself in a child process with a low
// file descriptor limit: the pool warns and serves only as many
// connections as leave FDReserve descriptors, so that, full, it still
// answers HTTP.
func TestMaxConnsFitsTheFDLimit(t *testing.T) {
	if os.Getenv("HASHFLEET_FD_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMaxConnsFitsTheFDLimit$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "HASHFLEET_FD_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = 400
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	var logs safeBuffer
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.MaxConns = 1000 // FDReserve 256: 144 fit
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg, log: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "exceed the file descriptor limit 400") {
		t.Errorf("logs: got %q, want a warning about the file descriptor limit", logs.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := &http.Server{Handler: h.pool.StatsHandler()}
	go api.Serve(ln)
	defer api.Close()

	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i := range 200 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(i/50+1))}}
		nc, err := d.Dial("tcp", h.addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, nc)
	}
	waitFor(t, 20*time.Second, "144 connections served, 56 refused", func() bool {
		st := h.pool.Stats()
		return st.Connections == 144 && st.Disconnects["conn_limit"] == 56
	})
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("HTTP API with the pool full: %v", err)
	}
	var st pool.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Connections != 144 {
		t.Fatalf("HTTP API with the pool full: got %+v, %v", st.Connections, err)
	}
	resp.Body.Close()
}

// safeBuffer is a bytes.Buffer for concurrent log writes.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestHugeLinesAndGarbage: 10 MB lines, binary garbage and malformed JSON
// from several connections at once; each offender is closed, the honest
// miner mines on.
func TestHugeLinesAndGarbage(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.HandshakeTimeout = 2 * time.Second // for the connection that sends only empty lines
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "", "honest")
	mark := p.count()
	huge := bytes.Repeat([]byte("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\""), 1)
	huge = append(huge, bytes.Repeat([]byte("A"), 10<<20)...)
	payloads := [][]byte{
		append(slices.Clone(huge), "\"]}\n"...),                                                 // a 10 MB request
		bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 4<<20),                                           // 12 MB of binary, no newline
		[]byte(strings.Repeat("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]\n", 20)), // malformed JSON
		[]byte(strings.Repeat("\n", 1<<20)),                                                     // empty lines
		[]byte(strings.Repeat("{\"id\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"method\":\"mining.ping\"}\n", 20)),
	}
	var wg sync.WaitGroup
	for _, pl := range payloads {
		c := dial(t, h.addr)
		wg.Go(func() { c.nc.Write(pl) })
		select {
		case <-c.closed:
		case <-time.After(30 * time.Second):
			t.Errorf("payload %.30q…: connection still open after 30s", pl)
		}
	}
	wg.Wait()
	p.served(t, mark, 20, "10 MB lines and garbage")
}

// TestSlowloris: connections that drip a request a byte at a time, or
// subscribe and never authorize, are closed at the handshake timeout
// whatever they send; the honest miner mines on.
func TestSlowloris(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.HandshakeTimeout = time.Second
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "", "honest")
	mark := p.count()
	const n = 100
	var clients []*stratumClient
	for i := range n {
		c := dialFrom(t, h.addr, fmt.Sprintf("127.0.3.%d", i+1))
		clients = append(clients, c)
		if i%2 == 0 {
			c.send(stratum.MethodSubscribe, []any{})
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // drip one byte per connection every 50 ms
		line := []byte("{\"id\":1,\"method\":\"mining.authorize\",\"params\":[\"x\",\"y\"]}")
		for k := 0; ; k = (k + 1) % len(line) {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, c := range clients {
				c.nc.Write(line[k : k+1])
			}
		}
	}()
	for _, c := range clients {
		select {
		case <-c.closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("a slowloris connection is still open 30s after connecting")
		}
	}
	// The count follows the close the client saw.
	waitFor(t, 10*time.Second, "every slowloris connection counted as handshake_timeout", func() bool {
		return h.pool.Stats().Disconnects["handshake_timeout"] == n
	})
	p.served(t, mark, 20, "slowloris")
}

// TestBadCredentials: wrong passwords by the hundred are refused (code
// 24), create no worker name and no session, and a submit after a refusal
// is unauthorized; the honest miner (right password) mines on.
func TestBadCredentials(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	cfg := probeConfig()
	cfg.Password = "x" // what the probe's handshake sends
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: cfg})
	p := startProbe(t, h.addr, "", "honest")
	mark := p.count()
	for i := range 20 {
		c := dial(t, h.addr)
		c.call(stratum.MethodSubscribe, []any{})
		for k := range 10 {
			name := fmt.Sprintf("guess%d", i*10+k)
			for _, pass := range []any{"", "X", "x ", strings.Repeat("x", 3000), 7, nil} {
				if got := errCode(c.call(stratum.MethodAuthorize, []any{name, pass})); got != stratum.ErrUnauthorized {
					t.Fatalf("authorize %s with password %.10v: got code %d, want %d", name, pass, got, stratum.ErrUnauthorized)
				}
			}
			if got := errCode(c.call(stratum.MethodSubmit, []any{name, "1", "00", "00000000", "00000000"})); got != stratum.ErrUnauthorized {
				t.Fatalf("submit after a refused authorize: got code %d, want %d", got, stratum.ErrUnauthorized)
			}
		}
		c.nc.Close()
	}
	st := h.pool.Stats()
	if got := workerNames(st); !slices.Equal(got, []string{"honest"}) {
		t.Errorf("worker names: got %v, want only honest", got)
	}
	p.served(t, mark, 20, "bad credentials")
}

// TestPoolHTTPGarbage: the server's HTTP API (the obs mux with
// /api/stats, as `hashfleet server` mounts it) answers garbage with 4xx
// and keeps serving.
func TestPoolHTTPGarbage(t *testing.T) {
	node := newFakeNodeBits(0x1d00ffff)
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: probeConfig()})
	mux := obs.NewMux(obs.NewRegistry(), h.pool.Ready)
	mux.Handle("GET /api/stats", h.pool.StatsHandler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go obs.Serve(ctx, ln, mux)
	for _, tc := range []struct {
		raw  string
		want string // status line prefix
	}{
		{"GARBAGE\r\n\r\n", "HTTP/1.1 400"},
		{"\x00\x01\x02\x03\r\n\r\n", "HTTP/1.1 400"},
		{"GET /api/stats HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "HTTP/1.1 431"},
		{"POST /api/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 405"},
		{"GET /api/stats HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400"},
		{"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 307"}, // to the cleaned path, /etc/passwd: 404
		{"GET /api/stats HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505"},
	} {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		go nc.Write([]byte(tc.raw))
		line, err := bufio.NewReader(nc).ReadString('\n')
		nc.Close()
		if !strings.HasPrefix(line, tc.want) {
			t.Errorf("%.40q: got %q (%v), want %s", tc.raw, line, err, tc.want)
		}
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st pool.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stats after the garbage: status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}
