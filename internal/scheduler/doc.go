// Package scheduler is the hashfleet Mesos framework.
//
// The pure core is State: Decide(offers, now) places one miner server
// (cpus, mem and two host ports from any offered range) and, once that
// server is TASK_RUNNING and healthy, workers of a fixed size up to the
// worker/cpu caps; Apply(status, now) folds status updates in (idempotent,
// stale updates ignored, terminal states final), and on the server's loss
// marks every worker for killing and arms a capped exponential relaunch
// backoff. DueKills lists kills to (re-)send until each task reports a
// terminal state. Nothing in State does I/O or reads the clock.
//
// The shell is Scheduler.Run: one goroutine owns the State and drives it
// over the mesos client (which re-subscribes with backoff, follows leader
// redirects and runs the heartbeat watchdog). Invariants it keeps:
//   - the framework id and every launch intent are stored durably (Store:
//     a file, or a ZooKeeper node) before the ACCEPT that depends on them;
//   - a status update is applied and stored before it is acknowledged, and
//     only updates carrying a uuid are acknowledged;
//   - after every subscription, all possibly-live tasks are reconciled
//     explicitly (retried with backoff) and all tasks implicitly; tasks the
//     master knows but the store does not are killed; implicit
//     reconciliation repeats every ReconcileInterval;
//   - offers are declined with a long filter, SUPPRESSed when nothing is
//     wanted and REVIVEd when something new is;
//   - secrets (the Mesos secret, the node RPC password) never appear in
//     task arguments, logs or Status: the RPC password reaches the server
//     task only through its environment.
//
// Status returns a value snapshot for the dashboard and the HTTP API
// (Handler/Register).
package scheduler
