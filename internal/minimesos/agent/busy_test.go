package agent

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestStartRetriesTextFileBusy: an executable still open for writing makes
// exec fail with ETXTBSY; the agent retries until the writer is gone.
func TestStartRetriesTextFileBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ETXTBSY semantics are Linux's")
	}
	path := filepath.Join(t.TempDir(), "prog")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("#!/bin/sh\nexit 7\n"); err != nil {
		t.Fatal(err)
	}
	// The condition is real: a plain start fails while the file is open.
	if err := exec.Command(path).Start(); !errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("start with the file open for writing: got %v, want ETXTBSY", err)
	}
	// The writer goes away only after a start has failed with ETXTBSY and
	// the retry waits, so the retry is what starts the program.
	busy := 0
	wait := func(d time.Duration) {
		if busy++; busy == 1 {
			f.Close()
		}
		time.Sleep(d)
	}
	cmd := exec.Command(path)
	if err := startRetryBusy(&cmd, wait); err != nil {
		t.Fatalf("startRetryBusy: %v", err)
	}
	if busy == 0 {
		t.Fatal("startRetryBusy started the program without meeting ETXTBSY: nothing was retried")
	}
	err = cmd.Wait()
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit: got %v, want status 7 from the program", err)
	}
}
