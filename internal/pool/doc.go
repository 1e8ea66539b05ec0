// Package pool is the Stratum v1 mining server: it accepts miner
// connections, hands each session the jobs of a job source (job.Manager),
// turns mining.submit into job.Share values for validation, and keeps the
// accounting (per-worker and pool hash rate, accepted and rejected shares by
// reason) that /api/stats, /metrics and the dashboard show. Found blocks
// are the job source's: it records, submits, follows and persists them;
// the pool shows its records (Stats.Blocks), credits each worker with
// its accepted and confirmed ones, and tells the finder's sessions each
// outcome (client.show_message).
//
// # Shape
//
// A Server is built by New and driven by Run(ctx), which owns every
// goroutine: an accept loop, a broadcast loop (one pre-encoded notify per
// job, written to every session by up to GOMAXPROCS workers without
// waiting for any), a ticker (vardiff for idle sessions, persistence
// flushes), an outcome reader (the job source's block stream, told to
// the finder's sessions), and per connection, only
// while it has work, one reader (started when input arrives, via
// netpoll's readiness: it decodes and answers the lines that came,
// calling Submit synchronously, which never waits for the node, then
// returns) and one writer (started when the socket does not take a line
// at once: it drains a bounded send queue in batched, blocking writes
// with a timeout and ends when it is empty). Lines are otherwise written
// at once without blocking by whoever sends them. An idle session thus
// holds no goroutine and no buffers: its state, a Reader and a timer
// (handshake, then idle deadline). A client whose queue fills is dropped
// and counted, never waited on (STYLE R7); the reader stops reading while
// half the queue is taken (the writer resumes it), so a client that
// pipelines requests and reads its answers is slowed, not dropped.
//
// # Hostile clients
//
// limits.go holds what one client can take: connections in total (fitted
// to the file descriptor limit less FDReserve), per address (an IPv6 /64)
// and per address per second; near capacity, sessions without an accepted
// share in ShareTimeout are closed (mining.ping keeps nothing). Worker
// names without an accepted share are tracked only while connected and
// never persisted (ledger). hostile_test.go runs every attack with an
// honest miner mining through it.
//
// # Invariants
//
//   - Session job ids are per connection and map to the job and the share
//     target in force when it was sent, so a difficulty change never
//     invalidates work already issued; a share is checked at the easier of
//     that target and the current one.
//   - A difficulty change is announced with set_difficulty followed by the
//     current job under a new id (clean_jobs false), since miners apply a
//     new difficulty from the next notify.
//   - Share submission is detached from the connection's context: a miner
//     hanging up never cancels a block on its way to the node. The job
//     manager submits each block at most once.
//   - A worker's block credit is derived from the job source's block
//     records (written before the miner's answer is queued), so it is on
//     disk with them. Share totals (Config.Store, bucket "workers") are
//     flushed every FlushInterval and on shutdown (a kill -9 loses at most
//     that much). A damaged state file is a *store.DamagedError, never a
//     panic or a silent reset.
//   - Vardiff (Vardiff) is a pure core fed with explicit times.
package pool
