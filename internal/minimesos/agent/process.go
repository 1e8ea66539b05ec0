package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// processContainer runs a task as a process group in its sandbox, like
// Mesos's command executor under the POSIX launcher.
type processContainer struct {
	ti      mesos.TaskInfo
	sandbox string
	env     []string
	cmd     *exec.Cmd
	waitc   chan exitInfo
	files   []*os.File
	cred    *syscall.Credential // nil: the agent's user
}

func newProcessContainer(ti mesos.TaskInfo, sandbox string, env []string, cred *syscall.Credential) *processContainer {
	return &processContainer{ti: ti, sandbox: sandbox, env: env, cred: cred, waitc: make(chan exitInfo, 1)}
}

// taskUser is the user a task runs as under SwitchUser.
func taskUser(fw mesos.FrameworkInfo, ti mesos.TaskInfo) string {
	if ti.Command != nil && ti.Command.User != "" {
		return ti.Command.User
	}
	return fw.User
}

// switchUser looks name up and gives it the sandbox, as a Mesos agent
// does before it launches the executor; the error reads like Mesos's.
func switchUser(name, sandbox string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("Failed to chown directory to '%s': No such user '%s'", name, name)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("Failed to chown directory to '%s': bad uid/gid %s/%s", name, u.Uid, u.Gid)
	}
	err = filepath.WalkDir(sandbox, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
	if err != nil {
		return nil, fmt.Errorf("Failed to chown directory to '%s': %v", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (p *processContainer) start(context.Context) (*mesos.ContainerStatus, error) {
	ci := p.ti.Command
	value := ""
	if ci.Value != nil {
		value = *ci.Value
	}
	var cmd *exec.Cmd
	if ci.IsShell() {
		if value == "" {
			return nil, errors.New("shell command has no value")
		}
		cmd = exec.Command("/bin/sh", "-c", value)
	} else {
		if value == "" {
			return nil, errors.New("command has no value (executable)")
		}
		path := value
		if !strings.Contains(path, "/") {
			lp, err := exec.LookPath(path)
			if err != nil {
				return nil, fmt.Errorf("executable %q: %w", value, err)
			}
			path = lp
		} else if !filepath.IsAbs(path) {
			path = filepath.Join(p.sandbox, path)
		}
		cmd = &exec.Cmd{Path: path, Args: ci.Arguments}
		if len(cmd.Args) == 0 {
			cmd.Args = []string{value}
		}
	}
	cmd.Dir = p.sandbox
	cmd.Env = p.env
	stdout, err := os.Create(filepath.Join(p.sandbox, "stdout"))
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(filepath.Join(p.sandbox, "stderr"))
	if err != nil {
		stdout.Close()
		return nil, err
	}
	p.files = []*os.File{stdout, stderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.SysProcAttr.Credential = p.cred
	if err := startRetryBusy(&cmd, time.Sleep); err != nil {
		return nil, err
	}
	p.cmd = cmd
	go func() {
		err := cmd.Wait()
		var ex exitInfo
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				ex.signal = signalName(ws.Signal())
			} else {
				ex.code = ee.ExitCode()
			}
		} else if err != nil {
			ex.err = err
		}
		p.waitc <- ex
	}()
	return &mesos.ContainerStatus{ExecutorPID: uint32(cmd.Process.Pid)}, nil
}

func (p *processContainer) wait() <-chan exitInfo { return p.waitc }

// signal signals the whole process group (the task and its children).
func (p *processContainer) signal(force bool) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// cleanup kills whatever is left of the process group (background
// children of a finished task), as Mesos destroys a container on exit.
func (p *processContainer) cleanup() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		waitGroupGone(p.cmd.Process.Pid, 2*time.Second)
	}
	for _, f := range p.files {
		f.Close()
	}
}

// waitGroupGone waits until no live (non-zombie) process is left in the
// process group, so that a SIGKILLed group is really gone when the task is
// reported. It reads /proc; where there is none it returns at once.
func waitGroupGone(pgid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command (which may contain spaces): state ppid pgrp …
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

func (p *processContainer) checkHost() string { return "127.0.0.1" }

// signalName returns the name Mesos prints for a signal ("Terminated", "Killed").
func signalName(s syscall.Signal) string {
	name := s.String()
	if name == "" {
		return fmt.Sprintf("%d", int(s))
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// defaultTaskPath is the PATH Mesos's containerizer gives a task that
// sets none (seen on a real agent).
const defaultTaskPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// taskEnv builds a task's environment as a Mesos command executor does:
// PATH, the agent's ExecutorEnv, the MESOS_* variables, then the task's
// CommandInfo.environment (which wins). The agent's own environment is
// not passed on.
func (a *Agent) taskEnv(fw mesos.FrameworkInfo, ti mesos.TaskInfo, sandbox, cid string) []string {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	set("PATH", defaultTaskPath)
	for _, k := range slices.Sorted(maps.Keys(a.cfg.ExecutorEnv)) {
		set(k, a.cfg.ExecutorEnv[k])
	}
	set("MESOS_SANDBOX", sandbox)
	set("MESOS_DIRECTORY", sandbox)
	set("MESOS_TASK_ID", ti.TaskID.Value)
	set("MESOS_EXECUTOR_ID", ti.TaskID.Value)
	set("MESOS_FRAMEWORK_ID", fw.ID.Value)
	set("MESOS_AGENT_ID", a.id.Value)
	set("MESOS_SLAVE_ID", a.id.Value)
	set("MESOS_CONTAINER_NAME", "mesos-"+cid)
	set("MESOS_AGENT_HOSTNAME", a.cfg.Hostname)
	if ti.Command != nil && ti.Command.Environment != nil {
		for _, v := range ti.Command.Environment.Variables {
			switch {
			case v.Value != nil:
				set(v.Name, *v.Value)
			case v.Secret != nil && v.Secret.Value != nil:
				set(v.Name, string(v.Secret.Value.Data))
			}
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

// startRetryBusy starts *cmd, retrying while exec fails with ETXTBSY: an
// executable fetched into the sandbox a moment ago can still be open for
// writing in a child that another goroutine forked before the fetcher
// closed it (the descriptor lives until that child execs). The condition
// clears within milliseconds; an exec.Cmd cannot be started twice, so each
// retry uses a fresh copy. wait sleeps between attempts (time.Sleep).
func startRetryBusy(cmd **exec.Cmd, wait func(time.Duration)) error {
	for attempt := 1; ; attempt++ {
		err := (*cmd).Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 20 {
			return err
		}
		wait(time.Duration(attempt) * 10 * time.Millisecond)
		c := *cmd
		*cmd = &exec.Cmd{Path: c.Path, Args: c.Args, Dir: c.Dir, Env: c.Env, Stdin: c.Stdin,
			Stdout: c.Stdout, Stderr: c.Stderr, SysProcAttr: c.SysProcAttr}
	}
}
