package internal_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hashfleet/hashfleet"

// allowed lists, for every internal package, the internal packages it may
// import directly (ARCHITECTURE.md, "Packages"). A package missing from this
// table fails the test: add it here, with its place in the data flow, when
// you add it. Test-helper packages (name ending in "test") may additionally
// import the package they support, anything that package may import, and
// helperExtra (test ports and the integration-part gates).
var allowed = map[string][]string{
	"btc":              {},
	"sha256d":          {},
	"stratum":          {},
	"backoff":          {}, // the one capped exponential backoff
	"store":            {}, // the server's state file (bbolt): buckets of records, damage is an error
	"mesos":            {"backoff"},
	"obs":              {},
	"porttest":         {}, // test helper: ports for tests (no internal imports)
	"parts":            {}, // integration parts: detection and install hints (tests, doctor)
	"chain":            {"btc", "stratum", "backoff"},
	"node":             {"btc"},
	"job":              {"btc", "sha256d", "stratum", "chain", "backoff", "store"},
	"netpoll":          {}, // non-blocking connections with readiness (epoll, in-memory pipe): no goroutine per idle connection
	"pool":             {"job", "stratum", "btc", "store", "netpoll"},
	"miner":            {"stratum", "sha256d", "btc", "backoff"},
	"scheduler":        {"mesos", "backoff", "fleet"},
	"minimesos/master": {"mesos"},
	"dockerapi":        {}, // Docker Engine API client (agent, demo)
	"minimesos/agent":  {"mesos", "dockerapi"},
	"minimesos":        {"minimesos/master", "minimesos/agent", "mesos", "obs"},             // the embedded cluster: master + local agents
	"dashboard":        {},                                                                  // the UI over snapshots it is handed
	"dashboard/feed":   {"dashboard", "scheduler", "kube", "pool", "job", "chain", "mesos"}, // builds those snapshots from the running system
	"loadgen":          {"pool", "job", "chain", "stratum", "btc", "netpoll", "backoff"},    // scale measurement: simulated miners against the real pool
	"kube/kubetest":    {"porttest", "parts", "parts/partstest"},                            // test helper: a real etcd + kube-apiserver (+ controller-manager) for the Kubernetes backend's tests
	"fleet":            {"backoff", "btc"},                                                  // the engine-neutral policy: worker sizing, backoff, server/worker command lines
	"kube":             {"fleet"},
}

type pkg struct {
	path    string
	imports []string
	deps    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			continue
		}
		pkgs = append(pkgs, pkg{path: parts[0], imports: strings.Fields(parts[1]), deps: strings.Fields(parts[2])})
	}
	return pkgs
}

// rel returns the package path relative to internal/, or "" if p is not internal.
func rel(p string) string {
	r, ok := strings.CutPrefix(p, module+"/internal/")
	if !ok {
		return ""
	}
	return r
}

// helperExtra lists what every test-helper package may import besides its
// parent's rule: test ports and the integration-part gates.
var helperExtra = []string{"porttest", "parts", "parts/partstest"}

// rule returns the allowed internal imports for an internal package; for a
// test-helper package "x/xtest" or "xtest" it is x's rule plus x itself and
// helperExtra.
func rule(name string) ([]string, bool) {
	if r, ok := allowed[name]; ok {
		return r, true
	}
	dir, base := "", name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	if parent, ok := strings.CutSuffix(base, "test"); ok {
		for _, cand := range []string{dir, strings.TrimPrefix(dir+"/"+parent, "/")} {
			if r, ok := allowed[cand]; ok && cand != "" {
				return append(append(slices.Clone(r), cand), helperExtra...), true
			}
		}
	}
	return nil, false
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		name := rel(p.path)
		if name == "" {
			continue
		}
		r, known := rule(name)
		if !known {
			t.Errorf("package internal/%s is not in the import table of deps_test.go: add it (see ARCHITECTURE.md)", name)
			continue
		}
		for _, imp := range p.imports {
			dep := rel(imp)
			if dep == "" || slices.Contains(r, dep) {
				continue
			}
			t.Errorf("internal/%s imports internal/%s, against the direction in ARCHITECTURE.md (allowed: %v)", name, dep, r)
		}
	}
}

func TestNothingImportsCmd(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.HasPrefix(p.path, module+"/cmd/") {
			continue
		}
		for _, imp := range p.imports {
			if strings.HasPrefix(imp, module+"/cmd/") {
				t.Errorf("%s imports %s: nothing may import cmd", p.path, imp)
			}
		}
	}
}

// TestNoTestingInProduction fails if the binary, or any non-helper package,
// links the testing package.
func TestNoTestingInProduction(t *testing.T) {
	for _, p := range listPackages(t) {
		name := rel(p.path)
		if strings.HasSuffix(name, "test") {
			continue // test-helper packages (xxxtest) exist to be imported by tests
		}
		if slices.Contains(p.deps, "testing") || slices.Contains(p.imports, "testing") {
			t.Errorf("%s (non-test code) depends on package testing", p.path)
		}
	}
}
