package mesostest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one daemon the cluster started.
type proc struct {
	name string
	log  string // its stdout+stderr file (appended to on restart)
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *Cluster) spawn(name, bin string, args []string) *proc {
	c.t.Helper()
	logPath := filepath.Join(c.Dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = withLibPath(os.Environ(), c.Prefix)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("mesostest: start %s: %v", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process and, if it is not gone after 15 s, SIGKILL.
func (p *proc) stop(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(15 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// cleanup stops the agents and the master, then kills every process
// still running in the cluster's folder (executors and tasks, which a
// posix-launcher agent leaves running when it stops), and on failure
// logs the tail of each daemon's log.
func (c *Cluster) cleanup() {
	for i := range c.Agents {
		if p := c.Agents[i].proc; p != nil {
			p.stop(syscall.SIGTERM)
		}
	}
	c.StopMaster(syscall.SIGTERM)
	for range 50 {
		if KillUnder(c.Dir) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := KillUnder(c.Dir); n > 0 {
		c.t.Errorf("mesostest: %d process(es) under %s survived SIGKILL", n, c.Dir)
	}
	if c.t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(c.Dir, "*.log"))
		for _, l := range logs {
			c.t.Logf("--- %s (tail)\n%s", filepath.Base(l), tail(l, 30))
		}
		sandboxes, _ := filepath.Glob(filepath.Join(c.Dir, "agent*", "work", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
		for i, l := range sandboxes {
			if i == 8 {
				c.t.Logf("(%d more sandboxes)", len(sandboxes)-i)
				break
			}
			c.t.Logf("--- %s (tail)\n%s", strings.TrimPrefix(l, c.Dir), tail(l, 10))
		}
	}
}

// KillUnder sends SIGKILL to every process whose working directory or
// executable is under dir (never this test process) and returns how many
// it signalled.
func KillUnder(dir string) int {
	n := 0
	for _, pid := range pidsUnder(dir) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func pidsUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		for _, link := range []string{"cwd", "exe"} {
			target, err := os.Readlink(filepath.Join("/proc", e.Name(), link))
			if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// PIDsWithEnv returns every process (but this one) whose environment
// holds the entry kv ("NAME=value"), leaving out Mesos's own helpers
// (mesos-executor, mesos-containerizer, …).
func PIDsWithEnv(kv string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !hasEnv(pid, kv) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func hasEnv(pid int, kvs ...string) bool {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if strings.HasPrefix(filepath.Base(exe), "mesos-") {
		return false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		for _, want := range kvs {
			if string(kv) == want {
				return true
			}
		}
	}
	return false
}

// TaskPIDs returns the processes of task id on this cluster's agents: the
// ones whose environment names the task (MESOS_TASK_ID, or
// MESOS_EXECUTOR_ID, which is the task id under the command executor) and
// whose executable is not one of Mesos's own helpers.
func (c *Cluster) TaskPIDs(taskID string) []int {
	var out []int
	for _, pid := range pidsUnder(c.Dir) {
		if hasEnv(pid, "MESOS_TASK_ID="+taskID, "MESOS_EXECUTOR_ID="+taskID) {
			out = append(out, pid)
		}
	}
	return out
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
