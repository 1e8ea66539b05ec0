// Package miner is the hashfleet worker: a Stratum v1 client session plus N
// hashing goroutines over package sha256d, the role cpuminer played.
//
// A Miner is built with New and driven by Run(ctx). Run owns every
// goroutine: the hashing threads, a statistics sampler, and the connection
// loop, which runs one session at a time against the configured pools
// (failover in order, capped exponential backoff with jitter, client.reconnect
// honoured). Cancelling ctx stops everything; Run returns after all its
// goroutines have exited.
//
// Work flows one way. The session goroutine decodes mining.notify into an
// immutable *work (job fields, extranonce1, extranonce2 size, the share
// target in force when the job arrived, the version-rolling mask) and
// publishes it through an atomic pointer. Each hashing thread takes a fresh
// extranonce2 from the work's atomic counter (so threads never overlap),
// computes the midstate once per (extranonce2, version), and scans the nonce
// space in bounded batches, checking between batches whether ctx was
// cancelled or newer work was published. When a (extranonce2, version)
// nonce space is exhausted it rolls the version bits (if the pool granted
// version rolling) and then extranonce2. Found nonces go back to the session
// goroutine, which rebuilds the header from the notify, re-checks the hash
// against the share target and only then sends mining.submit.
//
// Difficulty from mining.set_difficulty applies from the next mining.notify
// (cpuminer and ckpool semantics); extranonce from mining.set_extranonce and
// masks from mining.set_version_mask likewise. A clean_jobs notify drops
// shares found for earlier jobs instead of submitting them stale.
package miner
