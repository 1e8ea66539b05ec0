package partstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/parts"
)

// child runs this test binary again with only the test named run, in an
// environment with env added and an empty PATH (so no integration part is
// found), and returns its output and whether it passed.
func child(t *testing.T, run string, env ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{"PARTSTEST_CHILD=1", "PATH=" + t.TempDir()}, env...)...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return string(out), err == nil
}

func TestChildRequireChromium(t *testing.T) {
	if os.Getenv("PARTSTEST_CHILD") != "1" {
		t.Skip("run by TestRequire")
	}
	Require(t, parts.Chromium)
	t.Log("RAN PAST REQUIRE")
}

func TestRequire(t *testing.T) {
	out, ok := child(t, "TestChildRequireChromium", parts.EnvRequire+"=")
	if !ok || !strings.Contains(out, "--- SKIP") || strings.Contains(out, "RAN PAST REQUIRE") {
		t.Errorf("locally, a missing part must skip the test:\n%s", out)
	}
	if !strings.Contains(out, "integration part chromium missing") || !strings.Contains(out, "install: apt-get install -y chromium") {
		t.Errorf("the skip must name the part and how to install it:\n%s", out)
	}
	out, ok = child(t, "TestChildRequireChromium", parts.EnvRequire+"=1")
	if ok || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "required: "+parts.EnvRequire+"=1") {
		t.Errorf("under %s=1 a missing part must fail the test:\n%s", parts.EnvRequire, out)
	}
	// A chromium that is there but does not run is broken: the test fails
	// even locally.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "chromium"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildRequireChromium$", "-test.v")
	cmd.Env = append(os.Environ(), "PARTSTEST_CHILD=1", "PATH="+dir, parts.EnvRequire+"=")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "installed but broken") {
		t.Errorf("a broken part must fail the test locally:\n%s", b)
	}
	// ... unless listed in HASHFLEET_SKIP_PARTS (not under CI).
	cmd = exec.Command(os.Args[0], "-test.run=^TestChildRequireChromium$", "-test.v")
	cmd.Env = append(os.Environ(), "PARTSTEST_CHILD=1", "PATH="+dir, parts.EnvRequire+"=", EnvSkip+"=docker,chromium")
	b, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- SKIP") {
		t.Errorf("%s=chromium must skip the broken part's test: %v\n%s", EnvSkip, err, b)
	}
}

func TestChildRequireCPU(t *testing.T) {
	if os.Getenv("PARTSTEST_CHILD") != "1" {
		t.Skip("run by TestRequireCPU")
	}
	RequireCPU(t, "probe", false, strings.Fields(os.Getenv("PARTSTEST_FLAGS"))...)
	t.Log("RAN PAST REQUIRE")
}

func TestRequireCPU(t *testing.T) {
	flags, err := parts.CPUFlags()
	if err != nil || len(flags) == 0 {
		t.Skipf("no /proc/cpuinfo flags: %v", err)
	}
	var have string
	for f := range flags {
		have = f
		break
	}
	// Advertised by /proc/cpuinfo but not detected: a failure.
	out, ok := child(t, "TestChildRequireCPU", "PARTSTEST_FLAGS="+have)
	if ok || !strings.Contains(out, "/proc/cpuinfo advertises "+have) {
		t.Errorf("flag %s in /proc/cpuinfo but not detected must fail:\n%s", have, out)
	}
	// Lacking by both accounts: a skip, even under CI.
	out, ok = child(t, "TestChildRequireCPU", "PARTSTEST_FLAGS="+have+" no_such_cpu_flag", parts.EnvRequire+"=1")
	if !ok || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, "lacks no_such_cpu_flag") || strings.Contains(out, "RAN PAST") {
		t.Errorf("a feature the CPU lacks must skip:\n%s", out)
	}
}

func TestSummary(t *testing.T) {
	t.Setenv(parts.EnvRequire, "")
	t.Run("missing", func(t *testing.T) { Missing(t, parts.ZooKeeper, "no jar here") })
	s := Summary()
	if !strings.Contains(s, "integration parts missing in this package (./internal/parts/partstest)") ||
		!strings.Contains(s, "zookeeper (install: apt-get install -y zookeeper)") {
		t.Errorf("summary %q", s)
	}
}
