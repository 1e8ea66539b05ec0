package dashboard

import (
	"context"
	"encoding/json"
	"time"
)

// Snapshot is one read-only view of the whole system. The zero value of each
// part means "not known yet"; Errors says which sources failed and why.
type Snapshot struct {
	Time    time.Time         `json:"time"`
	Cluster Cluster           `json:"cluster"`
	Server  Pool              `json:"server"`
	Workers []Worker          `json:"workers"`
	Chain   Chain             `json:"chain"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// Cluster is the Mesos side: the framework, the agents and the tasks.
type Cluster struct {
	Master      string  `json:"master"`
	FrameworkID string  `json:"framework_id"`
	Connected   bool    `json:"connected"`
	Agents      []Agent `json:"agents"`
	Tasks       []Task  `json:"tasks"`
}

// Agent is one Mesos agent as the master reports it.
type Agent struct {
	ID        string `json:"id"`
	Hostname  string `json:"hostname"`
	Resources string `json:"resources"`
	Used      string `json:"used"`
	Active    bool   `json:"active"`
}

// Task is one task the framework launched.
type Task struct {
	ID      string    `json:"id"`
	Role    string    `json:"role"` // "server" or "worker"
	State   string    `json:"state"`
	AgentID string    `json:"agent_id"`
	Healthy *bool     `json:"healthy,omitempty"`
	Since   time.Time `json:"since"`
	Message string    `json:"message,omitempty"`
}

// Pool is the miner server (Stratum pool) as it reports itself.
type Pool struct {
	Address     string            `json:"address"`
	Connections int               `json:"connections"`
	Difficulty  float64           `json:"difficulty"`
	HashRate    float64           `json:"hashrate"`
	Accepted    uint64            `json:"accepted"`
	Rejected    map[string]uint64 `json:"rejected"`
	// Blocks are the latest blocks found (oldest first): all the Source
	// knows, but at most Config.RecentBlocks in what the dashboard serves
	// and pushes; BlocksTotal counts them all, and /api/found pages
	// through the rest.
	Blocks      []Block `json:"blocks"`
	BlocksTotal int     `json:"blocks_total"`
	JobHeight   int64   `json:"job_height"`
}

// Worker is one connected worker as the server sees it.
type Worker struct {
	Name       string  `json:"name"`
	HashRate   float64 `json:"hashrate"`
	Accepted   uint64  `json:"accepted"`
	Rejected   uint64  `json:"rejected"`
	Difficulty float64 `json:"difficulty"`
}

// Chain is the Bitcoin node's view.
type Chain struct {
	Network  string  `json:"network"`
	Height   int64   `json:"height"`
	BestHash string  `json:"best_hash"`
	Recent   []Block `json:"recent"`
}

// Block is one block, found by the pool or seen on the chain.
type Block struct {
	Height int64     `json:"height"`
	Hash   string    `json:"hash"`
	Time   time.Time `json:"time"`
	Result string    `json:"result,omitempty"` // node's answer to submitblock when not accepted, or why a found block was orphaned
	State  string    `json:"state,omitempty"`  // found blocks: pending, accepted, rejected, confirmed or orphaned
	Ours   bool      `json:"ours,omitempty"`
}

// Source produces snapshots. Snapshot is called from the dashboard's one
// sampling goroutine only; it should return within the context's deadline
// and put partial failures in Snapshot.Errors rather than failing whole.
type Source interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (Snapshot, error)

// Snapshot calls f.
func (f SourceFunc) Snapshot(ctx context.Context) (Snapshot, error) { return f(ctx) }

// BlockLooker returns the node's verbose JSON for one block hash (display
// hex), for the block detail view. It may be nil.
type BlockLooker interface {
	LookupBlock(ctx context.Context, hash string) (json.RawMessage, error)
}
