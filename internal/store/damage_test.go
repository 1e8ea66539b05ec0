package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writtenStore writes a pool.db with enough records to span more than 2
// MiB, closes it and returns its path.
func writtenStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var kvs []KV
	for i := range 6000 {
		kvs = append(kvs, KV{Key: fmt.Appendf(nil, "%08d", i), Value: []byte(strings.Repeat("x", 300))})
	}
	if err := st.Put("blocks", kvs...); err != nil {
		t.Fatal(err)
	}
	if err := st.Put("workers", KV{Key: []byte("w"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err != nil || fi.Size() <= 2<<20 {
		t.Fatalf("pool.db: %v, size %d, want > 2 MiB", err, fi.Size())
	}
	return path
}

// leafPage returns the id of a leaf page in use in the db at path.
func leafPage(t *testing.T, path string) (id int, pageSize int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for i := 2; ; i++ {
			p, err := tx.Page(i)
			if err != nil || p == nil {
				return fmt.Errorf("no leaf page: %v", err)
			}
			if p.Type == "leaf" {
				id = i
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, db.Info().PageSize
}

func overwrite(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

// TestStoreDamage: every kind of damage to pool.db gives a clear error
// naming the file and what to do; never a panic, never a store that opens
// empty or with records missing.
func TestStoreDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{name: "truncated to 1 MiB", want: "truncated", damage: func(t *testing.T, path string) {
			if err := os.Truncate(path, 1<<20); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncated to 0 bytes", want: "empty", damage: func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncated to 100 bytes", want: "damaged", damage: func(t *testing.T, path string) {
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "leaf page overwritten", want: "damaged", damage: func(t *testing.T, path string) {
			id, ps := leafPage(t, path)
			overwrite(t, path, int64(id*ps), ps)
		}},
		{name: "first meta page garbled", want: "meta page 0", damage: func(t *testing.T, path string) {
			overwrite(t, path, 20, 40)
		}},
		{name: "second meta page garbled", want: "meta page 1", damage: func(t *testing.T, path string) {
			_, ps := leafPage(t, path)
			overwrite(t, path, int64(ps)+20, 40)
		}},
		{name: "both meta pages garbled", want: "damaged", damage: func(t *testing.T, path string) {
			_, ps := leafPage(t, path)
			overwrite(t, path, 20, 40)
			overwrite(t, path, int64(ps)+20, 40)
		}},
		{name: "not a database", want: "damaged", damage: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("hello\n", 5000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writtenStore(t)
			tc.damage(t, path)
			st, n, err := openNoPanic(filepath.Dir(path))
			if err == nil {
				st.Close()
				t.Fatalf("Open of a damaged pool.db: no error (it read %d records of 6000)", n)
			}
			msg := err.Error()
			for _, w := range []string{path, tc.want, "move it aside"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want it to contain %q", msg, w)
				}
			}
		})
	}
}

// openNoPanic opens the store and reads every record, turning a panic
// into a test failure with its message, so that one case's panic does not
// hide the others.
func openNoPanic(dir string) (st *DB, n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			st, err = nil, fmt.Errorf("PANIC: %v", p)
		}
	}()
	st, err = Open(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, b := range []string{"blocks", "workers"} {
		if err = st.ForEach(b, func(k, v []byte) error { n++; return nil }); err != nil {
			st.Close()
			return nil, n, err
		}
	}
	return st, n, nil
}
