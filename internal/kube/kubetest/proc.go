package kubetest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the cluster (etcd, kube-apiserver, ...),
// which can be stopped and started again with the same arguments. Its
// output, across restarts, goes to one log file. A proc is driven by the
// test goroutine only; done and err are written by its waiter.
type proc struct {
	name string
	path string
	args []string
	log  string // path of the log file

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// stopGrace is how long a stopped process may take to exit after SIGTERM
// before it is killed.
const stopGrace = 20 * time.Second

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== kubetest: %s starts at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, and killed if the test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("kubetest: start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	go func(done chan struct{}) {
		p.err = cmd.Wait()
		f.Close()
		close(done)
	}(p.done)
	return nil
}

// running reports whether the process was started and has not exited.
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitErr returns why the process ended, once it has.
func (p *proc) exitErr() error {
	select {
	case <-p.done:
		if p.err == nil {
			return fmt.Errorf("%s exited with status 0", p.name)
		}
		return fmt.Errorf("%s exited: %w", p.name, p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM (SIGCONT first, in case it is paused), waits up to
// stopGrace, then kills the process group. It is a no-op when the process
// is not running.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
}

// signal sends sig to the process group (SIGSTOP/SIGCONT pause and resume).
func (p *proc) signal(sig syscall.Signal) error {
	if !p.running() {
		return fmt.Errorf("kubetest: %s is not running", p.name)
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// tail returns the last n bytes of the log.
func (p *proc) tail(n int64) string {
	f, err := os.Open(p.log)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	prefix := ""
	if fi.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return err.Error()
		}
		prefix = fmt.Sprintf("[... %d earlier bytes in %s]\n", fi.Size()-n, p.log)
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return prefix + string(b)
}

// stopAll stops procs concurrently (the cluster's components may be
// stopped in any order at the end of a test).
func stopAll(procs ...*proc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p != nil {
			wg.Go(p.stop)
		}
	}
	wg.Wait()
}
