package mesostest_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos/mesostest"
)

type slaves struct {
	Slaves []struct {
		ID        string         `json:"id"`
		Active    bool           `json:"active"`
		Resources map[string]any `json:"resources"`
	} `json:"slaves"`
}

// TestClusterLifecycle starts a real cluster in a subtest, restarts its
// master (the agents re-register with the recovered registry), leaves a
// stray process in an agent's folder, and checks that after the subtest
// nothing runs in the cluster's folder and its ports are free again.
func TestClusterLifecycle(t *testing.T) {
	var dir string
	var agentPorts [2]int
	t.Run("cluster", func(t *testing.T) {
		c := mesostest.Start(t, mesostest.Config{Agents: 2})
		dir, agentPorts = c.Dir, c.Agents[1].Ports
		var s slaves
		c.GetJSON("/master/slaves", &s)
		if len(s.Slaves) != 2 {
			t.Fatalf("agents: got %d, want 2", len(s.Slaves))
		}
		ids := map[string]bool{}
		for _, a := range s.Slaves {
			ids[a.ID] = true
			if !a.Active || a.Resources["ports"] == nil {
				t.Fatalf("agent %s: active=%v resources=%v", a.ID, a.Active, a.Resources)
			}
		}
		if p0, p1 := c.Agents[0].Ports, c.Agents[1].Ports; p0[1] >= p1[0] || p0[0] < 32768 && p1[1] > 32768 {
			t.Fatalf("agent port ranges %v and %v overlap or straddle the ephemeral range", p0, p1)
		}

		c.StopMaster(syscall.SIGKILL)
		c.StartMaster()
		c.WaitAgents(2)
		c.GetJSON("/master/slaves", &s)
		for _, a := range s.Slaves {
			if !ids[a.ID] {
				t.Fatalf("agent %s after the master restart: want the same agent ids %v", a.ID, ids)
			}
		}

		// A process in an agent's folder, as an executor would be.
		sleep := exec.Command("sleep", "600")
		sleep.Dir = c.Agents[0].WorkDir
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		go sleep.Wait()
	})
	if dir == "" {
		return // skipped
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			t.Errorf("process %s (%q) still runs in the cluster's folder", e.Name(), cmd)
		}
	}
	if err := listenAll(agentPorts[0], agentPorts[1]); err != nil {
		t.Errorf("task ports after cleanup: %v", err)
	}
}

func listenAll(lo, hi int) error {
	for p := lo; p <= hi; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return err
		}
		ln.Close()
	}
	return nil
}
