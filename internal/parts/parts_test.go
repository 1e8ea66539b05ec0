package parts

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCPUFlags(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 sha_ni avx512f\nbugs\t: sysret_ss_attrs\n\nprocessor\t: 1\nflags\t\t: fpu\n"
	got := parseCPUFlags([]byte(in))
	for _, f := range []string{"fpu", "sse2", "avx2", "sha_ni", "avx512f"} {
		if !got[f] {
			t.Errorf("flag %s not parsed from %q", f, in)
		}
	}
	if got["sysret_ss_attrs"] || len(got) != 5 {
		t.Errorf("parsed %v: want exactly the first processor's flags", got)
	}
	arm := parseCPUFlags([]byte("processor\t: 0\nFeatures\t: fp asimd sha2\n"))
	if !arm["sha2"] || len(arm) != 3 {
		t.Errorf("arm64 Features line: got %v", arm)
	}
}

func TestCPUFlagsReadsThisMachine(t *testing.T) {
	f, err := CPUFlags()
	if err != nil {
		t.Skipf("no /proc/cpuinfo: %v", err)
	}
	if len(f) == 0 {
		t.Fatal("no CPU flags read from /proc/cpuinfo")
	}
}

func TestModulePath(t *testing.T) {
	if got := modulePath([]byte("// c\nmodule github.com/hashfleet/hashfleet\n\ngo 1.26\n")); got != "github.com/hashfleet/hashfleet" {
		t.Errorf("modulePath = %q", got)
	}
	if got := modulePath([]byte("go 1.26\n")); got != "" {
		t.Errorf("modulePath without module line = %q", got)
	}
}

func TestModuleRootFromPackageDir(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "parts", "parts.go")); err != nil {
		t.Errorf("ModuleRoot() = %s, which does not hold internal/parts: %v", root, err)
	}
}

func TestLookupEveryPart(t *testing.T) {
	for _, p := range All() {
		got, err := Lookup(p.Name)
		if err != nil || got != p {
			t.Errorf("Lookup(%s) = %v, %v", p.Name, got, err)
		}
		if p.About == "" || p.Finds == "" || p.Install == "" || p.CI == "" || p.check == nil {
			t.Errorf("part %s lacks a description, finder, install hint, CI note or check", p.Name)
		}
	}
	if _, err := Lookup("kubernetes"); err == nil {
		t.Error("Lookup of an unknown part succeeded")
	}
}

// fakeBin puts executable scripts in a fresh directory that becomes the
// whole PATH, so the checks see exactly these programs.
func fakeBin(t *testing.T, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestDockerStates(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	cases := []struct {
		name    string
		scripts map[string]string
		host    string
		want    State
		detail  string
	}{
		{"no CLI, no engine", nil, "", Absent, "no `docker` CLI"},
		{"no CLI, engine socket", nil, "unix://" + sock, Broken, "no `docker` CLI"},
		{"CLI, engine does not answer", map[string]string{"docker": "echo 'Cannot connect to the Docker daemon' >&2; exit 1"}, "unix://" + sock, Broken, "does not answer"},
		{"CLI, engine answers", map[string]string{"docker": "echo 27.5.1"}, "unix://" + sock, Present, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fakeBin(t, c.scripts)
			t.Setenv("DOCKER_HOST", c.host)
			if c.host == "" {
				if _, err := os.Stat("/var/run/docker.sock"); err == nil {
					t.Skip("this machine has /var/run/docker.sock: the no-engine case cannot be set up")
				}
				os.Unsetenv("DOCKER_HOST")
			}
			p, _ := Lookup(Docker)
			s := p.Check(context.Background())
			if s.State != c.want || !strings.Contains(s.Detail, c.detail) {
				t.Fatalf("state %v (%s), want %v with %q", s.State, s.Detail, c.want, c.detail)
			}
			if c.want == Present && s.Version != "engine 27.5.1" {
				t.Errorf("version %q", s.Version)
			}
		})
	}
}

func TestComposePrefersPlugin(t *testing.T) {
	fakeBin(t, map[string]string{
		"docker":         `[ "$1 $2 $3" = "compose version --short" ] && echo 2.29.0 && exit 0; exit 1`,
		"docker-compose": "echo 1.29.2",
	})
	p, _ := Lookup(Compose)
	s := p.Check(context.Background())
	if s.State != Present || s.Version != "2.29.0" || len(s.Command) != 2 || filepath.Base(s.Command[0]) != "docker" {
		t.Fatalf("with the v2 plugin: %+v", s)
	}
	fakeBin(t, map[string]string{"docker": "exit 1", "docker-compose": "echo 1.29.2"})
	s = p.Check(context.Background())
	if s.State != Present || s.Version != "1.29.2" || len(s.Command) != 1 || filepath.Base(s.Command[0]) != "docker-compose" {
		t.Fatalf("with v1 only: %+v", s)
	}
	fakeBin(t, map[string]string{"docker-compose": "echo broken >&2; exit 3"})
	if s = p.Check(context.Background()); s.State != Broken {
		t.Fatalf("with a failing docker-compose: %+v", s)
	}
}

func TestMissingZooKeeperAndMesos(t *testing.T) {
	t.Setenv(EnvZooKeeperJar, filepath.Join(t.TempDir(), "none.jar"))
	p, _ := Lookup(ZooKeeper)
	if s := p.Check(context.Background()); s.State != Absent || !strings.Contains(s.Detail, "none.jar") {
		t.Errorf("zookeeper with a missing jar: %+v", s)
	}
	empty := t.TempDir()
	t.Setenv(EnvMesosHome, empty)
	p, _ = Lookup(Mesos)
	if s := p.Check(context.Background()); s.State != Absent || !strings.Contains(s.Detail, empty) {
		t.Errorf("mesos with an empty home: %+v", s)
	}
}

func TestReportAndUnusable(t *testing.T) {
	fakeBin(t, map[string]string{"chromium": "echo Chromium 131.0.6778.139"})
	statuses := CheckAll(context.Background())
	if len(statuses) != len(All()) {
		t.Fatalf("%d statuses for %d parts", len(statuses), len(All()))
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, statuses); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "Chromium 131.0.6778.139") {
		t.Errorf("report lacks chromium's version:\n%s", out)
	}
	// PATH holds only chromium: qemu-user is missing, with its install hint.
	if !strings.Contains(out, "qemu-user (missing)") || !strings.Contains(out, "apt-get install -y qemu-user-static") {
		t.Errorf("report does not say how to get qemu-user:\n%s", out)
	}
	bad, err := Unusable(statuses, []string{"chromium", "qemu-user"})
	if err != nil || len(bad) != 1 || bad[0] != QemuUser {
		t.Errorf("Unusable = %v, %v; want [qemu-user]", bad, err)
	}
	if _, err := Unusable(statuses, []string{"kubernetes"}); err == nil {
		t.Error("Unusable accepted an unknown part")
	}
}

func TestBrowserVersion(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"Chromium 131.0.6778.139 built on Debian 12.8", "Chromium 131.0.6778.139 built on Debian 12.8"},
		{"/usr/bin/chromium: 9: [: /usr/lib/chromium/chromium: unexpected operator\nChromium 131.0.6778.139 built on Debian 12.8",
			"Chromium 131.0.6778.139 built on Debian 12.8"},
		{"Google Chrome 120.0.1", "Google Chrome 120.0.1"},
		{"something else\nmore", "something else"},
	} {
		if got := browserVersion(tc.out); got != tc.want {
			t.Errorf("browserVersion(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}
