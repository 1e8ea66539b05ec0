// Package agent runs tasks for the embedded master (package
// minimesos/master) on this machine, with the semantics of a Mesos agent
// and its built-in executors:
//
//   - command tasks run as a process group in a sandbox directory
//     (stdout/stderr files, CommandInfo.URIs fetched first, MESOS_*
//     environment), shell or argv form;
//   - DOCKER tasks run through the Docker Engine API over its unix socket
//     (HOST, BRIDGE or NONE networks, port mappings checked against the
//     task's ports resource), with the sandbox mounted at /mnt/mesos/sandbox;
//   - status updates TASK_STARTING, TASK_RUNNING (and health updates),
//     TASK_KILLING, TASK_FINISHED/FAILED/KILLED carry a uuid and are kept in
//     a per-task FIFO: the head is resent with exponential backoff
//     (10 s doubling to 10 min) until acknowledged, then the next is sent;
//   - kill: SIGTERM to the process group, SIGKILL after the grace period
//     (kill policy, else 3 s; docker 5 s); a kill before launch gives
//     TASK_KILLED with REASON_TASK_KILLED_DURING_LAUNCH;
//   - TCP, HTTP and COMMAND health checks reported as TaskStatus.healthy.
//
// When the context given to Run ends, every task is killed and every
// container removed before Run returns: no orphans.
package agent
