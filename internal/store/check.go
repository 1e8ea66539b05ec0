package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// bbolt's file format (go.etcd.io/bbolt, data file version 2): pages 0 and
// 1 are meta pages, each a 16-byte page header then the meta: magic,
// version, page size, flags (4 bytes each), root bucket (16), freelist
// page, high-water page id, txid (8 each), then an FNV-1a 64 checksum of
// the 56 meta bytes before it. bbolt writes them alternately, one per
// transaction, little-endian on the platforms hashfleet runs on.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltPageHeader  = 16
	boltMetaSumFrom = 56
)

// checkMetaPages fails when the file exists but is empty, or when either
// meta page is invalid. bbolt itself initialises an empty file as a new
// database (a silent reset), and with one invalid meta page it falls back
// to the other, the previous transaction (a silently missing record).
func checkMetaPages(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errors.New("the file is empty (0 bytes) but a store is never written empty")
	}
	page0 := make([]byte, 4096)
	if _, err := io.ReadFull(f, page0); err != nil {
		return fmt.Errorf("meta page 0 unreadable: %w", err)
	}
	pageSize, err0 := validMeta(page0)
	if err0 != nil {
		// Find the page size from meta page 1 at each possible size.
		for ps := 1024; ps <= 65536 && int64(ps)+boltPageHeader+boltMetaSumFrom+8 <= fi.Size(); ps *= 2 {
			buf := make([]byte, boltPageHeader+boltMetaSumFrom+8)
			if _, err := f.ReadAt(buf, int64(ps)); err == nil {
				if got, err := validMeta(buf); err == nil && got == ps {
					return fmt.Errorf("meta page 0 is invalid (%v); bbolt would open the previous transaction and silently drop the last write", err0)
				}
			}
		}
		return fmt.Errorf("meta page 0 is invalid (%v) and no valid meta page 1 was found", err0)
	}
	page1 := make([]byte, boltPageHeader+boltMetaSumFrom+8)
	if _, err := f.ReadAt(page1, int64(pageSize)); err != nil {
		return fmt.Errorf("meta page 1 unreadable: %w", err)
	}
	if _, err := validMeta(page1); err != nil {
		return fmt.Errorf("meta page 1 is invalid (%v)", err)
	}
	return nil
}

// validMeta checks the meta in page p and returns its page size.
func validMeta(p []byte) (int, error) {
	m := p[boltPageHeader:]
	switch {
	case binary.LittleEndian.Uint32(m[0:]) != boltMagic:
		return 0, errors.New("bad magic")
	case binary.LittleEndian.Uint32(m[4:]) != boltVersion:
		return 0, errors.New("unknown version")
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSumFrom])
	if h.Sum64() != binary.LittleEndian.Uint64(m[boltMetaSumFrom:]) {
		return 0, errors.New("bad checksum")
	}
	return int(binary.LittleEndian.Uint32(m[8:])), nil
}

// checkDB checks an open store: the file holds every page its meta
// counts (a truncated file would fault on access), and bbolt's own
// consistency check finds every page reachable and well-formed. bbolt
// panics, and faults on the memory map, become errors.
func checkDB(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	fi, err := os.Stat(db.Path())
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("the file is truncated: %d bytes, its pages need %d", fi.Size(), tx.Size())
		}
		var errs []error
		for err := range tx.Check() { // drained: Check's goroutine holds the tx
			if len(errs) < 3 {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// view runs a read transaction whose panics and memory faults (damage
// found after open) become a DamagedError.
func (s *DB) view(fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = damaged(s.path, fmt.Errorf("%v", p))
		}
	}()
	return s.db.View(fn)
}
