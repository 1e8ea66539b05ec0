package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// NodeName is the name of the node Options.Kubelet registers.
const NodeName = "kubetest-node"

// SandboxImage is the pause image of the node's Pods, built by the harness
// (a static Go program that waits for SIGTERM) and imported into the
// node's containerd; nothing is pulled.
const SandboxImage = "registry.k8s.io/pause:3.10"

// node is a real kubelet node: a private containerd (its own socket, root
// and state under the cluster's folder), a kubelet in its own cgroup root
// and a CNI bridge network of its own, plus kube-scheduler so Pods get a
// node at all.
type node struct {
	dir        string
	sock       string // containerd's socket
	ip         string // the node's address (not loopback: the kubelet refuses it)
	bridge     string // the CNI bridge interface
	cgroupRoot string // e.g. /kubetest-20150, under every cgroup hierarchy
	containerd *proc
	kubelet    *proc
	scheduler  *proc
}

// startNode runs containerd, the kubelet and kube-scheduler, imports the
// sandbox image and waits until the node is Ready. port is the kubelet's.
func (c *Cluster) startNode(t testing.TB, bin string, port int) {
	t.Helper()
	partstest.Require(t, parts.Kubelet)
	cni, err := parts.CNIBinDir()
	if err != nil {
		t.Fatal(err)
	}
	ip, err := nodeIP()
	if err != nil {
		t.Fatalf("kubetest: node address: %v", err)
	}
	n := &node{dir: c.path("node"), ip: ip, sock: c.path("containerd.sock"),
		bridge: fmt.Sprintf("kt%d", port), cgroupRoot: fmt.Sprintf("/kubetest-%d", port)}
	c.node = n
	t.Cleanup(func() { c.stopNode(t) })
	if err := n.writeConfigs(cni, port); err != nil {
		t.Fatal(err)
	}
	n.containerd = &proc{name: "containerd", path: "containerd", log: c.path("containerd.log"),
		args: []string{"--config", filepath.Join(n.dir, "containerd.toml")}}
	c.procs = append(c.procs, n.containerd)
	if err := n.containerd.start(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "containerd", func(ctx context.Context) error { return ctr(ctx, n.sock, nil, "version") }, n.containerd)
	c.ImportImage(t, buildPauseImage(t, c.dir))
	c.startKubelet(t, bin, port)
	c.startScheduler(t, filepath.Join(bin, "kube-scheduler"))
}

func (c *Cluster) startKubelet(t testing.TB, bin string, port int) {
	t.Helper()
	n := c.node
	if err := n.makeCgroups(); err != nil {
		t.Fatal(err)
	}
	cert, key, err := c.pki.client("system:node:"+NodeName, "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := writeKubeconfig(kc, c.config(rest.TLSClientConfig{CertData: cert, KeyData: key})); err != nil {
		t.Fatal(err)
	}
	n.kubelet = &proc{name: "kubelet", path: filepath.Join(bin, "kubelet"), log: c.path("kubelet.log"), args: []string{
		"--config=" + filepath.Join(n.dir, "kubelet.yaml"), "--kubeconfig=" + kc,
		"--hostname-override=" + NodeName, "--node-ip=" + n.ip,
		"--root-dir=" + filepath.Join(n.dir, "kubelet"), "--cert-dir=" + filepath.Join(n.dir, "kubelet-certs"),
	}}
	c.procs = append(c.procs, n.kubelet)
	if err := n.kubelet.start(); err != nil {
		t.Fatal(err)
	}
	c.waitNodeReady(t)
}

// waitNodeReady waits until the node's Ready condition is True.
func (c *Cluster) waitNodeReady(t testing.TB) {
	t.Helper()
	cs := c.Clientset(t)
	c.waitFor(t, "node "+NodeName+" Ready (kubelet)", func(ctx context.Context) error {
		nd, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range nd.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	}, c.api, c.node.containerd, c.node.kubelet)
}

func (c *Cluster) startScheduler(t testing.TB, bin string) {
	t.Helper()
	cert, key, err := c.pki.client("system:kube-scheduler", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(c.node.dir, "scheduler.kubeconfig")
	if err := writeKubeconfig(kc, c.config(rest.TLSClientConfig{CertData: cert, KeyData: key})); err != nil {
		t.Fatal(err)
	}
	c.node.scheduler = &proc{name: "kube-scheduler", path: bin, log: c.path("kube-scheduler.log"),
		args: []string{"--kubeconfig=" + kc, "--leader-elect=false", "--secure-port=0"}}
	c.procs = append(c.procs, c.node.scheduler)
	if err := c.node.scheduler.start(); err != nil {
		t.Fatal(err)
	}
}

// nodeIP returns the address this machine's default route leaves from (a
// UDP "connection" sends nothing).
func nodeIP() (string, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return "", fmt.Errorf("no IPv4 route off this machine: %w", err)
	}
	defer conn.Close()
	ip := conn.LocalAddr().(*net.UDPAddr).IP
	if ip.IsLoopback() {
		return "", fmt.Errorf("the default route leaves from %s, a loopback address", ip)
	}
	return ip.String(), nil
}

// subnet returns the node's Pod network: one /24 per port block, so
// clusters of concurrent tests never share addresses.
func subnet(port int) string {
	return fmt.Sprintf("10.244.%d.0/24", (port-porttest.Low)/porttest.BlockSize%256)
}

// ImportImage loads an image archive (`docker save` output, or an OCI
// archive) into the node's containerd, where the kubelet finds it: Pods
// using it need imagePullPolicy Never or IfNotPresent. It needs
// Options.Kubelet.
func (c *Cluster) ImportImage(t testing.TB, archive string) {
	t.Helper()
	if c.node == nil {
		t.Fatal("kubetest: ImportImage needs Options.Kubelet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := ctr(ctx, c.node.sock, nil, "images", "import", archive); err != nil {
		t.Fatalf("kubetest: import %s: %v", archive, err)
	}
}

// ImportDockerImage copies image ref from the Docker engine (`docker save`)
// into the node's containerd.
func (c *Cluster) ImportDockerImage(t testing.TB, ref string) {
	t.Helper()
	archive := filepath.Join(c.dir, "image-"+strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := command(ctx, nil, "docker", "save", "-o", archive, ref); err != nil {
		t.Fatalf("kubetest: docker save %s: %v: %s", ref, err, out)
	}
	c.ImportImage(t, archive)
	os.Remove(archive)
}

// stopNode deletes every Pod (so the kubelet tears down containers,
// network namespaces and IP leases itself), stops the node's processes,
// then removes what may be left outside the cluster's folder: container
// shims, mounts, cgroups and the bridge.
func (c *Cluster) stopNode(t testing.TB) {
	n := c.node
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if c.api.running() && n.kubelet != nil && n.kubelet.running() {
		c.deleteAllPods(ctx)
		for ctx.Err() == nil && n.tasks(ctx) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	stopAll(n.scheduler, n.kubelet)
	stopAll(n.containerd)
	for _, err := range n.sweep() {
		t.Logf("kubetest: node clean-up: %v", err)
	}
}

// KillContainer kills (SIGKILL) the running container name of Pod
// namespace/pod on the node, as a crash or an OOM kill would: the kubelet
// then restarts it or fails the Pod, by its restartPolicy. It needs
// Options.Kubelet.
func (c *Cluster) KillContainer(t testing.TB, namespace, pod, name string) {
	t.Helper()
	if c.node == nil {
		t.Fatal("kubetest: KillContainer needs Options.Kubelet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := c.Clientset(t).CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kubetest: kill %s/%s: %v", namespace, pod, err)
	}
	for _, st := range p.Status.ContainerStatuses {
		if st.Name != name {
			continue
		}
		id, ok := strings.CutPrefix(st.ContainerID, "containerd://")
		if !ok || st.State.Running == nil {
			t.Fatalf("kubetest: container %s of %s/%s is not running (%q)", name, namespace, pod, st.ContainerID)
		}
		if err := ctr(ctx, c.node.sock, nil, "tasks", "kill", "--signal", "SIGKILL", id); err != nil {
			t.Fatalf("kubetest: kill container %s of %s/%s: %v", name, namespace, pod, err)
		}
		return
	}
	t.Fatalf("kubetest: %s/%s has no container %s", namespace, pod, name)
}

// StopKubelet stops the node's kubelet, leaving its containers running: the
// node goes silent, as one that disappears from the network. After the node
// monitor's grace period (30 s here) the node lifecycle controller marks it
// NotReady (Unknown) and its Pods not Ready; Pods are evicted only after
// their not-ready/unreachable tolerations (300 s by default). It needs
// Options.Kubelet.
func (c *Cluster) StopKubelet(t testing.TB) {
	t.Helper()
	if c.node == nil {
		t.Fatal("kubetest: StopKubelet needs Options.Kubelet")
	}
	c.node.kubelet.stop()
}

// StartKubelet starts the node's kubelet again (after StopKubelet) and
// waits until the node is Ready; the kubelet takes back the containers
// that kept running.
func (c *Cluster) StartKubelet(t testing.TB) {
	t.Helper()
	if c.node == nil {
		t.Fatal("kubetest: StartKubelet needs Options.Kubelet")
	}
	if err := c.node.kubelet.start(); err != nil {
		t.Fatal(err)
	}
	c.waitNodeReady(t)
}
