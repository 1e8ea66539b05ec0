package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/dashboard/dashboardtest"
)

// TestBrowserShowsLiveUpdates opens the dashboard in real headless chromium
// and checks that live updates arrive over SSE, the hash rate shown moves,
// and a block found after the page loaded appears, on a desktop and on a
// phone-sized screen. Screenshots go to $HASHFLEET_ARTIFACTS when set.
func TestBrowserShowsLiveUpdates(t *testing.T) {
	chrome := dashboardtest.ChromiumPath(t)
	src := newFake(1 << 62)
	_, ts := newTestServer(t, src, 200*time.Millisecond)
	dir := os.Getenv("HASHFLEET_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 1000}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			b := dashboardtest.StartBrowser(t, chrome)
			if err := b.Open(ctx, ts.URL+"/", size.width, size.height); err != nil {
				t.Fatal(err)
			}
			if err := b.WaitFor(ctx, `Number(document.body.dataset.updates||0) >= 1`); err != nil {
				t.Fatalf("no live update reached the page: %v", err)
			}
			var first string
			if err := b.Eval(ctx, `document.getElementById("hashrate").textContent`, &first); err != nil {
				t.Fatal(err)
			}
			if err := b.WaitFor(ctx, `document.getElementById("hashrate").textContent !== `+dashboardtest.JSString(first)); err != nil {
				t.Fatalf("hash rate stayed at %q: %v", first, err)
			}
			// A block found now, after the page loaded, must appear live.
			src.foundAt.Store(0)
			if err := b.WaitFor(ctx, `!!document.querySelector('#blocks-found tr[data-hash="`+foundHash+`"]')`); err != nil {
				t.Fatalf("found block never appeared: %v", err)
			}
			var found string
			if err := b.Eval(ctx, `document.getElementById("found").textContent`, &found); err != nil || found != "1" {
				t.Errorf("blocks-found counter = %q (%v), want 1", found, err)
			}
			// No horizontal overflow of the page on a phone.
			var overflow bool
			if err := b.Eval(ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow); err != nil || overflow {
				t.Errorf("page wider than the %dpx screen (overflow=%v, err=%v)", size.width, overflow, err)
			}
			time.Sleep(500 * time.Millisecond) // let the chart draw a few points
			shot := filepath.Join(dir, "dashboard-"+size.name+".png")
			if err := b.Screenshot(ctx, shot); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(shot)
			if err != nil || fi.Size() < 5_000 {
				t.Fatalf("screenshot %s too small or missing: %v", shot, err)
			}
			t.Logf("screenshot %s (%d bytes)", shot, fi.Size())
			src.foundAt.Store(1 << 62)
		})
	}
}

// TestBrowserPagesFoundBlocksAndShowsTaskCause: with more blocks found
// than a live update carries, the page shows the total, the latest ones,
// and loads older ones on demand from /api/found; a failed task shows its
// cause.
func TestBrowserPagesFoundBlocksAndShowsTaskCause(t *testing.T) {
	chrome := dashboardtest.ChromiumPath(t)
	var all []Block
	for h := range 30 {
		all = append(all, Block{Height: int64(h + 1), Hash: fmt.Sprintf("%064x", h+1), Time: time.Now()})
	}
	src := SourceFunc(func(context.Context) (Snapshot, error) {
		return Snapshot{Server: Pool{Blocks: all}, Cluster: Cluster{Tasks: []Task{{ID: "hashfleet-server-1", Role: "server", State: "TASK_FAILED",
			Message: "Command exited with status 1; stderr: listen tcp 127.0.0.1:31000: bind: address already in use"}}}}, nil
	})
	d, err := New(Config{Source: src, Logger: slog.New(slog.DiscardHandler), Interval: 200 * time.Millisecond, RecentBlocks: 20})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()
	ts := httptest.NewServer(d.Handler())
	// Stopping the dashboard ends its event streams, so Close need not wait
	// for the browser.
	defer func() { stop(); <-done; ts.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	b := dashboardtest.StartBrowser(t, chrome)
	if err := b.Open(ctx, ts.URL+"/", 1280, 1000); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.getElementById("found").textContent === "30"`); err != nil {
		t.Fatalf("found counter never showed the total 30: %v", err)
	}
	var live int
	if err := b.Eval(ctx, `document.querySelectorAll('#blocks-found tr[data-hash]').length`, &live); err != nil || live != 20 {
		t.Errorf("live rows = %d (%v), want the latest 20", live, err)
	}
	if err := b.Eval(ctx, `document.getElementById("found-older").click(), 0`, new(int)); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.querySelectorAll('#found-old tr[data-hash]').length === 10`); err != nil {
		t.Fatalf("older blocks never loaded: %v", err)
	}
	var oldest string
	if err := b.Eval(ctx, `document.querySelector('#found-old tr:last-child').dataset.hash`, &oldest); err != nil || oldest != fmt.Sprintf("%064x", 1) {
		t.Errorf("last older row = %q (%v), want block 1", oldest, err)
	}
	if err := b.WaitFor(ctx, `(document.querySelector('#tasks .task-msg')||{}).textContent === "Command exited with status 1; stderr: listen tcp 127.0.0.1:31000: bind: address already in use"`); err != nil {
		t.Errorf("failed task's cause not shown: %v", err)
	}
}
