package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashfleet/hashfleet/internal/dashboard/dashboardtest"
	"time"
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
