package agent

import "syscall"

// sysProcAttr puts a task in its own process group so that a kill reaches
// its children too. (Pdeathsig is not used: it fires when the forking OS
// thread exits, which the Go runtime may do while the agent lives on.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
