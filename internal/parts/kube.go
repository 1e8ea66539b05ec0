package parts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubeVersion is the Kubernetes release tools/kube pins (its go.mod's
// k8s.io/kubernetes); the cache folder of the built binaries is named after
// it, so a new pin means a new build.
const KubeVersion = "v1.37.2"

// Environment variables that point the kube part elsewhere.
const (
	EnvKubeBin = "HASHFLEET_KUBE_BIN" // folder with kube-apiserver, kube-controller-manager (and kubelet)
	EnvEtcd    = "HASHFLEET_ETCD"     // an etcd binary
)

// KubeBinDir returns the folder tools/kube/build.sh fills:
// $HASHFLEET_KUBE_BIN, else ${XDG_CACHE_HOME:-~/.cache}/hashfleet/kube/KubeVersion.
func KubeBinDir() (string, error) {
	if d := os.Getenv(EnvKubeBin); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("parts: no cache folder for the Kubernetes binaries: %w", err)
	}
	return filepath.Join(cache, "hashfleet", "kube", KubeVersion), nil
}

// EtcdPath returns the etcd binary: $HASHFLEET_ETCD, else `etcd` in PATH,
// else Debian's /usr/bin/etcd.
func EtcdPath() (string, error) {
	if p := os.Getenv(EnvEtcd); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(debianEtcd); err == nil {
		return debianEtcd, nil
	}
	return "", fmt.Errorf("no etcd (%s unset, none in PATH or at %s)", EnvEtcd, debianEtcd)
}

// debianEtcd is where Debian's etcd-server installs etcd (a variable for
// the tests).
var debianEtcd = "/usr/bin/etcd"

// kubeControlPlane lists the binaries of KubeBinDir the kube part needs;
// the kubelet is built too but only its own tests need it.
var kubeControlPlane = []string{"kube-apiserver", "kube-controller-manager"}

func checkKube(ctx context.Context) Status {
	dir, err := KubeBinDir()
	if err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	var versions []string
	for i, name := range kubeControlPlane {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			if i == 0 {
				return Status{State: Absent, Detail: fmt.Sprintf("no %s in %s (tools/kube/build.sh builds it there)", name, dir)}
			}
			return Status{State: Broken, Path: dir, Detail: fmt.Sprintf("%s without %s (rerun tools/kube/build.sh)", dir, name)}
		}
		v, err := run(ctx, nil, p, "--version")
		if err != nil {
			return Status{State: Broken, Path: dir, Detail: err.Error()}
		}
		if i == 0 {
			versions = append(versions, strings.TrimPrefix(firstLine(v), "Kubernetes "))
		}
	}
	etcd, err := EtcdPath()
	if err != nil {
		return Status{State: Absent, Path: dir, Detail: err.Error()}
	}
	v, err := run(ctx, nil, etcd, "--version")
	if err != nil {
		return Status{State: Broken, Path: dir, Detail: err.Error()}
	}
	versions = append(versions, "etcd "+strings.TrimSpace(strings.TrimPrefix(firstLine(v), "etcd Version:")))
	return Status{State: Present, Path: dir + ", " + etcd, Version: strings.Join(versions, ", ")}
}

// EnvCNIBin points at the folder of the CNI plugins (bridge, host-local,
// loopback, portmap); the default is Debian's /usr/lib/cni, else
// /opt/cni/bin.
const EnvCNIBin = "HASHFLEET_CNI_BIN"

// CNIBinDir returns the folder of the CNI plugins, or an error naming where
// it looked.
func CNIBinDir() (string, error) {
	cands := []string{"/usr/lib/cni", "/opt/cni/bin"}
	if d := os.Getenv(EnvCNIBin); d != "" {
		cands = []string{d}
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no CNI bridge plugin in %s", strings.Join(cands, " or "))
}

// kubeNodeBinaries are what a kubetest node runs besides the control plane.
var kubeNodeBinaries = []string{"kube-scheduler", "kubelet"}

// checkKubelet checks what a real node needs: the kubelet and
// kube-scheduler of tools/kube, containerd (with its ctr), runc, the CNI
// plugins, and root (the kubelet manages cgroups, mounts and networks).
func checkKubelet(ctx context.Context) Status {
	dir, err := KubeBinDir()
	if err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	for _, name := range kubeNodeBinaries {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return Status{State: Absent, Detail: fmt.Sprintf("no %s in %s (tools/kube/build.sh builds it there)", name, dir)}
		}
	}
	var missing []string
	for _, name := range []string{"containerd", "ctr", "runc"} {
		if _, ok := lookPath(name); !ok {
			missing = append(missing, name)
		}
	}
	cni, err := CNIBinDir()
	if err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return Status{State: Absent, Path: dir, Detail: "missing: " + strings.Join(missing, ", ")}
	}
	if os.Geteuid() != 0 {
		return Status{State: Absent, Path: dir, Detail: "a kubelet node needs root (cgroups, mounts, network namespaces)"}
	}
	kv, err := run(ctx, nil, filepath.Join(dir, "kubelet"), "--version")
	if err != nil {
		return Status{State: Broken, Path: dir, Detail: err.Error()}
	}
	cv, err := run(ctx, nil, "containerd", "--version")
	if err != nil {
		return Status{State: Broken, Path: dir, Detail: err.Error()}
	}
	f := strings.Fields(firstLine(cv)) // "containerd github.com/containerd/containerd 1.6.20~ds1 ..."
	if len(f) >= 3 {
		cv = f[2]
	}
	return Status{State: Present, Path: dir + ", " + cni,
		Version: strings.TrimPrefix(firstLine(kv), "Kubernetes ") + ", containerd " + cv}
}
