package kubetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

func TestMain(m *testing.M) { partstest.Main(m) }

// deadline bounds every wait: generous, the machine may be loaded.
const deadline = 3 * time.Minute

// eventually polls cond until it returns nil or deadline passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not reached in %v: %v", what, deadline, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func newPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "hashfleet:test"}}}}
}

// TestSmoke: a Pod created, run and made Ready through the API is seen by
// an informer; the informer carries on across an API server restart (data
// kept in etcd); a paused API server times requests out.
func TestSmoke(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := t.Context()
	cs := c.Clientset(t)
	c.Namespace(t, "smoke")
	if _, err := kubetest.AddNode(ctx, cs, "node-1", "4"); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("smoke"))
	lister := factory.Core().V1().Pods().Lister()
	stop := make(chan struct{})
	factory.Start(stop)
	defer factory.Shutdown() // after close(stop): Shutdown waits for the informers to end
	defer close(stop)
	if !cache.WaitForCacheSync(ctx.Done(), factory.Core().V1().Pods().Informer().HasSynced) {
		t.Fatal("pod informer did not sync")
	}
	seenReady := func(name string, want bool) func() error {
		return func() error {
			p, err := lister.Pods("smoke").Get(name)
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning || podReady(p) != want || p.Spec.NodeName != "node-1" {
				return errors.New("informer has phase " + string(p.Status.Phase) + " on node " + p.Spec.NodeName)
			}
			return nil
		}
	}
	if _, err := cs.CoreV1().Pods("smoke").Create(ctx, newPod("server"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kubetest.RunPod(ctx, cs, "smoke", "server", "node-1", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "informer sees the pod Running and Ready", seenReady("server", true))
	if _, err := kubetest.RunPod(ctx, cs, "smoke", "server", "node-1", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "informer sees the pod not Ready", seenReady("server", false))

	c.RestartAPIServer(t)
	if _, err := cs.CoreV1().Pods("smoke").Get(ctx, "server", metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod is gone after the API server restart: %v", err)
	}
	if _, err := cs.CoreV1().Pods("smoke").Create(ctx, newPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kubetest.RunPod(ctx, cs, "smoke", "after", "node-1", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the informer, after the restart, sees a new pod Ready", seenReady("after", true))

	c.PauseAPIServer(t)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := cs.CoreV1().Pods("smoke").Get(short, "server", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Error("a paused API server answered")
	}
	c.ResumeAPIServer(t)
	if _, err := cs.CoreV1().Pods("smoke").Get(ctx, "server", metav1.GetOptions{}); err != nil {
		t.Errorf("after resume: %v", err)
	}
}

// TestRBAC: a user with a Role that only reads pods can list them and is
// refused everything else.
func TestRBAC(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := t.Context()
	admin := c.Clientset(t)
	c.Namespace(t, "rbac")
	alice, err := kubernetes.NewForConfig(c.UserConfig(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CoreV1().Pods("rbac").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice lists pods with no Role: err %v, want Forbidden", err)
	}
	grant(t, admin, "rbac", "pod-reader", rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}})
	eventually(t, "alice lists pods once granted", func() error {
		_, err := alice.CoreV1().Pods("rbac").List(ctx, metav1.ListOptions{})
		return err
	})
	if _, err := alice.CoreV1().Pods("rbac").Create(ctx, newPod("p"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice creates a pod with a read-only Role: err %v, want Forbidden", err)
	}
	if _, err := alice.CoreV1().Secrets("rbac").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice lists secrets: err %v, want Forbidden", err)
	}
	if _, err := alice.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice lists pods in another namespace: err %v, want Forbidden", err)
	}
}

// grant creates Role name in namespace with rules and binds subject to it.
func grant(t *testing.T, cs kubernetes.Interface, namespace, name string, subject rbacv1.Subject, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := t.Context()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := cs.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: []rbacv1.Subject{subject},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
	if _, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestControllerManager: with kube-controller-manager, a new namespace gets
// its default ServiceAccount from the controller, a ServiceAccount token
// authenticates as that account (and RBAC limits it), and the garbage
// collector deletes a dependent whose owner is deleted.
func TestControllerManager(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{ControllerManager: true})
	ctx := t.Context()
	admin := c.Clientset(t)
	c.Namespace(t, "cm") // waits for the controller's default ServiceAccount
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ctl"}}
	if _, err := admin.CoreV1().ServiceAccounts("cm").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctl, err := kubernetes.NewForConfig(c.ServiceAccountConfig(t, "cm", "ctl"))
	if err != nil {
		t.Fatal(err)
	}
	grant(t, admin, "cm", "configmaps", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "ctl", Namespace: "cm"},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "delete"}})
	var owner *corev1.ConfigMap
	eventually(t, "the ServiceAccount creates a ConfigMap once granted", func() error {
		owner, err = ctl.CoreV1().ConfigMaps("cm").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
		return err
	})
	if _, err := ctl.CoreV1().Pods("cm").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount lists pods: err %v, want Forbidden", err)
	}
	dep := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}}}
	if _, err := admin.CoreV1().ConfigMaps("cm").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ctl.CoreV1().ConfigMaps("cm").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the garbage collector deletes the dependent", func() error {
		_, err := admin.CoreV1().ConfigMaps("cm").Get(ctx, "dependent", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.New("dependent still there")
	})
}
