package kubetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// DefaultControllers are the kube-controller-manager controllers a Cluster
// runs with Options.ControllerManager: default ServiceAccounts and their
// tokens, the kube-root-ca.crt ConfigMap, garbage collection of dependents
// (ownerReferences), namespace deletion, Deployments and ReplicaSets,
// EndpointSlices of Services, and the aggregated ClusterRoles (view, edit).
var DefaultControllers = []string{
	"serviceaccount-controller", "serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller", "garbage-collector-controller",
	"namespace-controller", "deployment-controller", "replicaset-controller",
	"endpointslice-controller", "clusterrole-aggregation-controller",
}

// NodeControllers are added to DefaultControllers with Options.Kubelet:
// the node lifecycle controller lifts the not-ready taint a kubelet
// registers its node with (nothing is scheduled there until it does), and
// marks a node that stops reporting NotReady and evicts its Pods; the
// taint-eviction controller does the evicting.
var NodeControllers = []string{"node-lifecycle-controller", "taint-eviction-controller"}

// Options says what Start runs besides etcd and kube-apiserver.
type Options struct {
	// ControllerManager runs kube-controller-manager; without it no
	// controller creates a namespace's default ServiceAccount (Namespace
	// creates it), collects garbage or deletes a namespace's contents.
	ControllerManager bool
	// Controllers replaces DefaultControllers (kube-controller-manager
	// --controllers).
	Controllers []string
	// APIServerArgs are added to kube-apiserver's flags, after the
	// harness's own (a later flag wins).
	APIServerArgs []string
	// Kubelet adds a real node, NodeName: a kubelet on a private
	// containerd with a CNI bridge, and kube-scheduler, so Pods are
	// scheduled and their containers really run (images must be imported:
	// ImportImage, ImportDockerImage). It needs the kubelet part (root,
	// containerd, runc, CNI plugins) and implies ControllerManager.
	Kubelet bool
}

// startTimeout bounds each component's start; generous, since the machine
// may be running at a load of 10-30.
const startTimeout = 5 * time.Minute

// logTail is how much of each component's log a failed test shows.
const logTail = 24 << 10

// Cluster is a running control plane. See the package comment.
type Cluster struct {
	dir   string
	pki   *pki
	admin *rest.Config
	host  string // https://127.0.0.1:port
	etcd  *proc
	api   *proc
	cm    *proc
	node  *node   // with Options.Kubelet
	procs []*proc // every process started, for the logs of a failed test
}

// Start runs etcd and kube-apiserver (and kube-controller-manager if
// opts.ControllerManager), waits until the API server is ready, and stops
// them all when t ends. It skips t when the kube part is missing (fails
// it under HASHFLEET_REQUIRE_INTEGRATION=1).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	partstest.Require(t, parts.Kube)
	bin, err := parts.KubeBinDir()
	if err != nil {
		t.Fatal(err)
	}
	etcdBin, err := parts.EtcdPath()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{dir: t.TempDir()}
	t.Cleanup(func() { c.stop(t) })
	base := porttest.Block(t, 4) // etcd client, etcd peer, API server, kubelet
	if err := c.writePKI(); err != nil {
		t.Fatal(err)
	}
	c.host = fmt.Sprintf("https://127.0.0.1:%d", base+2)
	cert, key, err := c.pki.client("kubetest-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	c.admin = c.config(rest.TLSClientConfig{CertData: cert, KeyData: key})
	c.etcd = &proc{name: "etcd", path: etcdBin, log: c.path("etcd.log"), args: etcdArgs(c.path("etcd"), base)}
	c.api = &proc{name: "kube-apiserver", path: filepath.Join(bin, "kube-apiserver"), log: c.path("kube-apiserver.log"),
		args: append(c.apiServerArgs(base), opts.APIServerArgs...)}
	c.procs = []*proc{c.etcd, c.api}
	if err := c.etcd.start(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "etcd health", func(ctx context.Context) error { return etcdHealthy(ctx, base) }, c.etcd)
	c.StartAPIServer(t)
	if opts.ControllerManager || opts.Kubelet {
		controllers := opts.Controllers
		if len(controllers) == 0 {
			controllers = DefaultControllers
			if opts.Kubelet {
				controllers = append(slices.Clone(controllers), NodeControllers...)
			}
		}
		c.startControllerManager(t, filepath.Join(bin, "kube-controller-manager"), controllers)
	}
	if opts.Kubelet {
		c.startNode(t, bin, base+3)
	}
	return c
}

func (c *Cluster) path(name string) string { return filepath.Join(c.dir, name) }

// writePKI creates the CA, the API server's serving certificate and the
// service-account signing key, and writes the files the components read.
func (c *Cluster) writePKI() error {
	p, err := newPKI()
	if err != nil {
		return err
	}
	c.pki = p
	cert, key, err := p.serving()
	if err != nil {
		return err
	}
	saKey, saPub, err := signingKey()
	if err != nil {
		return err
	}
	kcert, kkey, err := p.client("kube-apiserver-kubelet-client", "system:masters")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"ca.crt": p.certP, "apiserver.crt": cert, "apiserver.key": key, "sa.key": saKey, "sa.pub": saPub,
		"apiserver-kubelet-client.crt": kcert, "apiserver-kubelet-client.key": kkey} {
		if err := os.WriteFile(c.path(name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func etcdArgs(dataDir string, base int) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", base)
	peer := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	return []string{
		"--name=kubetest", "--data-dir=" + dataDir,
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubetest=" + peer, "--initial-cluster-state=new",
		"--logger=zap", "--log-outputs=stderr",
	}
}

// serviceCIDR is the cluster's Service IP range; serviceIP is its first
// address, the "kubernetes" Service's (in the serving certificate).
const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
)

func (c *Cluster) apiServerArgs(base int) []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", base),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", base+2),
		// One API server on loopback: no endpoints of the "kubernetes"
		// Service to reconcile.
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + c.path("apiserver-certs"),
		"--tls-cert-file=" + c.path("apiserver.crt"), "--tls-private-key-file=" + c.path("apiserver.key"),
		"--client-ca-file=" + c.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.path("sa.pub"),
		"--service-account-signing-key-file=" + c.path("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
		// for logs and exec through the API (the kubelet trusts the CA)
		"--kubelet-client-certificate=" + c.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + c.path("apiserver-kubelet-client.key"),
	}
}

// StartAPIServer starts the API server (again, after StopAPIServer) on the
// same address with the same data, and waits until it is ready.
func (c *Cluster) StartAPIServer(t testing.TB) {
	t.Helper()
	if c.api.running() {
		t.Fatal("kubetest: StartAPIServer: it is running")
	}
	if err := c.api.start(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "kube-apiserver /readyz", c.ready, c.etcd, c.api)
}

// StopAPIServer stops the API server (SIGTERM, then SIGKILL): clients get
// "connection refused" until StartAPIServer.
func (c *Cluster) StopAPIServer(t testing.TB) {
	t.Helper()
	c.api.stop()
}

// RestartAPIServer stops the API server and starts it again.
func (c *Cluster) RestartAPIServer(t testing.TB) {
	t.Helper()
	c.StopAPIServer(t)
	c.StartAPIServer(t)
}

// PauseAPIServer freezes the API server (SIGSTOP): it still accepts TCP
// connections but answers nothing, so clients time out — an unreachable
// server rather than a refusing one. ResumeAPIServer thaws it.
func (c *Cluster) PauseAPIServer(t testing.TB) {
	t.Helper()
	if err := c.api.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// ResumeAPIServer continues a paused API server and waits until it is
// ready.
func (c *Cluster) ResumeAPIServer(t testing.TB) {
	t.Helper()
	if err := c.api.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "kube-apiserver /readyz after resume", c.ready, c.etcd, c.api)
}

// Host returns the API server's URL (https://127.0.0.1:port).
func (c *Cluster) Host() string { return c.host }

// Admin returns a config for a cluster administrator (group
// system:masters: every verb on everything). Each call returns a copy.
func (c *Cluster) Admin() *rest.Config { return rest.CopyConfig(c.admin) }

// Clientset returns a typed client with admin rights.
func (c *Cluster) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	return clientset(t, c.Admin())
}

func clientset(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubetest: clientset: %v", err)
	}
	return cs
}

// config returns a client config for this cluster authenticating with tls
// (or, if empty, with a bearer token the caller sets).
func (c *Cluster) config(tls rest.TLSClientConfig) *rest.Config {
	tls.CAData = c.pki.certP
	return &rest.Config{Host: c.host, TLSClientConfig: tls, QPS: 100, Burst: 200, UserAgent: "kubetest"}
}

// ready is nil once the API server's /readyz answers 200 (storage, RBAC
// bootstrap roles and the other post-start hooks done).
func (c *Cluster) ready(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var code int
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&code).Raw()
	if err != nil {
		return fmt.Errorf("%w: %s", err, firstLines(string(body), 5))
	}
	if code != http.StatusOK {
		return fmt.Errorf("/readyz: %d", code)
	}
	return nil
}

func etcdHealthy(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/health", port), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd /health: %s", resp.Status)
	}
	return nil
}

// waitFor polls cond until it returns nil, failing t after startTimeout or
// as soon as one of procs exits (with that process's log).
func (c *Cluster) waitFor(t testing.TB, what string, cond func(context.Context) error, procs ...*proc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for {
		for _, p := range procs {
			if err := p.exitErr(); err != nil {
				t.Fatalf("kubetest: waiting for %s: %v; its log:\n%s", what, err, p.tail(logTail))
			}
		}
		if last = cond(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kubetest: %s not reached in %v: %v", what, startTimeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stop stops every process; if t failed, it logs the end of each log.
func (c *Cluster) stop(t testing.TB) {
	stopAll(c.cm, c.api)
	stopAll(c.etcd)
	if !t.Failed() {
		return
	}
	for _, p := range c.procs {
		if p.cmd != nil {
			t.Logf("kubetest: --- %s log (%s) ---\n%s", p.name, p.log, p.tail(logTail))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// Namespace creates namespace name and makes sure its default
// ServiceAccount exists (created here when no controller-manager runs;
// waited for when one does), so Pods can be created in it.
func (c *Cluster) Namespace(t testing.TB, name string) *corev1.Namespace {
	t.Helper()
	ctx := context.Background()
	cs := c.Clientset(t)
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: create namespace %s: %v", name, err)
	}
	c.ensureDefaultServiceAccount(t, cs, name)
	return ns
}
