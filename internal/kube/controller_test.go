package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hashfleet/hashfleet/internal/fleet"
)

const testNS = "mining"

// testNode is a Ready node with cpus allocatable.
func testNode(name string, cpus int64) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(cpus, resource.DecimalSI)},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

// newFake returns a fake clientset that, like the API server, gives each
// created object a fresh UID.
func newFake(objs ...runtime.Object) *fake.Clientset {
	cl := fake.NewClientset(objs...)
	n := 0
	cl.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object); ok && o.GetUID() == "" {
			n++
			o.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
		}
		return false, nil, nil
	})
	return cl
}

func testConfig(cl kubernetes.Interface) Config {
	return Config{
		Client: cl, Namespace: testNS, Image: "hashfleet:test", NodeRPC: "http://node:18443", RPCUser: "rpc",
		RPCSecret: "hashfleet-rpc", Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv", Identity: "test",
		Policy: fleet.Policy{BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond},
		Resync: time.Second, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// startController runs a controller for cfg until the test ends.
func startController(t *testing.T, cfg Config) *Controller {
	c, _ := runController(t, cfg)
	return c
}

// runController runs a controller for cfg; stop cancels it and returns
// Run's result. When the test ends the controller is stopped, and an error
// from Run that no stop call returned fails the test.
func runController(t *testing.T, cfg Config) (c *Controller, stop func() error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	returned := false
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		returned = true
		return runErr
	}
	t.Cleanup(func() {
		seen := returned
		if err := stop(); err != nil && !seen {
			t.Errorf("Run: %v", err)
		}
	})
	return c, stop
}

// poll calls f until it returns nil or a generous deadline passes.
func poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func listPods(t *testing.T, cl kubernetes.Interface, role Role) []corev1.Pod {
	t.Helper()
	l, err := cl.CoreV1().Pods(testNS).List(context.Background(), metav1.ListOptions{LabelSelector: LabelRole + "=" + string(role)})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// setStatus plays the kubelet: binds the pod to node and sets its phase
// and Ready condition.
func setStatus(t *testing.T, cl kubernetes.Interface, name, node string, phase corev1.PodPhase, ready bool) {
	t.Helper()
	ctx := context.Background()
	p, err := cl.CoreV1().Pods(testNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.NodeName = node
	if p, err = cl.CoreV1().Pods(testNS).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = phase
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := cl.CoreV1().Pods(testNS).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func eventReasons(t *testing.T, cl kubernetes.Interface) []string {
	t.Helper()
	l, err := cl.CoreV1().Events(testNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, e.Reason)
	}
	return out
}

func wantEvent(t *testing.T, cl kubernetes.Interface, reason string) {
	t.Helper()
	poll(t, "event "+reason, func() error {
		if got := eventReasons(t, cl); !slices.Contains(got, reason) {
			return errors.New("events so far: " + strings.Join(got, ","))
		}
		return nil
	})
}

func wantWorkers(t *testing.T, cl kubernetes.Interface, cpus ...string) {
	t.Helper()
	poll(t, "workers "+strings.Join(cpus, ","), func() error {
		var got []string
		for _, p := range listPods(t, cl, RoleWorker) {
			if p.DeletionTimestamp == nil {
				got = append(got, p.Spec.Containers[0].Resources.Requests.Cpu().String())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, cpus) {
			return errors.New("worker cpus " + strings.Join(got, ","))
		}
		return nil
	})
}

func serverUID(t *testing.T, cl kubernetes.Interface) (string, error) {
	p, err := cl.CoreV1().Pods(testNS).Get(context.Background(), "hashfleet-server", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return string(p.UID), nil
}

// TestControllerFake drives the controller over client-go's fake
// clientset: server pod and Service, workers only while the server is
// Ready, sized to fill the nodes, deleted when it is not, a new server
// after the old one is deleted.
func TestControllerFake(t *testing.T) {
	cl := newFake(testNode("a", 4), testNode("b", 4))
	c := startController(t, testConfig(cl))
	ctx := context.Background()

	poll(t, "server pod", func() error { _, err := serverUID(t, cl); return err })
	poll(t, "service", func() error {
		_, err := cl.CoreV1().Services(testNS).Get(ctx, "hashfleet", metav1.GetOptions{})
		return err
	})
	srv, _ := cl.CoreV1().Pods(testNS).Get(ctx, "hashfleet-server", metav1.GetOptions{})
	checkServerPod(t, srv)
	if got := listPods(t, cl, RoleWorker); len(got) != 0 {
		t.Fatalf("%d workers before the server is Ready, want 0", len(got))
	}

	setStatus(t, cl, "hashfleet-server", "a", corev1.PodRunning, true)
	wantWorkers(t, cl, "3", "4") // a: 4 less the server's 1; b: 4
	wantEvent(t, cl, "ServerReady")
	for _, w := range listPods(t, cl, RoleWorker) {
		checkWorkerPod(t, w, string(srv.UID))
	}

	setStatus(t, cl, "hashfleet-server", "a", corev1.PodRunning, false)
	wantWorkers(t, cl)
	wantEvent(t, cl, "ServerNotReady")

	setStatus(t, cl, "hashfleet-server", "a", corev1.PodRunning, true)
	wantWorkers(t, cl, "3", "4")

	if err := cl.CoreV1().Pods(testNS).Delete(ctx, "hashfleet-server", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantWorkers(t, cl)
	poll(t, "a new server", func() error {
		uid, err := serverUID(t, cl)
		if err == nil && uid == string(srv.UID) {
			return errors.New("still the old server")
		}
		return err
	})
	wantEvent(t, cl, "ServerDeleted")
	if st := c.Status(); st.ServerFailures != 1 || !st.Connected {
		t.Errorf("status: failures %d connected %v, want 1 and true", st.ServerFailures, st.Connected)
	}
}

func checkServerPod(t *testing.T, p *corev1.Pod) {
	t.Helper()
	ct := p.Spec.Containers[0]
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("server restart policy %q, want Never (the controller replaces it with its backoff)", p.Spec.RestartPolicy)
	}
	if pr := ct.ReadinessProbe; pr == nil || pr.TCPSocket == nil || pr.TCPSocket.Port.StrVal != "stratum" {
		t.Errorf("readiness probe %+v, want tcpSocket on the stratum port", pr)
	}
	if !slices.Contains(ct.Args, "--rpc-user") || !slices.Contains(ct.Args, "0.0.0.0:3333") {
		t.Errorf("server args %q, want --rpc-user and the stratum listener", ct.Args)
	}
	for _, a := range ct.Args {
		if strings.Contains(strings.ToLower(a), "password") {
			t.Errorf("server arg %q mentions a password", a)
		}
	}
	if len(ct.Env) != 1 || ct.Env[0].Name != fleet.EnvRPCPassword || ct.Env[0].ValueFrom == nil ||
		ct.Env[0].ValueFrom.SecretKeyRef == nil || ct.Env[0].ValueFrom.SecretKeyRef.Name != "hashfleet-rpc" || ct.Env[0].Value != "" {
		t.Errorf("server env %+v, want only %s from the Secret hashfleet-rpc", ct.Env, fleet.EnvRPCPassword)
	}
}

func checkWorkerPod(t *testing.T, p corev1.Pod, serverUID string) {
	t.Helper()
	if p.Labels[LabelServerUID] != serverUID {
		t.Errorf("worker %s server label %q, want %q", p.Name, p.Labels[LabelServerUID], serverUID)
	}
	args := strings.Join(p.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "-o stratum+tcp://hashfleet.mining.svc:3333") {
		t.Errorf("worker args %q, want the Service address", args)
	}
	if len(p.Spec.Containers[0].Env) != 0 {
		t.Errorf("worker env %+v, want none (no secret)", p.Spec.Containers[0].Env)
	}
}

// TestControllerFailedServerBackoff: a server that keeps failing is
// replaced with a growing backoff, never two at once.
func TestControllerFailedServerBackoff(t *testing.T) {
	cl := newFake(testNode("a", 4))
	cfg := testConfig(cl)
	cfg.Policy.BackoffMin, cfg.Policy.BackoffMax = 200*time.Millisecond, time.Second
	c := startController(t, cfg)
	var uids []string
	for i := range 3 {
		var uid string
		poll(t, "server", func() error {
			var err error
			uid, err = serverUID(t, cl)
			if err == nil && slices.Contains(uids, uid) {
				return errors.New("the old server")
			}
			return err
		})
		uids = append(uids, uid)
		if n := len(listPods(t, cl, RoleServer)); n != 1 {
			t.Fatalf("round %d: %d server pods, want 1", i, n)
		}
		setStatus(t, cl, "hashfleet-server", "a", corev1.PodFailed, false)
	}
	wantEvent(t, cl, "ServerFailed")
	poll(t, "three failures counted", func() error {
		if st := c.Status(); st.ServerFailures < 3 {
			return errors.New("failures " + string(rune('0'+st.ServerFailures)))
		}
		return nil
	})
}
