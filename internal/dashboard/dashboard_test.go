package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource is an in-memory Source whose hash rate grows with every sample
// and which reports a found block from sample foundAt on.
type fakeSource struct {
	n       atomic.Int64
	foundAt atomic.Int64
}

func newFake(foundAt int64) *fakeSource {
	f := &fakeSource{}
	f.foundAt.Store(foundAt)
	return f
}

const foundHash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"

func (f *fakeSource) Snapshot(context.Context) (Snapshot, error) {
	n := f.n.Add(1)
	s := Snapshot{
		Time: time.Now(),
		Server: Pool{
			Address: "127.0.0.1:3333", Connections: 2, Difficulty: 0.5, Accepted: uint64(n * 3),
			Rejected: map[string]uint64{"stale": 1},
		},
		Workers: []Worker{
			{Name: "w1", HashRate: float64(1_000_000 * n), Accepted: uint64(n)},
			{Name: "w2", HashRate: float64(2_000_000 * n), Accepted: uint64(2 * n)},
		},
		Chain: Chain{Network: "regtest", Height: 100 + n},
		Cluster: Cluster{Master: "embedded", FrameworkID: "fw-1", Tasks: []Task{
			{ID: "server-1", Role: "server", State: "TASK_RUNNING"},
		}},
	}
	if n >= f.foundAt.Load() {
		s.Server.Blocks = []Block{{Height: 101, Hash: foundHash, Time: time.Now()}}
	}
	return s, nil
}

type lookFunc func(ctx context.Context, hash string) (json.RawMessage, error)

func (f lookFunc) LookupBlock(ctx context.Context, hash string) (json.RawMessage, error) {
	return f(ctx, hash)
}

func newTestServer(t *testing.T, src Source, interval time.Duration) (*Server, *httptest.Server) {
	t.Helper()
	d, err := New(Config{
		Source: src, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Interval: interval, History: 5,
		Blocks: lookFunc(func(_ context.Context, hash string) (json.RawMessage, error) {
			if hash != foundHash {
				return nil, errors.New("node: block not found")
			}
			return json.RawMessage(`{"hash":"` + hash + `","height":101}`), nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	ts := httptest.NewServer(d.Handler())
	t.Cleanup(func() {
		ts.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard Run: %v", err)
		}
	})
	return d, ts
}

func TestNewValidates(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := New(Config{Logger: log}); err == nil {
		t.Error("New without Source: got nil error")
	}
	if _, err := New(Config{Source: newFake(0)}); err == nil {
		t.Error("New without Logger: got nil error")
	}
}

func TestHistoryIsBoundedAndTotals(t *testing.T) {
	d, _ := newTestServer(t, newFake(1), 5*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, h := d.Last()
		if len(h) == 5 {
			last := h[len(h)-1]
			if last.Total != last.Workers["w1"]+last.Workers["w2"] {
				t.Errorf("total %v, want sum of workers %v", last.Total, last.Workers["w1"]+last.Workers["w2"])
			}
			break
		}
		if len(h) > 5 {
			t.Fatalf("history has %d points, want at most 5", len(h))
		}
		if time.Now().After(deadline) {
			t.Fatalf("history never reached 5 points (have %d)", len(h))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Three more samples taken (the newest point changes each time): the
	// history stays at its cap.
	_, h := d.Last()
	newest := h[len(h)-1].Time
	for seen := 0; seen < 3; {
		_, h = d.Last()
		if len(h) != 5 {
			t.Fatalf("history has %d points after more samples, want the cap 5", len(h))
		}
		if t1 := h[len(h)-1].Time; !t1.Equal(newest) {
			newest = t1
			seen++
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new samples (saw %d)", seen)
		}
		time.Sleep(time.Millisecond) // poll
	}
}

func TestRoutes(t *testing.T) {
	d, ts := newTestServer(t, newFake(1), 10*time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, h := d.Last(); len(h) > 0 {
			break // a sample was taken: /api/history has a point
		}
		if time.Now().After(deadline) {
			t.Fatal("no sample taken within 10 s")
		}
	}
	tests := []struct {
		path     string
		wantCode int
		wantType string
		wantBody string
	}{
		{path: "/", wantCode: 200, wantType: "text/html", wantBody: `id="hashrate"`},
		{path: "/static/app.js", wantCode: 200, wantType: "javascript", wantBody: "EventSource"},
		{path: "/static/style.css", wantCode: 200, wantType: "text/css", wantBody: "@media"},
		{path: "/api/snapshot", wantCode: 200, wantType: "application/json", wantBody: `"regtest"`},
		{path: "/api/history", wantCode: 200, wantType: "application/json", wantBody: `"total"`},
		{path: "/api/blocks/" + foundHash, wantCode: 200, wantType: "application/json", wantBody: `"height":101`},
		{path: "/api/blocks/xyz", wantCode: 400, wantType: "application/json", wantBody: "64 lower-case hex"},
		{path: "/api/blocks/" + strings.Repeat("0", 64), wantCode: 502, wantType: "application/json", wantBody: "block not found"},
		{path: "/nope", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(ts.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.wantCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.wantType) {
				t.Errorf("content type %q, want %q", ct, tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %q does not contain %q", body, tt.wantBody)
			}
		})
	}
}

func TestEventsStreamSnapshots(t *testing.T) {
	_, ts := newTestServer(t, newFake(3), 10*time.Millisecond)
	resp, err := http.Get(ts.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q, want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var rates []float64
	sawBlock := false
	for sc.Scan() && (len(rates) < 4 || !sawBlock) {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Snapshot Snapshot `json:"snapshot"`
			Point    Point    `json:"point"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("bad event %q: %v", data, err)
		}
		rates = append(rates, ev.Point.Total)
		if len(ev.Snapshot.Server.Blocks) > 0 && ev.Snapshot.Server.Blocks[0].Hash == foundHash {
			sawBlock = true
		}
	}
	if !sawBlock {
		t.Errorf("stream ended without the found block")
	}
	if len(rates) < 2 || rates[len(rates)-1] <= rates[0] {
		t.Errorf("hash rate over the stream = %v, want it to grow", rates)
	}
}

// TestSlowSubscriberDropped checks that a browser that never reads is
// dropped instead of blocking the sampler.
func TestSlowSubscriberDropped(t *testing.T) {
	d, err := New(Config{Source: newFake(1), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := make(chan []byte, 1)
	d.subs[c] = struct{}{}
	for range 3 {
		d.sample(context.Background())
	}
	if _, ok := d.subs[c]; ok {
		t.Fatal("slow subscriber still registered, want dropped")
	}
	<-c // the one buffered message
	if _, ok := <-c; ok {
		t.Error("dropped subscriber channel not closed")
	}
}

// TestFoundBlocksPaged: with many found blocks, a pushed update carries
// only the latest RecentBlocks and the total; /api/found pages through all
// of them, newest first.
func TestFoundBlocksPaged(t *testing.T) {
	var all []Block
	for h := range 250 {
		all = append(all, Block{Height: int64(h + 1), Hash: fmt.Sprintf("%064x", h+1)})
	}
	src := SourceFunc(func(context.Context) (Snapshot, error) {
		return Snapshot{Server: Pool{Blocks: all}}, nil
	})
	d, err := New(Config{Source: src, Logger: slog.New(slog.DiscardHandler), RecentBlocks: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := make(chan []byte, 1)
	d.subs[c] = struct{}{}
	d.sample(context.Background())
	var ev struct {
		Snapshot Snapshot `json:"snapshot"`
	}
	msg := <-c
	if err := json.Unmarshal(msg, &ev); err != nil {
		t.Fatal(err)
	}
	b := ev.Snapshot.Server.Blocks
	if ev.Snapshot.Server.BlocksTotal != 250 || len(b) != 10 || b[0].Height != 241 || b[9].Height != 250 {
		t.Fatalf("pushed update: total %d, %d blocks (%v…), want total 250 and heights 241..250", ev.Snapshot.Server.BlocksTotal, len(b), b)
	}
	if len(msg) > 5000 {
		t.Errorf("pushed update is %d bytes with 250 blocks found, want it bounded", len(msg))
	}

	ts := httptest.NewServer(d.Handler())
	defer ts.Close()
	get := func(q string) (int, FoundPage) {
		resp, err := http.Get(ts.URL + "/api/found" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p FoundPage
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p
	}
	var heights []int64
	for off := 0; ; {
		code, p := get(fmt.Sprintf("?offset=%d&limit=100", off))
		if code != 200 || p.Total != 250 || p.Offset != off {
			t.Fatalf("page at %d: code %d, %+v", off, code, p)
		}
		if len(p.Blocks) == 0 {
			break
		}
		for _, b := range p.Blocks {
			heights = append(heights, b.Height)
		}
		off += len(p.Blocks)
	}
	if len(heights) != 250 || heights[0] != 250 || heights[249] != 1 {
		t.Fatalf("paged %d blocks (first %v, last %v), want all 250 newest first", len(heights), heights[0], heights[len(heights)-1])
	}
	if _, p := get(""); len(p.Blocks) != 10 || p.Blocks[0].Height != 250 {
		t.Errorf("default page: got %d blocks from %v, want the 10 newest", len(p.Blocks), p.Blocks)
	}
	for _, q := range []string{"?limit=0", "?limit=100000", "?offset=-1", "?offset=x"} {
		if code, _ := get(q); code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", q, code)
		}
	}
}
