package pool_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// stratumClient is a scripted Stratum v1 client for tests: one reader
// goroutine sorts incoming lines into responses and notifications.
type stratumClient struct {
	t      testing.TB
	nc     net.Conn
	nextID int
	resps  chan *stratum.Message
	notes  chan *stratum.Message
	closed chan struct{} // closed when the server closes the connection

	en1     []byte
	en2Size int
	diff    float64
	lastJob *notifyJob
}

// notifyJob is a decoded mining.notify.
type notifyJob struct {
	id    string
	work  btc.Work
	clean bool
}

func dial(t testing.TB, addr string) *stratumClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return wrapClient(t, nc)
}

// wrapClient starts the client's reader on an open connection.
func wrapClient(t testing.TB, nc net.Conn) *stratumClient {
	c := &stratumClient{t: t, nc: nc, resps: make(chan *stratum.Message, 64), notes: make(chan *stratum.Message, 4096), closed: make(chan struct{})}
	t.Cleanup(func() { nc.Close() })
	go func() {
		defer close(c.closed)
		r := stratum.NewReader(nc)
		for {
			m, err := r.Read()
			if err != nil {
				return
			}
			if m.Kind() == stratum.KindResponse {
				c.resps <- m
			} else {
				select {
				case c.notes <- m:
				default: // a test that ignores notifications
				}
			}
		}
	}()
	return c
}

// send writes a request without waiting.
func (c *stratumClient) send(method string, params any) int {
	c.nextID++
	req, err := stratum.NewRequest(uint64(c.nextID), method, params)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	line, _ := stratum.Encode(req)
	if _, err := c.nc.Write(line); err != nil {
		c.t.Fatalf("write %s: %v", method, err)
	}
	return c.nextID
}

// call sends a request and returns its response.
func (c *stratumClient) call(method string, params any) *stratum.Response {
	c.t.Helper()
	id := c.send(method, params)
	return c.response(id)
}

func (c *stratumClient) response(id int) *stratum.Response {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-c.resps:
			r := m.Response()
			if got, ok := r.IDUint(); ok && int(got) == id {
				return r
			}
		case <-c.closed:
			c.t.Fatalf("connection closed while waiting for response %d", id)
		case <-timeout:
			c.t.Fatalf("no response to request %d within 15s", id)
		}
	}
}

// handshake subscribes, authorizes as worker and reads the first
// set_difficulty and notify.
func (c *stratumClient) handshake(worker string) {
	c.t.Helper()
	r := c.call(stratum.MethodSubscribe, []any{"test/1.0"})
	var sub []json.RawMessage
	if r.Error != nil || json.Unmarshal(r.Result, &sub) != nil || len(sub) != 3 {
		c.t.Fatalf("subscribe: got result %s error %v", r.Result, r.Error)
	}
	var en1 string
	json.Unmarshal(sub[1], &en1)
	json.Unmarshal(sub[2], &c.en2Size)
	c.en1, _ = hex.DecodeString(en1)
	if err := c.call(stratum.MethodAuthorize, []any{worker, "x"}).Bool(); err != nil {
		c.t.Fatalf("authorize %q: %v", worker, err)
	}
	c.nextJob(5 * time.Second)
}

// nextJob reads notifications until a mining.notify, applying
// set_difficulty on the way.
func (c *stratumClient) nextJob(d time.Duration) *notifyJob {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-c.notes:
			switch m.Method {
			case stratum.MethodSetDifficulty:
				var p []float64
				if err := json.Unmarshal(m.Params, &p); err != nil || len(p) != 1 {
					c.t.Fatalf("set_difficulty params %s", m.Params)
				}
				c.diff = p[0]
			case stratum.MethodNotify:
				c.lastJob = parseNotify(c.t, m.Params)
				return c.lastJob
			}
		case <-c.closed:
			c.t.Fatalf("connection closed while waiting for a job")
		case <-timeout:
			c.t.Fatalf("no mining.notify within %v", d)
		}
	}
}

// waitNote reads notifications until one of method and returns it.
func (c *stratumClient) waitNote(method string, d time.Duration) *stratum.Message {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-c.notes:
			if m.Method == method {
				return m
			}
		case <-c.closed:
			c.t.Fatalf("connection closed while waiting for %s", method)
		case <-timeout:
			c.t.Fatalf("no %s within %v", method, d)
		}
	}
}

func parseNotify(t testing.TB, raw json.RawMessage) *notifyJob {
	t.Helper()
	var p []json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 9 {
		t.Fatalf("notify params %s: want 9 entries", raw)
	}
	var s [8]string
	var branch []string
	for i, k := range []int{0, 1, 2, 3, 5, 6, 7} {
		if err := json.Unmarshal(p[k], &s[i]); err != nil {
			t.Fatalf("notify param %d: %v", k, err)
		}
	}
	json.Unmarshal(p[4], &branch)
	var clean bool
	json.Unmarshal(p[8], &clean)
	w, err := btc.ParseNotify(s[1], s[2], s[3], branch, s[4], s[5], s[6])
	if err != nil {
		t.Fatalf("notify: %v", err)
	}
	return &notifyJob{id: s[0], work: w, clean: clean}
}

// solution is a header that satisfies a predicate, ready to submit.
type solution struct {
	en2          []byte
	ntime, nonce uint32
	version      uint32 // 0: no version bits sent
	hash         [32]byte
}

// find searches nonces for a header whose hash satisfies ok.
func (c *stratumClient) find(j *notifyJob, versionBits uint32, ok func(h [32]byte) bool) solution {
	c.t.Helper()
	en2 := make([]byte, c.en2Size)
	version := j.work.Version
	if versionBits != 0 {
		version = btc.RollVersion(j.work.Version, versionBits, 0x1fffe000)
	}
	for nonce := uint32(0); nonce < 1<<24; nonce++ {
		hdr := j.work.Header(c.en1, en2, j.work.Time, nonce, version)
		h := btc.BlockHash(&hdr)
		if ok(h) {
			return solution{en2: en2, ntime: j.work.Time, nonce: nonce, version: versionBits, hash: h}
		}
	}
	c.t.Fatalf("no nonce found")
	return solution{}
}

func (s solution) params(worker, jobID string) []any {
	p := []any{worker, jobID, hex.EncodeToString(s.en2), fmt.Sprintf("%08x", s.ntime), fmt.Sprintf("%08x", s.nonce)}
	if s.version != 0 {
		p = append(p, fmt.Sprintf("%08x", s.version))
	}
	return p
}

// errCode returns the Stratum error code of a response (0 for success).
func errCode(r *stratum.Response) int {
	if err := r.Bool(); err != nil {
		if se, ok := err.(*stratum.Error); ok {
			return se.Code
		}
		return -1
	}
	return 0
}

// targets for a session at difficulty d on regtest (bits 207fffff).
func targets(t testing.TB, d float64) (share, network [32]byte) {
	share, err := btc.DifficultyToTarget(d)
	if err != nil {
		t.Fatal(err)
	}
	network, _ = btc.CompactToTarget(0x207fffff)
	return share, network
}

var _ = strconv.Itoa
