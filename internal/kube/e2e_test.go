package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// buildImage builds the hashfleet image under a tag unique to this test
// (deploy/docker/build.sh), removed when the test ends.
func buildImage(t *testing.T) string {
	t.Helper()
	tag := fmt.Sprintf("hashfleet-kubetest:%d", os.Getpid())
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", tag).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(root, "deploy/docker/build.sh"), tag).CombinedOutput(); err != nil {
		t.Fatalf("deploy/docker/build.sh: %v\n%s", err, out)
	}
	return tag
}

const e2ePassword = "e2e-rpc-password"

// startNodePod runs the regtest node (hashfleet node) as a pod of image
// and returns its RPC URL (pod IP), once it answers.
func startNodePod(t *testing.T, cs kubernetes.Interface, ns, image string) string {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "regtest-node"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "node", Image: image, ImagePullPolicy: corev1.PullNever,
			Args: []string{"node", "--ephemeral", "--rpc-listen", "0.0.0.0:18443", "--rpc-user", "u"},
			Env: []corev1.EnvVar{{Name: fleet.EnvRPCPassword, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "hashfleet-rpc"}, Key: "rpc-password"}}}}}}}}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var url string
	poll(t, "the node pod answers", func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "regtest-node", metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" {
			return fmt.Errorf("node pod: %v (phase %s)", err, p.Status.Phase)
		}
		url = "http://" + net.JoinHostPort(p.Status.PodIP, "18443")
		_, err = blockCount(url)
		return err
	})
	return url
}

func blockCount(url string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(`{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}`))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth("u", e2ePassword)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Result int `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("getblockcount: %s: %w", resp.Status, err)
	}
	return out.Result, nil
}

// TestEndToEndKubelet runs everything for real: a kubelet on containerd
// runs the node, the server and the worker pods of the hashfleet image;
// the node accepts a block; the server container is killed; every worker
// pod is deleted, a new server starts, and the node accepts a block again.
func TestEndToEndKubelet(t *testing.T) {
	partstest.Require(t, parts.Docker)
	kc := kubetest.Start(t, kubetest.Options{Kubelet: true})
	image := buildImage(t)
	kc.ImportDockerImage(t, image)
	cs, ns, ctx := kc.Clientset(t), testNS, context.Background()
	kc.Namespace(t, ns)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hashfleet-rpc"}, StringData: map[string]string{"rpc-password": e2ePassword}}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dumpPods(t, cs, ns, filepath.Join(kc.Dir(), "node", "pod-logs")) })
	nodeURL := startNodePod(t, cs, ns, image)
	cfg := testConfig(cs)
	cfg.Namespace, cfg.Image, cfg.ImagePullPolicy, cfg.NodeRPC, cfg.RPCUser = ns, image, corev1.PullNever, nodeURL, "u"
	cfg.Payout, cfg.DialPodIP, cfg.Registerer = "bcrt1qq9mm2m4e50hsu2pqx5ykc6lrp49u5vdqs0gp7u", true, prometheus.NewRegistry()
	cfg.ServerCPUs, cfg.ServerMem, cfg.WorkerMem = 0.2, 64, 64
	cfg.Policy = fleet.Policy{WorkerCPUs: 1, MaxWorkers: 1, BackoffMin: time.Second}
	c := startController(t, cfg)

	blocksAfter := func(what string, base int) int {
		var n int
		poll(t, what, func() (err error) {
			if n, err = blockCount(nodeURL); err == nil && n <= base {
				st := c.Status()
				err = fmt.Errorf("%d blocks (server ready %v, workers %d, %q)", n, st.ServerReady, st.Workers, st.WorkerReason)
			}
			return err
		})
		return n
	}
	n := blocksAfter("a block from the first server", 0)
	srv, err := cs.CoreV1().Pods(ns).Get(ctx, "hashfleet-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc.KillContainer(t, ns, "hashfleet-server", "server")
	poll(t, "a new server, Ready", func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "hashfleet-server", metav1.GetOptions{})
		switch {
		case err != nil:
			return err
		case p.UID == srv.UID:
			return errors.New("still the killed server")
		case !podView(p).Ready:
			return errors.New("not Ready yet")
		}
		return nil
	})
	for _, w := range listPods(t, cs, RoleWorker) {
		if w.Labels[LabelServerUID] == string(srv.UID) && w.DeletionTimestamp == nil {
			t.Errorf("worker %s of the killed server still there", w.Name)
		}
	}
	blocksAfter("a block from the new server", n)
	if st := c.Status(); st.ServerFailures != 1 {
		t.Errorf("server failures %d, want 1", st.ServerFailures)
	}
}

// dumpPods logs, when the test failed, each pod's status and the tail of
// its containers' logs (the kubelet's files under logDir).
func dumpPods(t *testing.T, cs kubernetes.Interface, ns, logDir string) {
	if !t.Failed() {
		return
	}
	l, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Logf("dump pods: %v", err)
	}
	for _, p := range l.Items {
		st, _ := json.Marshal(p.Status.ContainerStatuses)
		t.Logf("pod %s: phase %s ip %s containers %s", p.Name, p.Status.Phase, p.Status.PodIP, st)
	}
	files, _ := filepath.Glob(filepath.Join(logDir, ns+"_*", "*", "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("%s:\n%s", f, b)
	}
}

// TestKubeletBadImageAndSecret: on a real kubelet, a server image that is
// not on the node (pull policy Never: ErrImageNeverPull) gets one
// ImagePullFailed Event and no replacement pods; with the image present
// but the RPC Secret missing, the kubelet's CreateContainerConfigError
// becomes a ConfigError Event naming the Secret, and once the Secret
// exists the next refusal gets its own Event.
func TestKubeletBadImageAndSecret(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Kubelet: true})
	cs, ns, ctx := kc.Clientset(t), testNS, context.Background()
	kc.Namespace(t, ns)
	cfg := testConfig(cs)
	cfg.Image, cfg.ImagePullPolicy, cfg.ServerCPUs, cfg.ServerMem = "hashfleet-absent:none", corev1.PullNever, 0.1, 32
	cfg.Registerer = prometheus.NewRegistry()
	_, stop := runController(t, cfg)
	e := &realEnv{kc: kc, admin: cs, ns: ns, calls: &callLog{calls: map[string]int{}}}
	e.waitEvent(t, "ImagePullFailed", "ErrImageNeverPull")
	time.Sleep(3 * time.Second) // the kubelet keeps retrying meanwhile
	if got := e.eventMessages(t, "ImagePullFailed"); len(got) != 1 {
		t.Errorf("ImagePullFailed events %q, want one", got)
	}
	if l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("pods: %d (%v), want the one server pod kept", len(l.Items), err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "hashfleet-server", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the bad server gone", func() error {
		if _, err := e.server(t); err == nil {
			return errors.New("still there")
		}
		return nil
	})
	// The pause image is on the node: a container that cannot start for
	// want of the Secret, not of the image.
	cfg.Image, cfg.Registerer = kubetest.SandboxImage, prometheus.NewRegistry()
	startController(t, cfg)
	e.waitEvent(t, "ConfigError", `secret "hashfleet-rpc" not found`)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hashfleet-rpc"}, StringData: map[string]string{"rpc-password": "x"}}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Past the Secret, the kubelet finds the next problem: the pause image
	// runs as root, which the pod's runAsNonRoot refuses. A new message is
	// a new Event.
	e.waitEvent(t, "ConfigError", "runAsNonRoot")
}
