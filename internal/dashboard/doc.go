// Package dashboard serves hashfleet's web dashboard and its JSON API.
//
// The dashboard never reaches into running components. It reads value
// snapshots through one small interface, Source, that cmd/hashfleet
// implements over the scheduler's status, the miner server's HTTP stats and
// the node's RPC. A Server samples the Source on an interval, keeps a bounded
// history of hash rates for the live charts, and pushes each new snapshot to
// browsers over server-sent events. Every asset is embedded in the binary; no
// external CDN is used.
package dashboard
