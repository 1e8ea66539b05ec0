// Package store is the server's state file (bbolt): named buckets of
// key/value records, each write one fsynced transaction, and a file that
// is never trusted when damaged. Opening checks the whole file (both meta
// pages, its length, every page reachable and well-formed); damage found
// then or later is a *DamagedError naming the file and what to do, never
// a panic and never a store that opens empty or with records missing.
//
// A DB is shared by the packages that keep state in it, each owning its
// buckets and the encoding of its records: job the found blocks
// ("blocks"), pool the worker totals ("workers"). Whoever opens it (the
// server's wiring in cmd) closes it after they have stopped.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the state file's name in the server's data dir.
const FileName = "pool.db"

// DB is an open state file. Its methods are safe for concurrent use
// (bbolt serialises writers).
type DB struct {
	db   *bolt.DB
	path string
}

// KV is one record to write.
type KV struct {
	Key, Value []byte
}

// Open opens (creating it and dir if needed) dir/pool.db. It fails fast,
// instead of waiting, when another process holds the file. A damaged
// file is a *DamagedError.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
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
	return &DB{db: db, path: path}, nil
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
		return nil, fmt.Errorf("store: open %s: %w (is another hashfleet server using this data dir?)", path, err)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) ||
		strings.Contains(err.Error(), "file size too small") {
		return nil, damaged(path, err)
	}
	return nil, fmt.Errorf("store: open %s: %w", path, err)
}

// damaged is the error for a state file that cannot be trusted.
func damaged(path string, why error) error {
	return &DamagedError{Path: path, Err: why}
}

// DamagedError reports a damaged state file. The server refuses to start
// on it rather than start empty or with records missing.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("store: %s is damaged (%v): move it aside to start with an empty pool state, or restore it from a backup", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Damaged is the error for a record of this file that its owner cannot
// decode: a *DamagedError naming the file.
func (s *DB) Damaged(why error) error { return damaged(s.path, why) }

// Path is the file's path.
func (s *DB) Path() string { return s.path }

// Close closes the file.
func (s *DB) Close() error { return s.db.Close() }

// Put writes the records into bucket (created if needed) in one fsynced
// transaction: on return they survive a crash, all or none of them.
func (s *DB) Put(bucket string, kvs ...KV) error {
	if len(kvs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := b.Put(kv.Key, kv.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: write %s: %w", bucket, err)
	}
	return nil
}

// ForEach calls fn for every record of bucket in key order (none when the
// bucket was never written), stopping at fn's first error, which it
// returns. The slices are valid only during the call. Damage found on the
// way is a *DamagedError.
func (s *DB) ForEach(bucket string, fn func(k, v []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
}
