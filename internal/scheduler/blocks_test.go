package scheduler_test

// The seed's scenario with the real parts: the real hashfleet binary
// (fetched by the agents from a URL, as from the scheduler's
// /bin/hashfleet), a real regtest node, a real Stratum server and CPU
// workers, run on real Mesos and on the embedded master: the server is
// healthy before any worker, the node accepts a block, kill -9 of the
// server's process makes every worker TASK_KILLED, a new server and new
// workers come up, and the node accepts a block again. Each run logs how
// long recovery took (BENCHMARKS.md, "Server kill → block again").

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/mesostest"
	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// realBinary builds cmd/hashfleet (static) once per test process.
var realBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hashfleet-bin-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "hashfleet")
	build := exec.Command("go", "build", "-trimpath", "-o", exe, "github.com/hashfleet/hashfleet/cmd/hashfleet")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/hashfleet: %v\n%s", err, out)
	}
	return exe, nil
})

// blockRig is a regtest node and the scheduler settings that mine on it.
type blockRig struct {
	node *node.Node
}

func newBlockRig(t *testing.T) *blockRig {
	t.Helper()
	nd, err := node.New(node.Config{Ephemeral: true, RPCListen: "127.0.0.1:0", RPCUser: "rpc", RPCPassword: testRPCPassword,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { nd.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &blockRig{node: nd}
}

func (b *blockRig) configure(t *testing.T, cfg *scheduler.Config) {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	params := chaincfg.RegressionNetParams
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), &params)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NodeRPC, cfg.Payout = b.node.URL(), a.EncodeAddress()
	cfg.Policy.MaxWorkers = 2 // one hashing thread each: the machine is shared
}

// waitHeight waits until the node's height is above h.
func (b *blockRig) waitHeight(t *testing.T, h int64, timeout time.Duration, what string) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for b.node.Height() <= h {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (height %d)", timeout, what, b.node.Height())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b.node.Height()
}

// killToBlock runs the scenario on a scheduler already configured for a
// cluster; kill sends SIGKILL to the server task's process.
func killToBlock(t *testing.T, cfg scheduler.Config, rig *blockRig, kill func(taskID string)) {
	r := start(t, cfg)
	st := waitFor(t, r.s, 180*time.Second, "server and 2 workers", steady(2))
	h := rig.waitHeight(t, 0, 120*time.Second, "a first block")
	old := st.Server
	oldWorkers := map[string]bool{}
	for _, tv := range st.Tasks {
		if tv.Role == scheduler.RoleWorker && !terminal(tv.State) {
			oldWorkers[tv.ID] = true
		}
	}

	t0 := time.Now()
	kill(old.ID)
	var tKilled, tServer time.Duration
	st = waitFor(t, r.s, 180*time.Second, "a new server with 2 new workers", func(st scheduler.Status) bool {
		killed := 0
		for _, tv := range st.Tasks {
			if oldWorkers[tv.ID] && terminal(tv.State) {
				killed++
			}
		}
		if killed == len(oldWorkers) && tKilled == 0 {
			tKilled = time.Since(t0)
		}
		if st.Server != nil && st.Server.ID != old.ID && st.ServerReady && tServer == 0 {
			tServer = time.Since(t0)
		}
		return st.Server != nil && st.Server.ID != old.ID && steady(2)(st) && killed == len(oldWorkers)
	})
	tWorkers := time.Since(t0)
	rig.waitHeight(t, max(h, rig.node.Height()), 120*time.Second, "a block from the new server")
	tBlock := time.Since(t0)
	for _, tv := range st.Tasks {
		if tv.ID == old.ID && tv.State != string(mesos.TaskFailed) {
			t.Errorf("old server: got %s, want TASK_FAILED", tv.State)
		}
		if oldWorkers[tv.ID] && tv.State != string(mesos.TaskKilled) {
			t.Errorf("old worker %s: got %s, want TASK_KILLED", tv.ID, tv.State)
		}
	}
	if n := r.maxServers(); n != 1 {
		t.Errorf("at most one live server at a time: saw %d", n)
	}
	if bad := r.workersBeforeHealthy(); len(bad) > 0 {
		t.Errorf("workers seen while their server was not healthy: %v", bad)
	}
	t.Logf("kill -9 of the server: workers killed after %v, new server healthy after %v, new workers running after %v, block again after %v",
		tKilled.Round(10*time.Millisecond), tServer.Round(10*time.Millisecond), tWorkers.Round(10*time.Millisecond), tBlock.Round(10*time.Millisecond))
}

// serveFile serves exe at a URL as the scheduler's /bin/hashfleet does.
func serveFile(t *testing.T, exe string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, exe) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/bin/hashfleet"
}

// TestServerKillToBlock runs the scenario on real Mesos and on the
// embedded master, one after the other on the same machine.
func TestServerKillToBlock(t *testing.T) {
	// Not parallel: its workers hash on every cpu they get, and it measures.
	exe, err := realBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(exe)) })
	t.Run("RealMesos", func(t *testing.T) {
		rc := newRealCluster(t, mesostest.Config{Agents: 2}, exe)
		rig := newBlockRig(t)
		cfg := rc.config(t, t.TempDir())
		rig.configure(t, &cfg)
		killToBlock(t, cfg, rig, func(id string) { rc.killServerProcess(t, id) })
	})
	t.Run("Embedded", func(t *testing.T) {
		c := newCluster(t, 2, "cpus:4;mem:2048", nil)
		rig := newBlockRig(t)
		cfg := schedConfig(t, c.addr, serveFile(t, exe), t.TempDir())
		rig.configure(t, &cfg)
		killToBlock(t, cfg, rig, func(id string) { killByTaskEnv(t, id) })
	})
}

// killByTaskEnv sends SIGKILL to the process started for task id by an
// embedded agent (found by the MESOS_TASK_ID in its environment).
func killByTaskEnv(t *testing.T, id string) {
	t.Helper()
	pids := mesostest.PIDsWithEnv("MESOS_TASK_ID=" + id)
	if len(pids) != 1 {
		t.Fatalf("processes of task %s: got %v, want one", id, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}
