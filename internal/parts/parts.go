// Package parts lists hashfleet's optional integration parts — the real
// programs some tests (and some deployments) need but that a plain Go
// toolchain does not bring: btcd, ZooKeeper, chromium, the Docker engine,
// docker compose, real Apache Mesos, qemu-user and the Kubernetes control
// plane (kube-apiserver, kube-controller-manager, etcd). For each it says how it
// is found, how to install it and what CI requires, and Check reports
// whether it is present here, where, and its version.
//
// It is the one place that knows these things: tests gate on a part with
// partstest.Require, `hashfleet doctor` prints the same table for a
// newcomer, and docs/testing.md explains it. A new part is added here, with
// a check, and nowhere else.
package parts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Name names an integration part.
type Name string

// The integration parts.
const (
	Btcd      Name = "btcd"
	ZooKeeper Name = "zookeeper"
	Chromium  Name = "chromium"
	Docker    Name = "docker"
	Compose   Name = "docker-compose"
	Mesos     Name = "mesos"
	QemuUser  Name = "qemu-user"
	Kube      Name = "kube"
	Kubelet   Name = "kubelet"
)

// EnvRequire, set to 1 (as .ci/run does), makes every missing part a test
// failure instead of a skip.
const EnvRequire = "HASHFLEET_REQUIRE_INTEGRATION"

// Required reports whether this environment requires every integration part.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Part describes one integration part.
type Part struct {
	Name    Name
	About   string // what hashfleet uses it for
	Finds   string // how tests and doctor find it
	Install string // how to get it (Debian 12)
	CI      string // what .ci/run does about it
	check   func(ctx context.Context) Status
}

// State is what Check found.
type State int

const (
	// Absent: not installed here. Tests skip (fail under EnvRequire).
	Absent State = iota
	// Present: installed and answering.
	Present
	// Broken: installed (or half-installed) but not working, for example a
	// Docker socket whose engine does not answer. Tests fail: a part that
	// is there must not make its tests silently skip.
	Broken
)

func (s State) String() string {
	switch s {
	case Present:
		return "present"
	case Broken:
		return "BROKEN"
	}
	return "missing"
}

// Status is the result of checking one part.
type Status struct {
	Part    *Part
	State   State
	Path    string   // where it was found
	Version string   // its version, when it says
	Command []string // how to run it, where that is more than Path (docker compose)
	Detail  string   // why it is absent or broken
}

func (s Status) String() string {
	switch s.State {
	case Present:
		v := s.Version
		if v == "" {
			v = "version unknown"
		}
		return fmt.Sprintf("%s: present (%s) at %s", s.Part.Name, v, s.Path)
	case Broken:
		return fmt.Sprintf("%s: BROKEN: %s", s.Part.Name, s.Detail)
	}
	return fmt.Sprintf("%s: missing: %s", s.Part.Name, s.Detail)
}

// All returns every integration part, in the order doctor prints them.
func All() []*Part { return all }

// Lookup returns the part called name.
func Lookup(name Name) (*Part, error) {
	for _, p := range all {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("parts: unknown integration part %q", name)
}

// Check finds the part and reports its state; it runs the part's version
// command, so it can take a few seconds (ctx bounds it).
func (p *Part) Check(ctx context.Context) Status {
	s := p.check(ctx)
	s.Part = p
	return s
}

// CheckAll checks every part concurrently.
func CheckAll(ctx context.Context) []Status {
	out := make([]Status, len(all))
	var wg sync.WaitGroup
	for i, p := range all {
		wg.Go(func() { out[i] = p.Check(ctx) })
	}
	wg.Wait()
	return out
}

// ModuleRoot returns the directory holding hashfleet's go.mod, searching
// from the working directory upwards (tests run in their package's
// directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == "github.com/hashfleet/hashfleet" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the hashfleet source tree (no go.mod of github.com/hashfleet/hashfleet above the working directory)")
		}
		dir = parent
	}
}
