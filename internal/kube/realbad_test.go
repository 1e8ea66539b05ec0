package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
)

// eventMessages returns the messages of the Events with reason.
func (e *realEnv) eventMessages(t *testing.T, reason string) []string {
	l, err := e.admin.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.Reason == reason {
			out = append(out, fmt.Sprintf("%s/%s: %s", ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Message))
		}
	}
	return out
}

func (e *realEnv) waitEvent(t *testing.T, reason, contains string) {
	t.Helper()
	poll(t, "event "+reason, func() error {
		for _, m := range e.eventMessages(t, reason) {
			if strings.Contains(m, contains) {
				return nil
			}
		}
		return fmt.Errorf("events %v", e.events(t))
	})
}

// TestRealMissingPermission: without create on pods the controller reports
// the refusal once per backoff step (Event on the Service, with the RBAC
// hint), never storms, and starts the server once the Role is fixed.
func TestRealMissingPermission(t *testing.T) {
	noCreate := func(r *rbacv1.Role) {
		for i := range r.Rules {
			if slices.Contains(r.Rules[i].Resources, "pods") {
				r.Rules[i].Verbs = slices.DeleteFunc(r.Rules[i].Verbs, func(v string) bool { return v == "create" })
			}
		}
	}
	start := time.Now()
	e := startReal(t, fleet.Policy{BackoffMin: 200 * time.Millisecond, BackoffMax: time.Second}, noCreate)
	e.waitEvent(t, "CreateFailed", "RBAC: the controller's ServiceAccount needs create on pods")
	time.Sleep(2 * time.Second)
	// Attempts are paced by the backoff (200 ms, doubling to 1 s): at most
	// one per 200 ms of the time the controller has run, whatever the load.
	elapsed := time.Since(start)
	if n, most := e.calls.count("/pods create"), 2+int(elapsed/(200*time.Millisecond)); n < 2 || n > most {
		t.Errorf("%d pod creates in %v, want 2..%d (backoff)", n, elapsed.Round(time.Millisecond), most)
	}
	if msgs := e.eventMessages(t, "CreateFailed"); !strings.HasPrefix(msgs[0], "Service/hashfleet:") {
		t.Errorf("CreateFailed on %q, want the Service", msgs[0])
	}
	role, err := e.admin.RbacV1().Roles(e.ns).Get(context.Background(), "hashfleet-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}})
	if _, err := e.admin.RbacV1().Roles(e.ns).Update(context.Background(), role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "server once permitted", func() error { _, err := e.server(t); return err })
}

// setWaiting reports the server container waiting with reason, as a
// kubelet does while it cannot pull the image or build its environment.
func (e *realEnv) setWaiting(t *testing.T, name, reason, msg string) {
	t.Helper()
	p, err := e.admin.CoreV1().Pods(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}
	if _, err := e.admin.CoreV1().Pods(e.ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRealImagePullAndMissingSecret: a server that cannot pull its image
// (the kubelet alternating ErrImagePull and ImagePullBackOff) gets one
// Event and is kept, not replaced; a missing Secret gets a ConfigError.
func TestRealImagePullAndMissingSecret(t *testing.T) {
	e := startReal(t, fleet.Policy{BackoffMin: 100 * time.Millisecond}, nil)
	var srv corev1.Pod
	poll(t, "server pod", func() (err error) { srv, err = e.server(t); return err })
	if _, err := kubetest.RunPod(context.Background(), e.admin, e.ns, srv.Name, "node-a", false); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		reason := []string{"ErrImagePull", "ImagePullBackOff"}[i%2]
		e.setWaiting(t, srv.Name, reason, `failed to pull image "hashfleet:test": not found`)
		time.Sleep(300 * time.Millisecond)
	}
	e.waitEvent(t, "ImagePullFailed", "not found")
	if got := e.eventMessages(t, "ImagePullFailed"); len(got) != 1 {
		t.Errorf("ImagePullFailed events %q, want one", got)
	}
	if now, err := e.server(t); err != nil || now.UID != srv.UID {
		t.Errorf("server %v (%v), want the same pod kept (uid %s)", now.UID, err, srv.UID)
	}
	if n := e.calls.count("/pods create"); n != 1 {
		t.Errorf("%d pod creates, want 1 (no replacement, no workers)", n)
	}
	e.setWaiting(t, srv.Name, "CreateContainerConfigError", `secret "hashfleet-rpc" not found`)
	e.waitEvent(t, "ConfigError", `secret "hashfleet-rpc" not found`)
}

// TestRealNodeGone: the server's node disappears: its pods are
// force-deleted (no kubelet will confirm), the workers go, and a new server
// is created.
func TestRealNodeGone(t *testing.T) {
	e := startReal(t, fleet.Policy{WorkerCPUs: 1, MaxWorkers: 2, BackoffMin: 100 * time.Millisecond}, nil)
	ctx := context.Background()
	var srv corev1.Pod
	poll(t, "server pod", func() (err error) { srv, err = e.server(t); return err })
	if _, err := kubetest.RunPod(ctx, e.admin, e.ns, srv.Name, "node-a", true); err != nil {
		t.Fatal(err)
	}
	e.waitWorkers(t, 2)
	if err := e.admin.CoreV1().Nodes().Delete(ctx, "node-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, "NodeLost", "node-a")
	poll(t, "a new server", func() error {
		s, err := e.server(t)
		if err == nil && s.UID == srv.UID {
			return errors.New("still the old server")
		}
		return err
	})
	e.waitWorkers(t, 0)
}

// TestRealAPIServerRestart: the API server goes away and comes back; the
// leader keeps its Lease (the outage, a restart under load, stays under a
// RenewDeadline of 2 min here), records the error, and goes on: the same
// server, workers once it is Ready. (Past RenewDeadline the replica exits,
// and its Deployment restarts it: elect.)
func TestRealAPIServerRestart(t *testing.T) {
	e := startReal(t, fleet.Policy{WorkerCPUs: 1, MaxWorkers: 2, BackoffMin: 100 * time.Millisecond}, nil, func(c *Config) {
		c.LeaseDuration, c.RenewDeadline = 3*time.Minute, 2*time.Minute
	})
	var srv corev1.Pod
	poll(t, "server pod", func() (err error) { srv, err = e.server(t); return err })
	e.kc.StopAPIServer(t)
	time.Sleep(3 * time.Second)
	e.kc.StartAPIServer(t)
	if _, err := kubetest.RunPod(context.Background(), e.admin, e.ns, srv.Name, "node-a", true); err != nil {
		t.Fatal(err)
	}
	e.waitWorkers(t, 2)
	if s, err := e.server(t); err != nil || s.UID != srv.UID {
		t.Errorf("server after the restart: %v %v, want the same pod %s", s.UID, err, srv.UID)
	}
	if st := e.ctl.Status(); st.LastError == "" || !st.IsLeader {
		t.Errorf("status: last error %q leader %v, want the outage recorded and still leading", st.LastError, st.IsLeader)
	}
}

// TestRealLeaderElection: two replicas, one acts; when it stops, the other
// takes the Lease and adopts the running server (no second server, no
// relaunch).
func TestRealLeaderElection(t *testing.T) {
	e := startReal(t, fleet.Policy{WorkerCPUs: 1, MaxWorkers: 1, BackoffMin: 100 * time.Millisecond}, nil)
	second, stopSecond := runController(t, e.controllerConfig(t, fleet.Policy{WorkerCPUs: 1, MaxWorkers: 1}, "second"))
	var srv corev1.Pod
	poll(t, "server pod", func() (err error) { srv, err = e.server(t); return err })
	if _, err := kubetest.RunPod(context.Background(), e.admin, e.ns, srv.Name, "node-a", true); err != nil {
		t.Fatal(err)
	}
	e.waitWorkers(t, 1)
	leader, standby, stopLeader := e.ctl, second, e.stop
	poll(t, "one leader, one standby that sees it", func() error {
		a, b := e.ctl.Status(), second.Status()
		switch {
		case a.IsLeader && !b.IsLeader && b.Leader == "test":
			leader, standby, stopLeader = e.ctl, second, e.stop
		case b.IsLeader && !a.IsLeader && a.Leader == "second":
			leader, standby, stopLeader = second, e.ctl, stopSecond
		default:
			return fmt.Errorf("first: leads %v sees %q; second: leads %v sees %q", a.IsLeader, a.Leader, b.IsLeader, b.Leader)
		}
		return nil
	})
	if err := stopLeader(); err != nil { // releases the Lease (ReleaseOnCancel)
		t.Fatalf("leader %s: %v", leader.cfg.Identity, err)
	}
	poll(t, "the standby leads", func() error {
		if st := standby.Status(); !st.IsLeader || !st.ServerReady || st.Workers != 1 {
			return fmt.Errorf("standby: leader %v server ready %v workers %d", st.IsLeader, st.ServerReady, st.Workers)
		}
		return nil
	})
	if s, err := e.server(t); err != nil || s.UID != srv.UID {
		t.Errorf("server after the handover: %v %v, want the same pod %s adopted", s.UID, err, srv.UID)
	}
	if st := standby.Status(); st.ServerFailures != 0 {
		t.Errorf("the new leader counted %d server failures, want 0", st.ServerFailures)
	}
}

// TestRealMissingNamespace: a namespace that does not exist is named in
// the status and the logs (Events cannot be recorded there), and creates
// back off.
func TestRealMissingNamespace(t *testing.T) {
	e := startReal(t, fleet.Policy{BackoffMin: 200 * time.Millisecond}, nil)
	cfg := testConfig(e.admin)
	cfg.Namespace, cfg.Registerer = "absent", nil
	c := startController(t, cfg)
	poll(t, "the missing namespace reported", func() error {
		if st := c.Status(); !strings.Contains(st.LastError, "namespace absent does not exist") {
			return fmt.Errorf("last error %q", st.LastError)
		}
		return nil
	})
}

// TestRealLeaseLost: when the API server stops answering for longer than
// RenewDeadline, the leader stops acting and Run returns an error (the
// process exits and its Deployment restarts it), so a replica that cannot
// renew never acts beside a new leader.
func TestRealLeaseLost(t *testing.T) {
	e := startReal(t, fleet.Policy{}, nil, func(c *Config) {
		c.LeaseDuration, c.RenewDeadline, c.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	})
	poll(t, "leading", func() error {
		if !e.ctl.Status().IsLeader {
			return errors.New("not leading")
		}
		return nil
	})
	e.kc.PauseAPIServer(t)
	poll(t, "leadership lost", func() error {
		if e.ctl.Status().IsLeader {
			return errors.New("still leading")
		}
		return nil
	})
	e.kc.ResumeAPIServer(t)
	if err := e.stop(); err == nil || !strings.Contains(err.Error(), "lost the leader Lease") {
		t.Errorf("Run returned %v, want the lost Lease", err)
	}
}
