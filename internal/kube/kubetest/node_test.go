package kubetest_test

import (
	"errors"
	"fmt"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
)

// TestKubelet: with a real node, a Pod is scheduled by kube-scheduler, its
// containers run (an IP on the node's bridge), a killed container is
// restarted by the kubelet, a node whose kubelet stops goes NotReady with
// its Pod, and both come back with the kubelet; a deleted Pod goes away.
func TestKubelet(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{Kubelet: true})
	ctx := t.Context()
	cs := c.Clientset(t)
	c.Namespace(t, "node")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: kubetest.SandboxImage, ImagePullPolicy: corev1.PullNever}}}}
	if _, err := cs.CoreV1().Pods("node").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func(restarts int32) func() error {
		return func() error {
			p, err := cs.CoreV1().Pods("node").Get(ctx, "p", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning || !podReady(p) || len(p.Status.ContainerStatuses) != 1 {
				return fmt.Errorf("phase %s, conditions %v", p.Status.Phase, p.Status.Conditions)
			}
			if st := p.Status.ContainerStatuses[0]; st.RestartCount != restarts || st.State.Running == nil {
				return fmt.Errorf("container %+v, want running after %d restarts", st.State, restarts)
			}
			if p.Spec.NodeName != kubetest.NodeName {
				return fmt.Errorf("on node %q", p.Spec.NodeName)
			}
			if ip := net.ParseIP(p.Status.PodIP); ip == nil || !ip.IsPrivate() || ip.IsLoopback() {
				return fmt.Errorf("pod IP %q: want one on the node's bridge", p.Status.PodIP)
			}
			return nil
		}
	}
	eventually(t, "the pod scheduled, running and ready", running(0))
	c.KillContainer(t, "node", "p", "main")
	eventually(t, "the killed container restarted by the kubelet", running(1))

	// The node goes silent: NotReady, the pod not Ready; then back.
	c.StopKubelet(t)
	eventually(t, "the silent node NotReady and its pod not Ready", func() error {
		nd, err := cs.CoreV1().Nodes().Get(ctx, kubetest.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range nd.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return errors.New("node still Ready")
			}
		}
		p, err := cs.CoreV1().Pods("node").Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if podReady(p) {
			return errors.New("pod still Ready")
		}
		return nil
	})
	c.StartKubelet(t)
	eventually(t, "the pod Ready again, its container never restarted", running(1))
	if err := cs.CoreV1().Pods("node").Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod gone", func() error {
		if _, err := cs.CoreV1().Pods("node").Get(ctx, "p", metav1.GetOptions{}); err == nil {
			return errors.New("still there")
		}
		return nil
	})
}
