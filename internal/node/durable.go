package node

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/btcsuite/btcd/database"
)

// dbFlusher writes btcd's ffldb write cache to its files on demand, so
// that a block the node answered "accepted" for survives a crash (kill -9)
// of the process.
//
// ffldb keeps committed transactions (the block index, the best-chain
// state, the spend journal, the write position in the block files) in an
// in-memory write cache and writes them to leveldb only every 300 s
// (defaultFlushSecs) or when the cache is large; the block bytes are in the
// flat files, but a restart truncates those back to the last flushed write
// position. ffldb has no public flush, only a flush interval checked at
// each commit, so flush sets that interval to zero, commits an empty write
// transaction (which makes ffldb fsync the current block file, then write
// the cache to leveldb in one batch, journaled before the call returns),
// and restores it: one flush per accepted block, not one per each of the
// several transactions btcd commits for a block. btcd's own UTXO cache may
// still lag: on start, blockchain.New replays the blocks after its last
// UTXO flush (InitConsistentState), so only ffldb's metadata must be
// current.
//
// The interval is reached by reflection, pinned to btcd v0.26.2's layout
// (db.cache *dbCache, dbCache.flushInterval time.Duration); if a btcd
// upgrade changes it, newDBFlusher fails and the node refuses to start
// rather than run without the guarantee.
type dbFlusher struct {
	db       database.DB
	interval *time.Duration // ffldb's dbCache.flushInterval; read by ffldb under its write lock
	normal   time.Duration
}

func newDBFlusher(db database.DB) (*dbFlusher, error) {
	v := reflect.ValueOf(db)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("node: database %T is not ffldb", db)
	}
	cache := v.Elem().FieldByName("cache")
	if !cache.IsValid() || cache.Kind() != reflect.Pointer || cache.IsNil() || cache.Elem().Kind() != reflect.Struct {
		return nil, errLayout
	}
	f := cache.Elem().FieldByName("flushInterval")
	if !f.IsValid() || f.Type() != reflect.TypeFor[time.Duration]() || !f.CanAddr() {
		return nil, errLayout
	}
	p := (*time.Duration)(unsafe.Pointer(f.UnsafeAddr()))
	return &dbFlusher{db: db, interval: p, normal: *p}, nil
}

var errLayout = errors.New("node: btcd's ffldb layout changed (db.cache.flushInterval); cannot make block writes crash-safe")

// flush writes everything committed so far to disk. The caller must
// serialise it with every other use of the database (the node holds
// stateMu), since ffldb reads the interval during any commit.
func (f *dbFlusher) flush() error {
	*f.interval = 0
	defer func() { *f.interval = f.normal }()
	if err := f.db.Update(func(database.Tx) error { return nil }); err != nil {
		return fmt.Errorf("node: flush database: %w", err)
	}
	return nil
}
