package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServerCommand runs `hashfleet server` in-process against the embedded
// node with the RPC password from the environment, mines a block with the
// real miner, and checks that the password appears in no log line and no
// HTTP answer.
func TestServerCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	n := nodetest.StartEmbedded(t)
	t.Setenv(envRPCPassword, n.Password)
	f := serverFlags{
		nodeRPC: n.URL, rpcUser: n.User, payout: nodetest.DefaultAddress(), network: "regtest",
		stratumListen: porttest.Addr(t), httpListen: porttest.Addr(t), dataDir: t.TempDir(),
		logFormat: "json", logLevel: "debug", tag: "/hashfleet-test/",
		initialDiff: 0.0005, minDiff: 1e-6, shareInterval: 10 * time.Second, maxConns: 100,
	}
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, f, &logs) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runServer: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("runServer did not return after cancel")
		}
	}()

	base := "http://" + f.httpListen
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := httpGet(t, base+"/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 20s; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	m, err := miner.New(miner.Config{
		Pools:   []miner.Pool{{URL: "stratum+tcp://" + f.stratumListen, User: "cmdtest"}},
		Threads: 1, Quiet: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(ctx)
	mdone := make(chan error, 1)
	go func() { mdone <- m.Run(mctx) }()
	var stats string
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, stats = httpGet(t, base+"/api/stats")
		if strings.Contains(stats, `"accepted": true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted block in /api/stats after 2 minutes:\n%s", stats)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mcancel()
	if err := <-mdone; err != nil {
		t.Errorf("miner Run: %v", err)
	}

	_, metrics := httpGet(t, base+"/metrics")
	if !strings.Contains(metrics, "hashfleet_job_blocks_total") {
		t.Errorf("/metrics lacks hashfleet_job_blocks_total")
	}
	_, jobStatus := httpGet(t, base+"/api/job")
	for name, text := range map[string]string{"logs": logs.String(), "/api/stats": stats, "/metrics": metrics, "/api/job": jobStatus} {
		if strings.Contains(text, n.Password) {
			t.Errorf("%s contains the RPC password", name)
		}
	}
}

func TestRedactUserinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "stratum+tcp://u:secret@pool.example:3333", want: "stratum+tcp://pool.example:3333"},
		{in: "stratum+tcp://pool.example:3333", want: "stratum+tcp://pool.example:3333"},
		{in: "u:secret@pool.example:3333", want: "***@pool.example:3333"},
	}
	for _, tc := range tests {
		if got := redactUserinfo(tc.in); got != tc.want || strings.Contains(got, "secret") {
			t.Errorf("redactUserinfo(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
