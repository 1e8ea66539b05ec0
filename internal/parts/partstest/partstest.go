// Package partstest gates tests on hashfleet's integration parts (see
// package parts and docs/testing.md) and on CPU features.
//
// Require skips a test whose part is missing, with a message naming the
// part and how to install it, and fails it instead when
// HASHFLEET_REQUIRE_INTEGRATION=1 (as in CI). A part that is there but
// broken (a Docker socket whose engine does not answer) fails the test
// everywhere. Main, called from a package's TestMain, prints at the end which
// parts were missing, so a plain `go test ./...` says what it did not test.
package partstest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/parts"
)

// EnvSkip lists parts (comma-separated) that tests treat as missing even
// when installed, for a machine whose part is broken and cannot be fixed
// now; it has no effect under HASHFLEET_REQUIRE_INTEGRATION=1.
const EnvSkip = "HASHFLEET_SKIP_PARTS"

var (
	mu      sync.Mutex
	checked = map[parts.Name]*parts.Status{}
	missing = map[string]string{} // part or CPU feature -> how to get it
)

// Status checks a part once per test process and returns what was found.
func Status(name parts.Name) parts.Status {
	p, err := parts.Lookup(name)
	if err != nil {
		panic(err) // a typo in a test, not an environment problem
	}
	mu.Lock()
	defer mu.Unlock()
	if s, ok := checked[name]; ok {
		return *s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := p.Check(ctx)
	checked[name] = &s
	return s
}

// Require returns the part's status when it is present. Otherwise it skips
// the test (fails it under HASHFLEET_REQUIRE_INTEGRATION=1); a broken part
// fails the test.
func Require(t testing.TB, name parts.Name) parts.Status {
	t.Helper()
	s := Status(name)
	if !parts.Required() && slices.Contains(strings.Split(os.Getenv(EnvSkip), ","), string(name)) {
		Missing(t, name, "%s=%s", EnvSkip, os.Getenv(EnvSkip))
	}
	switch s.State {
	case parts.Present:
		return s
	case parts.Broken:
		t.Fatalf("integration part %s is installed but broken: %s\n(to get it: %s; or list it in %s to skip its tests on this machine)",
			name, s.Detail, s.Part.Install, EnvSkip)
	}
	Missing(t, name, "%s", s.Detail)
	return s
}

// Missing skips the test because part name (or something the test needs
// from it) is unavailable, naming the part and how to install it, or fails
// it under HASHFLEET_REQUIRE_INTEGRATION=1. The part is listed in the
// package's summary (see Main).
func Missing(t testing.TB, name parts.Name, format string, args ...any) {
	t.Helper()
	install := "see docs/testing.md"
	if p, err := parts.Lookup(name); err == nil {
		install = p.Install
	}
	msg := fmt.Sprintf("integration part %s missing: %s (install: %s)", name, fmt.Sprintf(format, args...), install)
	if parts.Required() {
		t.Fatalf("%s [required: %s=1]", msg, parts.EnvRequire)
	}
	mu.Lock()
	missing[string(name)] = install
	mu.Unlock()
	t.Skip(msg)
}

// RequireCPU gates a test on a CPU feature set. detected is what the code
// under test found (Go's CPUID detection); flags are the /proc/cpuinfo names
// of what it needs. The test runs when detected; it is skipped only when
// the CPU lacks the feature by both accounts, and fails when /proc/cpuinfo
// advertises every flag but detection says no: a detection bug would
// otherwise hide the kernel from its tests.
func RequireCPU(t testing.TB, what string, detected bool, flags ...string) {
	t.Helper()
	if detected {
		return
	}
	have, err := parts.CPUFlags()
	if err != nil {
		t.Skipf("%s: not detected, and %v", what, err)
	}
	var lacks []string
	for _, f := range flags {
		if !have[f] {
			lacks = append(lacks, f)
		}
	}
	if len(lacks) == 0 {
		t.Fatalf("%s: /proc/cpuinfo advertises %s but the CPUID detection does not see it", what, strings.Join(flags, " "))
	}
	mu.Lock()
	missing["CPU "+what] = "a CPU with " + strings.Join(lacks, " ")
	mu.Unlock()
	t.Skipf("%s: this CPU lacks %s (by CPUID and /proc/cpuinfo)", what, strings.Join(lacks, " "))
}

// Main runs the package's tests (call it from TestMain), prints which
// integration parts were missing, and exits. Packages with their own
// TestMain call Report after m.Run instead.
func Main(m *testing.M) {
	code := m.Run()
	Report()
	os.Exit(code)
}

// Report prints "integration parts missing in this package: …" when a test
// of this process skipped for a missing part. `go test ./...` shows a
// passing package's output only with -v, so without -v the line goes to
// the terminal (/dev/tty) when there is one; otherwise, and with -v, to
// stderr.
func Report() {
	line := Summary()
	if line == "" {
		return
	}
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, line)
			tty.Close()
			return
		}
	}
	fmt.Fprintln(os.Stderr, line)
}

// Summary returns the line Report prints, or "" when nothing was missing.
func Summary() string {
	mu.Lock()
	defer mu.Unlock()
	if len(missing) == 0 {
		return ""
	}
	var items []string
	for _, k := range slices.Sorted(maps.Keys(missing)) {
		items = append(items, fmt.Sprintf("%s (install: %s)", k, missing[k]))
	}
	return fmt.Sprintf("integration parts missing in this package (%s): %s; `make doctor` lists them all",
		packageDir(), strings.Join(items, "; "))
}

// packageDir names the package under test by its directory in the module.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	if root, err := parts.ModuleRoot(); err == nil {
		if rel, err := filepath.Rel(root, wd); err == nil {
			return "./" + filepath.ToSlash(rel)
		}
	}
	return wd
}
