package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// TestMain prints, after the tests, which integration parts were missing
// (docs/testing.md), and removes the binary hashfleetBinary built (22 MB in
// $TMPDIR).
func TestMain(m *testing.M) {
	code := m.Run()
	partstest.Report()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
