package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/dashboard/dashboardtest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hashfleetBinary builds the real binary once per test process: the demo
// serves its own executable to the agent, so it must run as `hashfleet`,
// not as the test binary.
func hashfleetBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end demo test skipped with -short")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hashfleet-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hashfleet")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// orphans lists processes whose working directory is under dir (task
// sandboxes live there).
func orphans(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

func waitNoOrphans(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := orphans(dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind after the demo exited:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDemoMinesBlocks is the README's first command end to end: node,
// master, agent, scheduler, server task and worker tasks, until the node has
// accepted 3 blocks mined by the workers.
func TestDemoMinesBlocks(t *testing.T) {
	bin := hashfleetBinary(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--blocks", "3", "--json", "--http-listen", "127.0.0.1:0", "--timeout", "3m")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var sum demoSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("demo --json printed %q: %v", out, err)
	}
	if sum.BlocksAccepted != 3 {
		t.Errorf("blocks_accepted = %d, want 3", sum.BlocksAccepted)
	}
	if sum.Height < 3 {
		t.Errorf("height = %d, want >= 3", sum.Height)
	}
	if sum.FirstBlockSeconds <= 0 || sum.FirstBlockSeconds > sum.ElapsedSeconds {
		t.Errorf("first_block_seconds = %v (elapsed %v), want in (0, elapsed]", sum.FirstBlockSeconds, sum.ElapsedSeconds)
	}
	if sum.SharesAccepted < 3 {
		t.Errorf("shares_accepted = %d, want >= 3 (each block is a share)", sum.SharesAccepted)
	}
	if sum.HashingSeconds <= 0 || sum.HashingSeconds > sum.ElapsedSeconds || sum.Hashes <= 0 {
		t.Errorf("hashing_seconds = %v (elapsed %v), hashes = %v: want hashing time within the run and work done", sum.HashingSeconds, sum.ElapsedSeconds, sum.Hashes)
	}
	if want := sum.Hashes / sum.HashingSeconds; math.Abs(sum.HashesPerSecond-want) > 1e-6*want {
		t.Errorf("hashes_per_second = %v, want hashes/hashing_seconds = %v", sum.HashesPerSecond, want)
	}
	if !strings.HasPrefix(sum.Payout, "bcrt1") {
		t.Errorf("payout = %q, want a regtest address", sum.Payout)
	}
	waitNoOrphans(t, tmp)
	t.Logf("demo: %+v", sum)
}

// TestDemoDashboardInBrowser runs the demo until interrupted, opens its
// dashboard in headless chromium, and checks that the live hash rate moves
// and that found blocks appear; then Ctrl-C stops everything cleanly. The
// screenshot goes to $HASHFLEET_ARTIFACTS when set.
func TestDemoDashboardInBrowser(t *testing.T) {
	chrome := dashboardtest.ChromiumPath(t)
	bin := hashfleetBinary(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo", "--workers", "1", "--http-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var url string
	timeout := time.After(60 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited before printing the dashboard URL; stderr:\n%s", stderr.String())
			}
			if _, u, ok := strings.Cut(l, "dashboard "); ok {
				url = strings.TrimSpace(u)
			}
		case <-timeout:
			t.Fatal("no dashboard URL within 60 s")
		}
	}
	go func() {
		for range lines {
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := dashboardtest.StartBrowser(t, chrome)
	if err := b.Open(ctx, url, 1280, 1100); err != nil {
		t.Fatal(err)
	}
	// The hash rate moves: it becomes non-zero and then changes.
	if err := b.WaitFor(ctx, `(()=>{const t=document.getElementById("hashrate").textContent; return t.endsWith("H/s") && t!=="0 H/s"})()`); err != nil {
		t.Fatalf("live hash rate never shown: %v", err)
	}
	var first string
	if err := b.Eval(ctx, `document.getElementById("hashrate").textContent`, &first); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.getElementById("hashrate").textContent !== `+dashboardtest.JSString(first)); err != nil {
		t.Fatalf("hash rate stayed at %q: %v", first, err)
	}
	// A found block appears, accepted, with a link to its details.
	if err := b.WaitFor(ctx, `!!document.querySelector('#blocks-found tr[data-hash] a[href^="/api/blocks/"]')`); err != nil {
		t.Fatalf("no found block appeared: %v", err)
	}
	var state string
	if err := b.Eval(ctx, `document.querySelector('#blocks-found tr[data-hash] td:nth-child(3)').textContent`, &state); err != nil || (state != "accepted" && state != "confirmed") {
		t.Errorf("found block state = %q (%v), want accepted or confirmed", state, err)
	}
	// The cluster view shows the server and the worker running.
	if err := b.WaitFor(ctx, `document.querySelectorAll('#tasks .TASK_RUNNING').length >= 2`); err != nil {
		t.Errorf("cluster view does not show 2 running tasks: %v", err)
	}
	time.Sleep(2 * time.Second) // a few more chart points
	dir := os.Getenv("HASHFLEET_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	_ = os.MkdirAll(dir, 0o755)
	shot := filepath.Join(dir, "dashboard-demo.png")
	if err := b.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", shot)

	// Ctrl-C: a clean exit, nothing left running.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo after SIGINT: %v, want exit 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not exit within 30 s of SIGINT")
	}
	waitNoOrphans(t, tmp)
}
