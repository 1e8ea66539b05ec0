package pool_test

// The hostile-client suite: every attack a client can make on the pool
// from the network, each on loopback and bounded in time, and each
// checking that an honest miner (the probe) is still served while it runs.
// badinput_test.go holds the older single-connection cases (malformed
// JSON, oversized lines, floods of one connection, slowloris handshakes,
// slow readers).

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
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
	flood(3)                           // the honest name has credit now: it stays
	time.Sleep(100 * time.Millisecond) // a few flushes

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

var _ = json.Marshal
