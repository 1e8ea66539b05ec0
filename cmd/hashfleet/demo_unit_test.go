package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

func TestDemoSummaryLine(t *testing.T) {
	none := demoSummary{ElapsedSeconds: 5}.line()
	if !strings.Contains(none, "no block found") || strings.Contains(none, "first block after") {
		t.Errorf("without a block: %q, want it to say no block was found", none)
	}
	one := demoSummary{BlocksAccepted: 1, Height: 1, FirstBlockSeconds: 1.25, ElapsedSeconds: 5}.line()
	if !strings.Contains(one, "first block after 1.2s") && !strings.Contains(one, "first block after 1.3s") {
		t.Errorf("with a block: %q, want the first block's time", one)
	}
}

func TestBlockBurst(t *testing.T) {
	var b blockBurst
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 12 {
		b.add(t0.Add(time.Duration(i) * 50 * time.Millisecond))
	}
	if _, _, ok := b.due(t0.Add(900 * time.Millisecond)); ok {
		t.Fatal("window closed before a second passed")
	}
	n, d, ok := b.due(t0.Add(time.Second))
	if !ok || n != 12 || d != time.Second {
		t.Fatalf("due after 1s: n=%d d=%v ok=%v, want 12 blocks in 1s", n, d, ok)
	}
	b.add(t0.Add(2 * time.Second))
	if n, _, ok := b.due(t0.Add(4 * time.Second)); ok || n != 1 {
		t.Fatalf("a quiet window: n=%d ok=%v, want 1 block and no count line", n, ok)
	}
}

// TestDemoPrintsEachBlock: every block the node accepts gets its line, in
// order, well past the first twenty.
func TestDemoPrintsEachBlock(t *testing.T) {
	nd, err := node.New(node.Config{DataDir: t.TempDir(), RPCListen: "127.0.0.1:0", RPCUser: "u", RPCPassword: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nd.Run(ctx) }()
	defer func() { cancel(); <-done }()
	rpc, err := chain.New(chain.Config{URL: nd.URL(), User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sum := &demoSummary{}
	w := &demoWatch{rpc: rpc, sum: sum, start: time.Now(), say: func(f string, a ...any) { fmt.Fprintf(&out, f+"\n", a...) }}
	var hashes []string
	if err := rpc.Call(ctx, "generatetoaddress", []any{45, nodetest.DefaultAddress()}, &hashes); err != nil {
		t.Fatal(err)
	}
	if _, err := w.blocks(ctx); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 45 || sum.BlocksAccepted != 45 {
		t.Fatalf("printed %d lines for 45 blocks (%d counted):\n%s", len(lines), sum.BlocksAccepted, out.String())
	}
	for i, l := range lines {
		if want := fmt.Sprintf("block     #%d accepted at height %d  %s", i+1, i+1, hashes[i]); l != want {
			t.Fatalf("line %d: got %q, want %q", i, l, want)
		}
	}
}

// TestDemoFailedStartCleansUp: a demo that fails to start (its dashboard
// address is taken) removes everything it put in $TMPDIR.
func TestDemoFailedStartCleansUp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = runDemo(context.Background(), io.Discard, io.Discard, demoConfig{Workers: 1, HTTPListen: busy.Addr().String(),
		Containerizer: "process", LogLevel: "error", LogFormat: "text"})
	if err == nil || !strings.Contains(err.Error(), "--http-listen") {
		t.Fatalf("demo on a busy dashboard address: got %v, want the --http-listen error", err)
	}
	ents, _ := os.ReadDir(tmp)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if len(left) != 0 {
		t.Fatalf("left in $TMPDIR after a failed start: %v", left)
	}
}

func TestDemoRejectsBadListenHost(t *testing.T) {
	err := runDemo(context.Background(), io.Discard, io.Discard, demoConfig{Workers: 1, Containerizer: "process", ListenHost: "localhost"})
	if err == nil || !strings.Contains(err.Error(), "--listen-host") {
		t.Fatalf("got %v, want a --listen-host error", err)
	}
}

// TestDemoMetricsAndLoopback runs the demo binary and checks that its
// /metrics has the scheduler's and the master's metrics (not only Go's),
// and that the server task listens on loopback only.
func TestDemoMetricsAndLoopback(t *testing.T) {
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
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		waitNoOrphans(t, tmp)
	})
	var dash, stratum string
	deadline := time.After(2 * time.Minute)
	for dash == "" || stratum == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early; stderr:\n%s", stderr.String())
			}
			if _, u, ok := strings.Cut(l, "dashboard "); ok {
				dash = strings.TrimSpace(u)
			}
			if _, a, ok := strings.Cut(l, " stratum "); ok && strings.Contains(l, "TASK_RUNNING (healthy)") {
				stratum = strings.Fields(a)[0]
			}
		case <-deadline:
			t.Fatalf("no dashboard URL and running server within 2 min; stderr:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	want := []string{`hashfleet_scheduler_launches_total{role="server"}`, "hashfleet_scheduler_server_ready", "hashfleet_scheduler_subscriptions_total", "minimesos_master_"}
	body := ""
	for end := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(dash + "metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("demo /metrics lacks %s:\n%.2000s", missing, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	host, port, _ := net.SplitHostPort(stratum)
	if host != "127.0.0.1" {
		t.Errorf("server stratum address %s, want loopback", stratum)
	}
	// While the server holds 127.0.0.1:port, no one can hold 0.0.0.0:port.
	if got := listenAddrs(port); !slices.Contains(got, "127.0.0.1") || slices.Contains(got, "0.0.0.0") {
		t.Errorf("server stratum port %s listens on %v, want 127.0.0.1 and not 0.0.0.0", port, got)
	}
}

// listenAddrs returns the IPv4 addresses with a listening TCP socket on
// port, from /proc/net/tcp (tcp6 entries as "v6:" and the hex address).
func listenAddrs(port string) []string {
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) < 4 || fs[3] != "0A" { // LISTEN
				continue
			}
			addr, hexPort, _ := strings.Cut(fs[1], ":")
			var p int
			fmt.Sscanf(hexPort, "%X", &p)
			if fmt.Sprint(p) != port {
				continue
			}
			if len(addr) != 8 {
				out = append(out, "v6:"+addr)
				continue
			}
			var ip [4]byte
			for i := range 4 {
				fmt.Sscanf(addr[2*(3-i):2*(3-i)+2], "%02X", &ip[i])
			}
			out = append(out, net.IP(ip[:]).String())
		}
	}
	return out
}
