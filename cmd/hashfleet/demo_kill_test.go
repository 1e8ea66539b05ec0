package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// taskProc is a task process of the demo: a real `hashfleet server` or
// `hashfleet worker` started by the embedded agent in a sandbox.
type taskProc struct {
	pid   string
	start string // /proc/PID/stat field 22: tells a reused pid apart
	role  string // "server" or "worker"
}

// taskProcs lists the live hashfleet task processes whose working
// directory is under dir (the agent's sandboxes).
func taskProcs(t *testing.T, dir string) []taskProc {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []taskProc
	for _, e := range ents {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir+string(filepath.Separator)) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(argv) < 2 || filepath.Base(argv[0]) != "hashfleet" || (argv[1] != "server" && argv[1] != "worker") {
			continue
		}
		if st, ok := procStart(e.Name()); ok {
			out = append(out, taskProc{pid: e.Name(), start: st, role: argv[1]})
		}
	}
	return out
}

// procStart returns a process's start time, or false if it is gone or a
// zombie (killed, not yet reaped).
func procStart(pid string) (string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return "", false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "", false
	}
	return f[19], true
}

func alive(p taskProc) bool {
	st, ok := procStart(p.pid)
	return ok && st == p.start
}

func byProcRole(ps []taskProc, role string) []taskProc {
	return slices.DeleteFunc(slices.Clone(ps), func(p taskProc) bool { return p.role != role })
}

// TestDemoKillServerProcess runs the demo with process tasks (no Docker)
// and kill -9s the real `hashfleet server` task process: the scheduler
// must kill its workers, start a new server and new workers, and the node
// must accept a block mined after the kill.
func TestDemoKillServerProcess(t *testing.T) {
	bin := hashfleetBinary(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo", "--workers", "2", "--http-listen", "127.0.0.1:0", "--timeout", "4m", "--log-level", "info")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dr := &demoRun{cmd: cmd, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			dr.mu.Lock()
			dr.lines = append(dr.lines, sc.Text())
			dr.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		dr.err = cmd.Wait()
		close(dr.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-dr.exited:
		default:
			cmd.Process.Kill()
			<-dr.exited
		}
		if t.Failed() {
			t.Logf("demo stderr (tail):\n%s", tail(stderr.String(), 4000))
		}
	})
	var dash string
	waitUntil(t, 60*time.Second, "dashboard line", dr, func() bool {
		var ok bool
		dash, ok = dr.find("dashboard ")
		return ok
	})
	waitUntil(t, 2*time.Minute, "first block", dr, func() bool { _, ok := dr.find("block     #1 accepted"); return ok })
	var procs []taskProc
	waitUntil(t, 60*time.Second, "1 server and 2 worker processes", dr, func() bool {
		procs = taskProcs(t, tmp)
		return len(byProcRole(procs, "server")) == 1 && len(byProcRole(procs, "worker")) == 2
	})
	server, workers := byProcRole(procs, "server")[0], byProcRole(procs, "worker")

	if err := syscall.Kill(atoi(t, server.pid), syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the server task (pid %s): %v", server.pid, err)
	}
	killed := time.Now()
	waitUntil(t, 60*time.Second, "the old workers killed", dr, func() bool {
		return !alive(workers[0]) && !alive(workers[1])
	})
	workersStopped := time.Since(killed)
	// Nothing of the old generation mines now: a higher height is the
	// new server's.
	h0 := freshChainHeight(t, dash, dr)
	if h0 < 1 {
		t.Fatalf("chain height from the dashboard: %d", h0)
	}
	waitUntil(t, 2*time.Minute, "a new server process with 2 new workers", dr, func() bool {
		procs = taskProcs(t, tmp)
		srv := byProcRole(procs, "server")
		return len(srv) == 1 && srv[0] != server && len(byProcRole(procs, "worker")) == 2
	})
	for _, w := range byProcRole(procs, "worker") {
		if w == workers[0] || w == workers[1] {
			t.Fatalf("worker pid %s survived the server's death", w.pid)
		}
	}
	waitUntil(t, 2*time.Minute, "a block accepted after the kill", dr, func() bool { return chainHeight(dash) > h0 })
	t.Logf("server kill -9: old workers gone after %v, a block after %v", workersStopped.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dr.exited:
		if dr.err != nil {
			t.Errorf("demo after SIGINT: %v, want exit 0", dr.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not exit within 60 s of SIGINT")
	}
	waitNoOrphans(t, tmp)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
