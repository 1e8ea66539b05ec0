package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/parts"
)

func runDoctor(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"doctor"}, args...))
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// TestDoctor runs `hashfleet doctor` with a PATH holding only a chromium
// that prints its version: it lists every part, reports chromium present
// with that version, says how to install a missing part, and fails only
// when --require names one that is not usable.
func TestDoctor(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "chromium"), []byte("#!/bin/sh\necho Chromium 131.0.6778.139\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("DOCKER_HOST", "")
	out, err := runDoctor(t)
	if err != nil {
		t.Fatalf("doctor without --require: %v\n%s", err, out)
	}
	for _, p := range parts.All() {
		if !strings.Contains(out, string(p.Name)) {
			t.Errorf("doctor does not mention %s:\n%s", p.Name, out)
		}
	}
	if !lineHas(out, "chromium", "present", "Chromium 131.0.6778.139") {
		t.Errorf("doctor does not report chromium present with its version:\n%s", out)
	}
	if !strings.Contains(out, "qemu-user (missing)") || !strings.Contains(out, "install:  apt-get install -y qemu-user-static") {
		t.Errorf("doctor does not say how to get the missing qemu-user:\n%s", out)
	}
	if out, err := runDoctor(t, "--require", "chromium"); err != nil {
		t.Errorf("--require chromium with chromium present: %v\n%s", err, out)
	}
	if _, err := runDoctor(t, "--require", "chromium,qemu-user"); err == nil || !strings.Contains(err.Error(), "qemu-user") {
		t.Errorf("--require qemu-user without qemu: err = %v", err)
	}
	if _, err := runDoctor(t, "--require", "nosuchpart"); err == nil || !strings.Contains(err.Error(), "unknown integration part") {
		t.Errorf("--require of an unknown part: err = %v", err)
	}
}

// lineHas reports whether one line of out holds all of words, in order.
func lineHas(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := line, true
		for _, w := range words {
			i := strings.Index(rest, w)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if ok {
			return true
		}
	}
	return false
}
