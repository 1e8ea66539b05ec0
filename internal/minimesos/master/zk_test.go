package master

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/zktest"
)

// zkMaster is a master registered in ZooKeeper, serving on loopback.
type zkMaster struct {
	m      *Master
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startZKMaster(t *testing.T, zkURL string) *zkMaster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Addr: ln.Addr().String(), ZK: zkURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.Handler()}
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	zm := &zkMaster{m: m, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { zm.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		zm.stop(t)
		srv.Close()
	})
	return zm
}

func (zm *zkMaster) stop(t *testing.T) {
	zm.cancel()
	if err := <-zm.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	zm.done <- nil
}

// probe POSTs an empty call and returns the status and Location.
func probe(t *testing.T, addr string) (int, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post("http://"+addr+"/api/v1/scheduler", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestZooKeeperContender: masters register json.info_ nodes like Mesos
// masters; the lowest sequence leads, the other answers 307 to it, and
// takes over when the leader goes away.
func TestZooKeeperContender(t *testing.T) {
	zkURL := "zk://" + zktest.Start(t) + "/mesos"
	m1 := startZKMaster(t, zkURL)
	// The leader answers calls itself (400 for this empty call).
	waitFor(t, "m1 to lead", func() bool { code, _ := probe(t, m1.addr); return code == http.StatusBadRequest })
	m2 := startZKMaster(t, zkURL)
	var loc string
	waitFor(t, "m2 to redirect", func() bool {
		var code int
		code, loc = probe(t, m2.addr)
		return code == http.StatusTemporaryRedirect
	})
	if want := "//" + m1.addr + "/master/api/v1/scheduler"; loc != want {
		t.Errorf("Location: got %q, want %q", loc, want)
	}
	det, err := mesos.NewZKDetector(zkURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	if got, err := det.Leader(t.Context()); err != nil || got != m1.addr {
		t.Errorf("detector leader: got %q, %v; want %q", got, err, m1.addr)
	}
	m1.stop(t)
	waitFor(t, "m2 to take over", func() bool { code, _ := probe(t, m2.addr); return code == http.StatusBadRequest })
	waitFor(t, "the detector to see m2", func() bool { got, err := det.Leader(t.Context()); return err == nil && got == m2.addr })
}
