package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
)

// callLog records the API calls a client makes, as RBAC sees them
// (group/resource verb).
type callLog struct {
	mu    sync.Mutex
	calls map[string]int
}

func (l *callLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.calls[rbacCall(r)]++
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *callLog) count(call string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[call]
}

func (l *callLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for c := range l.calls {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rbacCall names a request as "group/resource verb" ("/pods create").
func rbacCall(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var group string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		group, parts = parts[1], parts[3:]
	default:
		return "nonresource " + r.URL.Path
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	res, name := parts[0], ""
	if len(parts) > 1 {
		name = parts[1]
	}
	verb := map[string]string{"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[r.Method]
	if r.Method == http.MethodGet {
		switch {
		case name != "":
			verb = "get"
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		default:
			verb = "list"
		}
	}
	return group + "/" + res + " " + verb
}

func granted(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+" "+v)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// applyRBAC creates the manifests' ServiceAccount, Roles and bindings.
func applyRBAC(t *testing.T, cs kubernetes.Interface, objs []runtime.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts("hashfleet").Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = cs.RbacV1().Roles("hashfleet").Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings("hashfleet").Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("apply %T: %v", o, err)
		}
	}
}

// playKubelet finishes the deletion of pods bound to a node, as their
// kubelet would once the containers stopped (there is no kubelet here).
func playKubelet(ctx context.Context, cs kubernetes.Interface, ns string) {
	zero := int64(0)
	for ctx.Err() == nil {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range l.Items {
				if p.DeletionTimestamp != nil {
					cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addReadyNode registers a Ready node and, playing kube-controller-manager's
// node lifecycle controller (not run here), lifts the not-ready taint the
// API server's admission put on it at creation.
func addReadyNode(t *testing.T, cs kubernetes.Interface, name, cpu string) {
	t.Helper()
	n, err := kubetest.AddNode(context.Background(), cs, name, cpu)
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = nil
	if _, err := cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

type realEnv struct {
	kc    *kubetest.Cluster
	admin kubernetes.Interface
	calls *callLog
	ctl   *Controller
	stop  func() error // stops ctl, returns what its Run returned
	ns    string
}

// startReal runs a real API server with the manifests' RBAC (edited by
// editRole, when not nil), two Ready nodes, the test playing their kubelet,
// and the controller as the manifests' ServiceAccount with leader election.
func startReal(t *testing.T, p fleet.Policy, editRole func(*rbacv1.Role), tweak ...func(*Config)) *realEnv {
	kc := kubetest.Start(t, kubetest.Options{})
	e := &realEnv{kc: kc, admin: kc.Clientset(t), calls: &callLog{calls: map[string]int{}}, ns: "hashfleet"}
	kc.Namespace(t, e.ns)
	objs := manifests(t)
	for _, o := range objs {
		if r, ok := o.(*rbacv1.Role); ok && editRole != nil {
			editRole(r)
		}
	}
	applyRBAC(t, e.admin, objs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { playKubelet(ctx, e.admin, e.ns) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, n := range []string{"node-a", "node-b"} {
		addReadyNode(t, e.admin, n, "4")
	}
	cfg := e.controllerConfig(t, p, "test")
	for _, f := range tweak {
		f(&cfg)
	}
	e.ctl, e.stop = runController(t, cfg)
	return e
}

// controllerConfig is the controller's Config as the ServiceAccount, its
// calls recorded.
func (e *realEnv) controllerConfig(t *testing.T, p fleet.Policy, identity string) Config {
	sa := e.kc.ServiceAccountConfig(t, e.ns, "hashfleet-controller")
	sa.Wrap(func(rt http.RoundTripper) http.RoundTripper { return e.calls.wrap(rt) })
	cl, err := kubernetes.NewForConfig(rest.CopyConfig(sa))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(cl)
	cfg.Namespace, cfg.Policy, cfg.Registerer, cfg.Identity = e.ns, p, prometheus.NewRegistry(), identity
	cfg.LeaderElection, cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = true, 15*time.Second, 10*time.Second, time.Second
	return cfg
}

func (e *realEnv) pods(t *testing.T, role Role) []corev1.Pod {
	l, err := e.admin.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: LabelRole + "=" + string(role)})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitWorkers waits for n live workers and reports them Running on node-b.
func (e *realEnv) waitWorkers(t *testing.T, n int) {
	t.Helper()
	poll(t, fmt.Sprintf("%d workers", n), func() error {
		if got := len(e.pods(t, RoleWorker)); got != n {
			st := e.ctl.Status()
			return fmt.Errorf("%d workers (controller: server ready %v, %d nodes, %d usable, %.3g free cpus, %q, last error %q)",
				got, st.ServerReady, st.Nodes, st.UsableNodes, st.FreeCPUs, st.WorkerReason, st.LastError)
		}
		return nil
	})
	for _, w := range e.pods(t, RoleWorker) {
		if _, err := kubetest.RunPod(context.Background(), e.admin, e.ns, w.Name, "node-b", true); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *realEnv) server(t *testing.T) (corev1.Pod, error) {
	ps := e.pods(t, RoleServer)
	if len(ps) != 1 {
		return corev1.Pod{}, fmt.Errorf("%d server pods", len(ps))
	}
	return ps[0], nil
}

func (e *realEnv) events(t *testing.T) map[string]int32 {
	l, err := e.admin.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, ev := range l.Items {
		out[ev.Reason] += ev.Count
	}
	return out
}

// TestRealAPIServer runs the controller against a real kube-apiserver and
// etcd as the ServiceAccount of deploy/kubernetes (its Role and
// ClusterRole only), the test playing the kubelet: the server pod, workers
// only while it is Ready, all deleted when it is not, a failed server
// replaced; then it checks that the controller used exactly the verbs the
// manifests grant.
func TestRealAPIServer(t *testing.T) {
	e := startReal(t, fleet.Policy{WorkerCPUs: 1, MaxWorkers: 3, BackoffMin: 200 * time.Millisecond}, nil)
	ctx := context.Background()
	var srv corev1.Pod
	poll(t, "server pod", func() (err error) { srv, err = e.server(t); return err })
	if len(e.pods(t, RoleWorker)) != 0 {
		t.Fatal("workers before the server is Ready")
	}
	for range 2 { // Ready, not Ready, twice: the second ServerNotReady is the same Event, counted (patch)
		if _, err := kubetest.RunPod(ctx, e.admin, e.ns, srv.Name, "node-a", true); err != nil {
			t.Fatal(err)
		}
		e.waitWorkers(t, 3)
		if _, err := kubetest.RunPod(ctx, e.admin, e.ns, srv.Name, "node-a", false); err != nil {
			t.Fatal(err)
		}
		e.waitWorkers(t, 0)
	}
	if _, err := kubetest.RunPod(ctx, e.admin, e.ns, srv.Name, "node-a", true); err != nil {
		t.Fatal(err)
	}
	e.waitWorkers(t, 3)
	if _, err := kubetest.EndPod(ctx, e.admin, e.ns, srv.Name, 1); err != nil {
		t.Fatal(err)
	}
	e.waitWorkers(t, 0)
	poll(t, "a new server", func() error {
		s, err := e.server(t)
		if err == nil && s.UID == srv.UID {
			return errors.New("still the failed server")
		}
		return err
	})
	poll(t, "events", func() error {
		ev := e.events(t)
		if ev["ServerReady"] < 1 || ev["ServerNotReady"] < 2 || ev["ServerFailed"] != 1 {
			return fmt.Errorf("event counts %v", ev)
		}
		return nil
	})
	if st := e.ctl.Status(); !st.IsLeader || st.ServerFailures != 1 || strings.Contains(st.LastError, "forbidden") {
		t.Errorf("status: leader %v failures %d last error %q, want leader, 1 failure, nothing forbidden", st.IsLeader, st.ServerFailures, st.LastError)
	}
	checkVerbs(t, e)
}

// checkVerbs: the controller used every verb the manifests grant, and
// nothing else (a call outside them would have been refused).
func checkVerbs(t *testing.T, e *realEnv) {
	t.Helper()
	role, cluster := rbacRules(t, manifests(t))
	want := granted(append(role, cluster...))
	poll(t, "every granted verb used", func() error {
		seen := e.calls.seen()
		var missing []string
		for _, g := range want {
			if !slices.Contains(seen, g) {
				missing = append(missing, g)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("granted but never used: %v (seen %v)", missing, seen)
		}
		return nil
	})
	for _, s := range e.calls.seen() {
		if !slices.Contains(want, s) {
			t.Errorf("the controller called %q, which the manifests do not grant", s)
		}
	}
}
