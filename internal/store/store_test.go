package store

import (
	"errors"
	"fmt"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := st.Put("blocks", KV{[]byte("b2"), []byte("two")}, KV{[]byte("b1"), []byte("one")}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := st.Put("workers", KV{[]byte("w1"), []byte("10")}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := st.Put("blocks", KV{[]byte("b1"), []byte("one again")}); err != nil {
		t.Fatalf("Put (overwrite): %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	got := records(t, st, "blocks")
	if want := "b1=one again b2=two "; got != want {
		t.Errorf("blocks after reopen: got %q, want %q (key order, the overwrite kept)", got, want)
	}
	if got := records(t, st, "workers"); got != "w1=10 " {
		t.Errorf("workers after reopen: got %q, want w1=10", got)
	}
	if got := records(t, st, "never written"); got != "" {
		t.Errorf("a bucket never written: got %q, want no records", got)
	}
	stop := errors.New("stop")
	n := 0
	err = st.ForEach("blocks", func(k, v []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ForEach stopped by fn: got %v after %d calls, want fn's error after 1", err, n)
	}
}

func records(t *testing.T, st *DB, bucket string) string {
	t.Helper()
	var out string
	if err := st.ForEach(bucket, func(k, v []byte) error {
		out += fmt.Sprintf("%s=%s ", k, v)
		return nil
	}); err != nil {
		t.Fatalf("ForEach %s: %v", bucket, err)
	}
	return out
}

func TestLockedFailsFast(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	if _, err := Open(dir); err == nil {
		t.Fatalf("second open of a held store: got nil error, want a lock error")
	}
}

func TestDamagedNamesTheFile(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Damaged(errors.New("block record: bad json"))
	var de *DamagedError
	if !errors.As(err, &de) || de.Path != st.Path() {
		t.Fatalf("Damaged: got %v, want a *DamagedError naming %s", err, st.Path())
	}
}
