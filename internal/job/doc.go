// Package job turns block templates into immutable Stratum jobs, hands out
// extranonce1 values, validates shares and assembles and submits blocks.
//
// The pure core is NewJob (template → *Job: coinbase split at the
// extranonce slot, merkle branch, recomputed witness commitment) and Check
// (one share against one job, in the order of mining-protocols.md §1.7:
// job lookup/stale 21, extranonce sizes 20, ntime window 20, version mask
// 20; then the Manager's duplicate check 22 keyed on the header hash and
// the share target 23).
//
// Manager is the shell. Run owns the goroutines: a longpoll fetcher (with
// a polling fallback), a periodic refresher (new transactions, newer
// ntime) and the single owner goroutine that publishes jobs as immutable
// snapshots. Submit runs on the caller's goroutine without locks except a
// short one for the duplicate set, so pool sessions validate in parallel.
//
// Blocks: a share whose hash meets the network target is assembled and
// submitted at once — even when the share itself is rejected as stale,
// out of the ntime window or outside the version mask. Each block hash is
// submitted at most once; its submission is retried through node errors,
// timeouts and restarts, and an unrejected block is verified to be in the
// node's main chain (btcd answers null for side-chain and orphan blocks).
//
// Proxy mode (Config.Upstream, e.g. a *chain.Upstream): jobs come from an
// upstream pool's mining.notify (NewProxyJob appends the upstream
// extranonce1 to coinb1), each connection's extranonce1 is a prefix of the
// upstream extranonce2, so the upstream's extranonce2 space is split among
// our workers, and locally valid shares that meet the upstream target are
// forwarded (bounded queue, never blocking Submit). Blocks are the
// upstream's business; a solving share is reported with Block.Pending.
package job
