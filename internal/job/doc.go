// Package job turns block templates into immutable Stratum jobs, hands out
// extranonce1 values, validates shares, and owns found blocks: it
// records, counts, submits, retries, verifies, follows and persists them.
//
// The pure core is NewJob (template → *Job: coinbase split at the
// extranonce slot, merkle branch, recomputed witness commitment) and Check
// (one share against one job, in the order of mining-protocols.md §1.7:
// job lookup/stale, extranonce sizes, ntime window, version mask; then the
// duplicate check keyed on the header hash and the share target).
// Rejections are *stratum.RejectError values whose kind gives the Stratum
// code, the metric label and the message.
//
// Two job sources share that core (core.go: the job table published as
// immutable snapshots by one owner goroutine, subscribers, extranonce1
// allocation, the duplicate set): Manager (node mode) and Proxy (proxy
// mode). Submit runs on the caller's goroutine without locks except a
// short one for the duplicate set, so pool sessions validate in parallel.
//
// Manager's Run owns a longpoll fetcher (with a polling fallback), a
// periodic refresher (new transactions, newer ntime), the owner goroutine,
// the settler and the follower. A share whose hash meets the network target is
// assembled at once — even when the share itself is rejected as stale, out
// of the ntime window or outside the version mask — and handed to the
// settler; Submit never waits for the node. Each block hash is submitted
// at most once, blocks in the order found; a submission is retried through
// node errors, timeouts and restarts (SubmitRetryFor), and an unrejected
// block is verified to be in the node's main chain (btcd answers null for
// side-chain and orphan blocks). Each outcome goes out on SubscribeBlocks.
//
// The block book (book.go) holds one BlockRecord per hash: written to the
// state file (Config.Store, bucket "blocks", fsynced) before Submit
// answers the share that found it, and again when it settles and at each
// state change; New loads it, and a record that does not decode is a
// *store.DamagedError. With a BlockChecker the follower (follow.go, in
// Run) asks the node at each new tip and every BlockCheckInterval how deep
// each accepted block is, until it is buried BlockMaturity deep
// (confirmed) or leaves the main chain (orphaned, credit withdrawn);
// blocks left pending by a dead run are settled from the node's word.
//
// Proxy (NewProxy, e.g. over a *chain.Upstream): jobs come from an
// upstream pool's mining.notify (NewProxyJob appends the upstream
// extranonce1 to coinb1), each connection's extranonce1 is a prefix of the
// upstream extranonce2, so the upstream's extranonce2 space is split among
// our workers, and locally valid shares that meet the upstream target are
// forwarded (bounded queue, never blocking Submit). Blocks are the
// upstream's business; a solving share is reported with Block.Pending.
package job
