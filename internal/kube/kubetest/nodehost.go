package kubetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// writeConfigs writes containerd's config, the CNI network and the
// kubelet's config under n.dir.
//
// containerd: restrict_oom_score_adj, because a sandbox's oom_score_adj of
// -998 needs CAP_SYS_RESOURCE, which a root without it (a container, some
// VMs) lacks: runc then fails with "can't get final child's PID from pipe:
// EOF" (its nsexec: "failed to update /proc/self/oom_score_adj: Permission
// denied"). kubelet: failCgroupV1 false, since Kubernetes 1.35 refuses
// cgroup v1 hosts by default.
func (n *node) writeConfigs(cniBin string, port int) error {
	for _, d := range []string{n.dir, filepath.Join(n.dir, "cni")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"containerd.toml": fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
`, filepath.Join(n.dir, "containerd-root"), filepath.Join(n.dir, "containerd-state"), n.sock,
			filepath.Join(n.dir, "containerd-opt"), SandboxImage, cniBin, filepath.Join(n.dir, "cni")),
		"cni/10-kubetest.conflist": fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "kubetest-%[1]d", "plugins": [
  {"type": "bridge", "bridge": %[2]q, "isGateway": true,
   "ipam": {"type": "host-local", "dataDir": %[3]q, "ranges": [[{"subnet": %[4]q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "firewall"}]}
`, port, n.bridge, filepath.Join(n.dir, "ipam"), subnet(port)),
		"kubelet.yaml": fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
containerRuntimeEndpoint: unix://%[2]s
address: %[3]s
port: %[4]d
readOnlyPort: 0
healthzPort: 0
podLogsDir: %[5]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[6]s}
authorization: {mode: AlwaysAllow}
failSwapOn: false
enforceNodeAllocatable: []
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
`, n.cgroupRoot, n.sock, n.ip, port, filepath.Join(n.dir, "pod-logs"), filepath.Join(filepath.Dir(n.dir), "ca.crt")),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// cgroupMounts returns the mount points of the cgroup hierarchies (one for
// cgroup v2; one per controller, and the named ones, for v1).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 3 && (fs[2] == "cgroup" || fs[2] == "cgroup2") {
			out = append(out, fs[1])
		}
	}
	return out, sc.Err()
}

// makeCgroups creates the kubelet's cgroup root in every hierarchy (it
// refuses to start when one is missing).
func (n *node) makeCgroups() error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := os.MkdirAll(filepath.Join(m, n.cgroupRoot), 0o755); err != nil {
			return fmt.Errorf("kubetest: cgroup root: %w", err)
		}
	}
	return nil
}

// command runs name with args and returns its combined output.
func command(ctx context.Context, stdin *os.File, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// ctr runs containerd's CLI against the node's containerd, in the
// namespace the CRI plugin uses.
func ctr(ctx context.Context, sock string, stdin *os.File, args ...string) error {
	out, err := command(ctx, stdin, "ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
	if err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// tasks counts the containers running in the node's containerd (-1 when
// it cannot tell).
func (n *node) tasks(ctx context.Context) int {
	out, err := command(ctx, nil, "ctr", "--address", n.sock, "--namespace", "k8s.io", "tasks", "ls", "-q")
	if err != nil {
		return -1
	}
	return len(strings.Fields(out))
}

// deleteAllPods deletes every Pod at once (grace period 0).
func (c *Cluster) deleteAllPods(ctx context.Context) {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	zero := int64(0)
	for _, ns := range nss.Items {
		_ = cs.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
}

// sweep removes what a stopped node may leave outside its folder: shims of
// its containerd (they outlive it by design), mounts under its folder, its
// cgroups and its bridge. It returns what it could not remove.
func (n *node) sweep() []error {
	var errs []error
	for _, pid := range shimsOf(n.sock) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			errs = append(errs, fmt.Errorf("kill shim %d: %w", pid, err))
		}
	}
	for _, m := range mountsUnder(filepath.Dir(n.dir)) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	if mounts, err := cgroupMounts(); err == nil {
		for _, m := range mounts {
			errs = append(errs, removeTree(filepath.Join(m, n.cgroupRoot))...)
		}
	}
	if _, err := exec.LookPath("ip"); err == nil {
		_, _ = command(context.Background(), nil, "ip", "link", "delete", n.bridge)
	}
	return errs
}

// shimsOf returns the pids of containerd shims started by the containerd
// listening on sock (their command line names its address).
func shimsOf(sock string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if strings.Contains(args[0], "containerd-shim") && slices.Contains(args, sock) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder returns the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if fs := strings.Fields(line); len(fs) >= 2 && strings.HasPrefix(fs[1], dir+"/") {
			out = append(out, fs[1])
		}
	}
	slices.Reverse(out)
	return out
}

// removeTree removes a cgroup directory and its children, deepest first
// (cgroup directories are removed with rmdir, never by unlinking files).
func removeTree(dir string) []error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for _, d := range slices.Backward(dirs) {
		if err := syscall.Rmdir(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errs
}
