package kubetest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// These functions play the kubelet, which this harness does not run: they
// write the Node and Pod statuses a kubelet would, through the API, so a
// controller under test sees the same objects and events. They take any
// client (an admin one: the Node authorizer lets a kubelet write only its
// own node's objects) and are safe for concurrent use.

// AddNode registers a Ready node with cpu allocatable CPUs (a quantity:
// "4", "3500m") and 8 GiB of memory, as a kubelet would on joining.
func AddNode(ctx context.Context, cs kubernetes.Interface, name, cpu string) (*corev1.Node, error) {
	q, err := resource.ParseQuantity(cpu)
	if err != nil {
		return nil, fmt.Errorf("kubetest: node %s cpu %q: %w", name, cpu, err)
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    q,
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: create node %s: %w", name, err)
	}
	now := metav1.Now()
	n.Status = corev1.NodeStatus{
		Capacity: res, Allocatable: res,
		Phase:     corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: name}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubetest plays the kubelet", LastHeartbeatTime: now, LastTransitionTime: now}},
	}
	n, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: status of node %s: %w", name, err)
	}
	return n, nil
}

// RunPod does for Pod namespace/name what the scheduler and a kubelet
// would: binds it to node (unless it is bound already) and reports it
// Running, every container started and ready = ready (the readiness
// probe's verdict), with pod IP 127.0.0.1. Called again with another ready,
// it flips readiness.
func RunPod(ctx context.Context, cs kubernetes.Interface, namespace, name, node string, ready bool) (*corev1.Pod, error) {
	pods := cs.CoreV1().Pods(namespace)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: run pod %s/%s: %w", namespace, name, err)
	}
	if pod.Spec.NodeName == "" {
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: pod.UID},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}
		if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("kubetest: bind pod %s/%s to %s: %w", namespace, name, node, err)
		}
	}
	return updatePodStatus(ctx, cs, namespace, name, func(p *corev1.Pod) {
		now := metav1.Now()
		if p.Status.StartTime == nil {
			p.Status.StartTime = &now
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.HostIP, p.Status.PodIP = "127.0.0.1", "127.0.0.1"
		p.Status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
		p.Status.ContainerStatuses = containerStatuses(p, func(c corev1.Container) corev1.ContainerStatus {
			return corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: ready, Started: &[]bool{true}[0],
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}
		})
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		setPodCondition(p, corev1.PodScheduled, corev1.ConditionTrue, now)
		setPodCondition(p, corev1.PodInitialized, corev1.ConditionTrue, now)
		setPodCondition(p, corev1.ContainersReady, st, now)
		setPodCondition(p, corev1.PodReady, st, now)
	})
}

// EndPod reports Pod namespace/name's containers terminated with exitCode:
// phase Succeeded for 0, Failed otherwise (restartPolicy Never; a kubelet
// would restart the container under Always). The Pod is not deleted.
func EndPod(ctx context.Context, cs kubernetes.Interface, namespace, name string, exitCode int32) (*corev1.Pod, error) {
	return updatePodStatus(ctx, cs, namespace, name, func(p *corev1.Pod) {
		now := metav1.Now()
		p.Status.Phase = corev1.PodFailed
		if exitCode == 0 {
			p.Status.Phase = corev1.PodSucceeded
		}
		p.Status.ContainerStatuses = containerStatuses(p, func(c corev1.Container) corev1.ContainerStatus {
			return corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: &[]bool{false}[0],
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, FinishedAt: now,
					Reason: map[bool]string{true: "Completed", false: "Error"}[exitCode == 0]}}}
		})
		setPodCondition(p, corev1.ContainersReady, corev1.ConditionFalse, now)
		setPodCondition(p, corev1.PodReady, corev1.ConditionFalse, now)
	})
}

func updatePodStatus(ctx context.Context, cs kubernetes.Interface, namespace, name string, mutate func(*corev1.Pod)) (*corev1.Pod, error) {
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(p)
		out, err = cs.CoreV1().Pods(namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kubetest: status of pod %s/%s: %w", namespace, name, err)
	}
	return out, nil
}

func containerStatuses(p *corev1.Pod, status func(corev1.Container) corev1.ContainerStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range p.Spec.Containers {
		out = append(out, status(c))
	}
	return out
}

func setPodCondition(p *corev1.Pod, typ corev1.PodConditionType, st corev1.ConditionStatus, now metav1.Time) {
	for i := range p.Status.Conditions {
		if c := &p.Status.Conditions[i]; c.Type == typ {
			if c.Status != st {
				c.Status, c.LastTransitionTime = st, now
			}
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: typ, Status: st, LastTransitionTime: now})
}
