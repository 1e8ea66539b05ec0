package pool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BlockRecord is one block the pool found: a share that met the network
// target, with what the node said about it. Hash is in display order (as
// block explorers and the node's RPC show it).
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

// WorkerTotals are the persistent per-worker share counters.
type WorkerTotals struct {
	Accepted  uint64    `json:"accepted"`
	Rejected  uint64    `json:"rejected"`
	DiffSum   float64   `json:"diff_sum"` // sum of the difficulty of accepted shares
	Blocks    uint64    `json:"blocks"`   // accepted or confirmed blocks; derived from the block records at load
	LastShare time.Time `json:"last_share,omitzero"`
}

var (
	bucketBlocks  = []byte("blocks")
	bucketWorkers = []byte("workers")
)

// store persists found blocks and per-worker share totals in a bbolt file.
// Blocks are written (and fsynced) as they are found; worker totals are
// written in batches by the owner. Methods are safe for concurrent use
// (bbolt serialises writers).
type store struct {
	db   *bolt.DB
	path string
}

// openStore opens (creating if needed) dir/pool.db. It fails fast, instead
// of waiting, when another process holds the file. A damaged file (see
// checkFile) is an error naming the file and what to do, never a panic
// and never a store that opens empty or with records missing.
func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pool: data dir: %w", err)
	}
	path := filepath.Join(dir, "pool.db")
	if err := checkMetaPages(path); err != nil {
		return nil, damaged(path, err)
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	if err := checkDB(db); err != nil {
		db.Close()
		return nil, damaged(path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBlocks, bucketWorkers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pool: init %s: %w", path, err)
	}
	return &store{db: db, path: path}, nil
}

// openBolt is bolt.Open with its panics (bbolt asserts on some damage)
// turned into a damage error.
func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, damaged(path, fmt.Errorf("%v", p))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err == nil {
		return db, nil
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("pool: open %s: %w (is another hashfleet server using this data dir?)", path, err)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) ||
		strings.Contains(err.Error(), "file size too small") {
		return nil, damaged(path, err)
	}
	return nil, fmt.Errorf("pool: open %s: %w", path, err)
}

// damaged is the error for a pool.db that cannot be trusted.
func damaged(path string, why error) error {
	return &DamagedError{Path: path, Err: why}
}

// DamagedError reports a damaged pool.db. The server refuses to start on
// it rather than start empty or with records missing.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("pool: %s is damaged (%v): move it aside to start with an empty pool state, or restore it from a backup", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

func (s *store) close() error { return s.db.Close() }

// blockKey orders blocks by height, then hash.
func blockKey(b BlockRecord) []byte {
	k := make([]byte, 8, 8+len(b.Hash))
	binary.BigEndian.PutUint64(k, uint64(b.Height))
	return append(k, b.Hash...)
}

// putBlock records a found block (overwriting an earlier record of the same
// block, e.g. when the node's result arrives later).
func (s *store) putBlock(b BlockRecord) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return putBlockTx(tx, b) })
	if err != nil {
		return fmt.Errorf("pool: store block %s: %w", b.Hash, err)
	}
	return nil
}

func putBlockTx(tx *bolt.Tx, b BlockRecord) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketBlocks).Put(blockKey(b), v)
}

// blocks returns every recorded block in height order.
func (s *store) blocks() ([]BlockRecord, error) {
	var out []BlockRecord
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlocks).ForEach(func(_, v []byte) error {
			var b BlockRecord
			if err := json.Unmarshal(v, &b); err != nil {
				return damaged(s.path, fmt.Errorf("block record: %w", err))
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pool: load blocks: %w", err)
	}
	return out, nil
}

// putWorkers writes the given totals in one transaction.
func (s *store) putWorkers(totals map[string]WorkerTotals) error {
	if len(totals) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWorkers)
		for name, t := range totals {
			v, err := json.Marshal(t)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(name), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: store worker totals: %w", err)
	}
	return nil
}

// workers loads every worker's totals.
func (s *store) workers() (map[string]WorkerTotals, error) {
	out := make(map[string]WorkerTotals)
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorkers).ForEach(func(k, v []byte) error {
			var t WorkerTotals
			if err := json.Unmarshal(v, &t); err != nil {
				return damaged(s.path, fmt.Errorf("worker %q: %w", k, err))
			}
			out[string(k)] = t
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pool: load worker totals: %w", err)
	}
	return out, nil
}
