// Package master is an embedded Mesos-compatible master: the server side of
// the Mesos v1 scheduler HTTP API (POST /api/v1/scheduler), faithful to
// Mesos 1.11 for one machine, plus a read-only /state document.
//
// The master is a pure state machine (core: events in, decisions out; no
// I/O, time passed in) owned by one goroutine, Master.Run. The HTTP layer
// is a thin shell: it validates calls the way Mesos's HTTP handler does,
// hands them to Run as typed requests and streams RecordIO events back.
// Agents live in-process and implement the small Agent interface; they
// report status updates with Master.StatusUpdate.
//
// With Config.Credentials the scheduler API requires HTTP basic
// authentication as a Mesos master does with --authenticate_http_frameworks
// and the basic authenticator: 401 (realm AuthRealm) before any other
// check, and 400 when a framework's principal is not the authenticated one.
//
// Invariants kept by core:
//   - an offer's resources, the resources of non-terminal tasks and an
//     agent's available resources never overlap and sum to the agent's total;
//   - an offer id is used at most once and never reused;
//   - a task's state never changes once terminal; its resources are given
//     back when its latest state becomes terminal (or TASK_UNREACHABLE), and
//     the task is forgotten when its terminal update is acknowledged;
//   - at most one subscription stream per framework;
//   - an unreachable agent (PartitionAgent) gets no offers, commands or
//     updates; its tasks' resources are back until ReconnectAgent, which
//     restores the tasks and their resources.
//
// Calls are decoded as Mesos's JSON-to-protobuf conversion does
// (protojson.go): exact keys, required fields at any depth.
package master
