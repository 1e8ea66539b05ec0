package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/porttest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClusterBusyPort: the first port the agent offers is taken by
// someone else. The server task launched on it fails; the cause ("bind:
// address already in use", from the task's stderr) reaches the scheduler's
// status and its log; and the relaunched server gets fresh ports and
// runs, instead of crash-looping on the busy one.
func TestClusterBusyPort(t *testing.T) {
	c := newCluster(t, 0, "", nil)
	base := porttest.Block(t, 21)
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.addAgent(context.Background(), fmt.Sprintf("cpus:4;mem:2048;ports:[%d-%d]", base, base+20), log)

	cfg := c.config(t, t.TempDir())
	cfg.ServerListenHost = "127.0.0.1"
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := start(t, cfg)
	failedOnBusy := func(st scheduler.Status) *scheduler.TaskView {
		for i, tv := range st.Tasks {
			if tv.Role == scheduler.RoleServer && tv.State == "TASK_FAILED" && slices.Contains(tv.Ports, uint64(base)) {
				return &st.Tasks[i]
			}
		}
		return nil
	}
	st := waitFor(t, r.s, 60*time.Second, "a failed server on the busy port, then a ready one on fresh ports", func(st scheduler.Status) bool {
		return failedOnBusy(st) != nil && st.ServerReady && st.Server != nil && !slices.Contains(st.Server.Ports, uint64(base))
	})
	if msg := failedOnBusy(st).Message; !strings.Contains(msg, "address already in use") {
		t.Errorf("failed server's status message: got %q, want the bind error from its stderr", msg)
	}
	if l := logs.String(); !strings.Contains(l, "address already in use") {
		t.Errorf("scheduler log at warn level lacks the cause:\n%s", l)
	}
	if strings.Contains(logs.String(), testRPCPassword) {
		t.Errorf("scheduler log holds the RPC password")
	}
}
