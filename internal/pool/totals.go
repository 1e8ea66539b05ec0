package pool

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashfleet/hashfleet/internal/store"
)

// WorkerTotals are the persistent per-worker share counters. A worker's
// found blocks are not among them: job keeps the block records, and the
// worker's block count is derived from them (Stats).
type WorkerTotals struct {
	Accepted  uint64    `json:"accepted"`
	Rejected  uint64    `json:"rejected"`
	DiffSum   float64   `json:"diff_sum"` // sum of the difficulty of accepted shares
	LastShare time.Time `json:"last_share,omitzero"`
}

// workersBucket holds the worker totals in the state file, keyed by name.
const workersBucket = "workers"

// loadTotals reads every worker's totals from st. A record that does not
// decode is a *store.DamagedError.
func loadTotals(st *store.DB) (map[string]WorkerTotals, error) {
	out := make(map[string]WorkerTotals)
	err := st.ForEach(workersBucket, func(k, v []byte) error {
		var t WorkerTotals
		if err := json.Unmarshal(v, &t); err != nil {
			return st.Damaged(fmt.Errorf("worker %q: %w", k, err))
		}
		out[string(k)] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pool: load worker totals: %w", err)
	}
	return out, nil
}

// writeTotals writes the given totals in one transaction.
func writeTotals(st *store.DB, totals map[string]WorkerTotals) error {
	kvs := make([]store.KV, 0, len(totals))
	for name, t := range totals {
		v, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("pool: store worker totals: %w", err)
		}
		kvs = append(kvs, store.KV{Key: []byte(name), Value: v})
	}
	if err := st.Put(workersBucket, kvs...); err != nil {
		return fmt.Errorf("pool: store worker totals: %w", err)
	}
	return nil
}
