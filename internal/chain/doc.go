// Package chain talks to the sources of block templates: a Bitcoin node
// (bitcoind or btcd) over hand-written JSON-RPC, and (proxy mode) an
// upstream Stratum pool.
//
// The RPC client smooths over the dialect differences between Bitcoin Core
// and btcd (mining-protocols.md §2–3):
//
//   - getblocktemplate is always called with rules ["segwit"] (Core needs it,
//     btcd ignores it) in coinbasevalue mode;
//   - default_witness_commitment is accepted both as Core's full output
//     script (6a24aa21a9ed…) and as btcd's bare 32-byte hash, and may be
//     absent; it is normalised to the full script but job recomputes it
//     anyway;
//   - every transaction's txid and wtxid are recomputed from its data and
//     checked against the node's fields;
//   - submitblock's null is not proof of acceptance on btcd (it also answers
//     null for side-chain and orphan blocks), so BlockInMainChain checks the
//     node's view afterwards.
//
// Every call takes a context. Ordinary calls get Config.Timeout; a
// longpoll getblocktemplate is bounded only by its context, so there is no
// 60 s cap. Transport failures, HTTP 5xx without a JSON-RPC body and the
// "warming up" error (-28) are retried with exponential backoff, which lets
// a caller ride out a node restart. A Client is safe for concurrent use.
//
// Upstream is the proxy-mode source: a Stratum v1 client of an upstream
// pool (configure/subscribe/authorize, notify, set_difficulty, submit) that
// reconnects with backoff and numbers its sessions, so shares are never
// sent on a connection other than the one their job came from.
// chaintest.FakePool is a loopback upstream pool for tests.
package chain
