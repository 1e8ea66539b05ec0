package parts

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKubeVersionIsThePin keeps KubeVersion (the cache folder's name) equal
// to the k8s.io/kubernetes version tools/kube builds.
func TestKubeVersionIsThePin(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "tools", "kube", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes (v\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("tools/kube/go.mod pins no k8s.io/kubernetes")
	}
	if string(m[1]) != KubeVersion {
		t.Errorf("tools/kube pins %s, parts.KubeVersion is %s", m[1], KubeVersion)
	}
}

func TestKubeBinDirDefault(t *testing.T) {
	t.Setenv(EnvKubeBin, "")
	t.Setenv("XDG_CACHE_HOME", "/c")
	if d, err := KubeBinDir(); err != nil || d != "/c/hashfleet/kube/"+KubeVersion {
		t.Errorf("KubeBinDir() = %q, %v", d, err)
	}
}

// writeScripts writes executable shell scripts into dir.
func writeScripts(t *testing.T, dir string, scripts map[string]string) {
	t.Helper()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKubeCheck(t *testing.T) {
	cases := []struct {
		name    string
		bins    map[string]string // in $HASHFLEET_KUBE_BIN
		etcd    string            // body of $HASHFLEET_ETCD; "" for none
		want    State
		version string // Version when Present
		detail  string // in Detail otherwise
	}{
		{name: "present",
			bins: map[string]string{"kube-apiserver": "echo Kubernetes v1.37.2", "kube-controller-manager": "echo Kubernetes v1.37.2"},
			etcd: `echo "etcd Version: 3.4.23"; echo "Git SHA: x"`,
			want: Present, version: "v1.37.2, etcd 3.4.23"},
		{name: "not built", want: Absent, detail: "tools/kube/build.sh"},
		{name: "half built", bins: map[string]string{"kube-apiserver": "echo Kubernetes v1.37.2"},
			want: Broken, detail: "without kube-controller-manager"},
		{name: "no etcd",
			bins: map[string]string{"kube-apiserver": "echo Kubernetes v1.37.2", "kube-controller-manager": "echo Kubernetes v1.37.2"},
			want: Absent, detail: "no etcd"},
		{name: "etcd does not run",
			bins: map[string]string{"kube-apiserver": "echo Kubernetes v1.37.2", "kube-controller-manager": "echo Kubernetes v1.37.2"},
			etcd: "echo 'etcd on unsupported platform' >&2; exit 1", want: Broken, detail: "unsupported platform"},
		{name: "apiserver does not run",
			bins: map[string]string{"kube-apiserver": "echo 'exec format error' >&2; exit 2", "kube-controller-manager": "true"},
			etcd: "echo etcd Version: 3.4.23", want: Broken, detail: "exec format error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeScripts(t, dir, c.bins)
			t.Setenv(EnvKubeBin, dir)
			t.Setenv("PATH", t.TempDir()) // no etcd in PATH
			t.Setenv(EnvEtcd, "")
			if c.etcd != "" {
				writeScripts(t, dir, map[string]string{"etcd": c.etcd})
				t.Setenv(EnvEtcd, filepath.Join(dir, "etcd"))
			}
			old := debianEtcd
			debianEtcd = filepath.Join(dir, "no-etcd") // hide an installed etcd
			t.Cleanup(func() { debianEtcd = old })
			p, _ := Lookup(Kube)
			s := p.Check(context.Background())
			if s.State != c.want {
				t.Fatalf("state %v (%+v), want %v", s.State, s, c.want)
			}
			if c.want == Present && s.Version != c.version {
				t.Errorf("version %q, want %q", s.Version, c.version)
			}
			if c.want != Present && !strings.Contains(s.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", s.Detail, c.detail)
			}
		})
	}
}

func TestKubeletCheck(t *testing.T) {
	bin := t.TempDir()
	writeScripts(t, bin, map[string]string{"kubelet": "echo Kubernetes v1.37.2", "kube-scheduler": "true"})
	path := t.TempDir()
	writeScripts(t, path, map[string]string{"containerd": "echo containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1", "ctr": "true", "runc": "true"})
	cni := t.TempDir()
	writeScripts(t, cni, map[string]string{"bridge": "true"})
	t.Setenv(EnvKubeBin, bin)
	t.Setenv("PATH", path)
	t.Setenv(EnvCNIBin, cni)
	p, _ := Lookup(Kubelet)
	s := p.Check(context.Background())
	switch {
	case os.Geteuid() != 0:
		if s.State != Absent || !strings.Contains(s.Detail, "root") {
			t.Errorf("not root: %+v, want absent for lack of root", s)
		}
	case s.State != Present || s.Version != "v1.37.2, containerd 1.6.20~ds1":
		t.Errorf("everything there: %+v", s)
	}
	if err := os.Remove(filepath.Join(path, "runc")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCNIBin, t.TempDir())
	if s = p.Check(context.Background()); s.State != Absent || !strings.Contains(s.Detail, "runc") || !strings.Contains(s.Detail, "no CNI bridge plugin") {
		t.Errorf("without runc and CNI plugins: %+v", s)
	}
	if err := os.Remove(filepath.Join(bin, "kube-scheduler")); err != nil {
		t.Fatal(err)
	}
	if s = p.Check(context.Background()); s.State != Absent || !strings.Contains(s.Detail, "no kube-scheduler") {
		t.Errorf("without kube-scheduler: %+v", s)
	}
}
