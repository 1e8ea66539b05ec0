// Package loadgen drives a Stratum pool with many simulated miners and
// measures it: how fast sessions connect, how long an honest share waits
// for its answer, and how long a new tip's clean mining.notify takes to
// reach every session (issue #18's scale figures; `hashfleet loadgen`).
//
// A session subscribes, asks for a low share difficulty, authorizes and
// waits for its first job; the chosen submitters then find real shares
// (double SHA-256 over the job's own header) and submit them at a steady
// rate, never a share that would be a block, so the load never moves the
// chain. New tips come from Config.Tip (generatetoaddress on a regtest
// node), so the notify fan-out is timed against a known event. A run is
// bounded in time and stops by itself.
//
// Connections come from Config.Dial: SourceDialer spreads them over
// several loopback source addresses (127.0.0.x), so neither one address's
// ephemeral ports nor the pool's per-address limits cap the count;
// MemListener serves sessions that need no file descriptor at all.
package loadgen
