package dashboard

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ChromiumPath finds Debian's chromium, or skips (fails under
// HASHFLEET_REQUIRE_INTEGRATION=1, as in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: install Debian's chromium (apt-get install chromium) to run the browser test"
	if os.Getenv("HASHFLEET_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowserShowsLiveUpdates opens the dashboard in real headless chromium
// and checks that live updates arrive over SSE, the hash rate shown moves,
// and a block found after the page loaded appears, on a desktop and on a
// phone-sized screen. Screenshots go to $HASHFLEET_ARTIFACTS when set.
func TestBrowserShowsLiveUpdates(t *testing.T) {
	chrome := chromiumPath(t)
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
			b := startBrowser(t, chrome)
			if err := b.open(ctx, ts.URL+"/", size.width, size.height); err != nil {
				t.Fatal(err)
			}
			if err := b.waitFor(ctx, `Number(document.body.dataset.updates||0) >= 1`); err != nil {
				t.Fatalf("no live update reached the page: %v", err)
			}
			var first string
			if err := b.eval(ctx, `document.getElementById("hashrate").textContent`, &first); err != nil {
				t.Fatal(err)
			}
			if err := b.waitFor(ctx, `document.getElementById("hashrate").textContent !== `+jsString(first)); err != nil {
				t.Fatalf("hash rate stayed at %q: %v", first, err)
			}
			// A block found now, after the page loaded, must appear live.
			src.foundAt.Store(0)
			if err := b.waitFor(ctx, `!!document.querySelector('#blocks-found tr[data-hash="`+foundHash+`"]')`); err != nil {
				t.Fatalf("found block never appeared: %v", err)
			}
			var found string
			if err := b.eval(ctx, `document.getElementById("found").textContent`, &found); err != nil || found != "1" {
				t.Errorf("blocks-found counter = %q (%v), want 1", found, err)
			}
			// No horizontal overflow of the page on a phone.
			var overflow bool
			if err := b.eval(ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow); err != nil || overflow {
				t.Errorf("page wider than the %dpx screen (overflow=%v, err=%v)", size.width, overflow, err)
			}
			time.Sleep(500 * time.Millisecond) // let the chart draw a few points
			shot := filepath.Join(dir, "dashboard-"+size.name+".png")
			if err := b.screenshot(ctx, shot); err != nil {
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

func jsString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
