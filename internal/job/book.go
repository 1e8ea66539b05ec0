package job

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/store"
)

// BlockRecord is one block a share found, with what the node said about
// it and what became of it. Hash is in display order (as block explorers
// and the node's RPC show it). It is the record kept in the state file and
// shown in the pool's /api/stats.
type BlockRecord struct {
	Height     int64     `json:"height"`
	Hash       string    `json:"hash"`
	Worker     string    `json:"worker"`
	Time       time.Time `json:"time"`
	Accepted   bool      `json:"accepted"`          // the node accepted it (kept when later orphaned)
	Pending    bool      `json:"pending,omitempty"` // submission not settled yet; updated when it is
	NodeResult string    `json:"node_result"`
	// State is pending, accepted, rejected, confirmed (buried
	// BlockMaturity deep) or orphaned (no longer in the node's main
	// chain; Reason says why). Confirmations is the depth last seen.
	State         string `json:"state"`
	Reason        string `json:"reason,omitempty"`
	Confirmations int64  `json:"confirmations,omitempty"`
}

// Block states. A block is recorded once per hash when a share solves it
// and then only moves forward: pending → accepted or rejected (the node's
// answer); accepted → confirmed once buried BlockMaturity deep in the
// node's main chain, or → orphaned when the node's main chain no longer
// holds it (an orphaned block that comes back to the main chain within the
// maturity window is accepted again).
const (
	BlockPending   = "pending"
	BlockAccepted  = "accepted"
	BlockRejected  = "rejected"
	BlockConfirmed = "confirmed"
	BlockOrphaned  = "orphaned"
)

// stateOf is b's state, derived for records written before states existed.
func stateOf(b BlockRecord) string {
	switch {
	case b.State != "":
		return b.State
	case b.Pending:
		return BlockPending
	case b.Accepted:
		return BlockAccepted
	}
	return BlockRejected
}

// Credited reports whether b counts for its worker: accepted or
// confirmed.
func (b BlockRecord) Credited() bool {
	s := stateOf(b)
	return s == BlockAccepted || s == BlockConfirmed
}

// blocksBucket holds the block records in the state file, keyed by
// height (8 bytes, big-endian) then hash, so they load in height order.
const blocksBucket = "blocks"

func blockKey(b BlockRecord) []byte {
	k := make([]byte, 8, 8+len(b.Hash))
	binary.BigEndian.PutUint64(k, uint64(b.Height))
	return append(k, b.Hash...)
}

// loadBlocks reads every block record of st in height order. A record
// that does not decode is a *store.DamagedError.
func loadBlocks(st *store.DB) ([]BlockRecord, error) {
	var out []BlockRecord
	err := st.ForEach(blocksBucket, func(_, v []byte) error {
		var b BlockRecord
		if err := json.Unmarshal(v, &b); err != nil {
			return st.Damaged(fmt.Errorf("block record: %w", err))
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("job: load blocks: %w", err)
	}
	return out, nil
}

// book is the record of every block found, in the order found, one per
// hash, written to the state file (when there is one) as it changes. Its
// methods are safe for concurrent use. A change is written under mu
// before it is visible, so the file never lags what Blocks showed, and
// writes reach the file in the order they were made.
type book struct {
	st  *store.DB // nil: kept in memory only
	log *slog.Logger

	mu     sync.Mutex
	blocks []BlockRecord
	byHash map[string]int // index in blocks
	// stalePending are blocks loaded as pending: their submission died
	// with an earlier run, so only the node can say what became of them.
	stalePending map[string]bool
}

// newBook holds the loaded records (the first of a hash wins).
func newBook(st *store.DB, loaded []BlockRecord, log *slog.Logger) *book {
	b := &book{st: st, log: log, byHash: make(map[string]int, len(loaded)), stalePending: make(map[string]bool)}
	for _, r := range loaded {
		if _, dup := b.byHash[r.Hash]; dup {
			continue
		}
		r.State = stateOf(r)
		if r.State == BlockPending {
			b.stalePending[r.Hash] = true
		}
		b.byHash[r.Hash] = len(b.blocks)
		b.blocks = append(b.blocks, r)
	}
	return b
}

// snapshot returns a copy of every record, oldest first.
func (b *book) snapshot() []BlockRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.blocks)
}

// found applies a report of block r: a new hash is recorded; a hash seen
// before changes only when its record is pending and r settles it. It
// returns the record and whether it changed (and was written).
func (b *book) found(r BlockRecord) (BlockRecord, bool) {
	r.State = stateOf(r)
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.byHash[r.Hash]
	if !ok {
		b.write(r)
		b.byHash[r.Hash] = len(b.blocks)
		b.blocks = append(b.blocks, r)
		return r, true
	}
	old := b.blocks[i]
	if stateOf(old) != BlockPending || r.State == BlockPending {
		return old, false
	}
	r.Worker, r.Time = old.Worker, old.Time
	delete(b.stalePending, r.Hash)
	b.write(r)
	b.blocks[i] = r
	return r, true
}

// follow updates a followed block's state and confirmations; it returns
// the record and whether its state changed (confirmations alone are not
// written).
func (b *book) follow(hash, state, reason string, conf int64) (BlockRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.byHash[hash]
	if !ok {
		return BlockRecord{}, false
	}
	r := b.blocks[i]
	r.Confirmations = conf
	if stateOf(r) == state {
		b.blocks[i] = r
		return r, false
	}
	r.State, r.Reason = state, reason
	if state != BlockPending {
		delete(b.stalePending, hash)
		r.Pending = false
		if state == BlockAccepted || state == BlockConfirmed {
			r.Accepted = true
		}
	}
	b.write(r)
	b.blocks[i] = r
	return r, true
}

// followed returns the blocks still to follow: accepted ones, orphaned
// ones within maturity of the tip (a reorg may bring them back), and ones
// left pending by an earlier run.
func (b *book) followed(tip int64, maturity int) []BlockRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []BlockRecord
	for _, r := range b.blocks {
		switch stateOf(r) {
		case BlockAccepted:
			out = append(out, r)
		case BlockOrphaned:
			if tip-r.Height < int64(maturity) {
				out = append(out, r)
			}
		case BlockPending:
			if b.stalePending[r.Hash] {
				out = append(out, r)
			}
		}
	}
	return out
}

// write puts r in the state file in one fsynced transaction. A failed
// write is logged; the record stays in memory. b.mu must be held.
func (b *book) write(r BlockRecord) {
	if b.st == nil {
		return
	}
	v, err := json.Marshal(r)
	if err == nil {
		err = b.st.Put(blocksBucket, store.KV{Key: blockKey(r), Value: v})
	}
	if err != nil {
		b.log.Error("persist block", "hash", r.Hash, "err", err)
	}
}
