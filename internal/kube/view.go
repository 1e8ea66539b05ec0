package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// podCPUs is the pod's cpu request: the sum of its containers' requests.
func podCPUs(p *corev1.Pod) float64 {
	var m int64
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			m += q.MilliValue()
		}
	}
	return float64(m) / 1000
}

// podView is what the policy sees of one of the fleet's pods.
func podView(p *corev1.Pod) Pod {
	v := Pod{
		Name: p.Name, UID: string(p.UID), Role: Role(p.Labels[LabelRole]), ServerUID: p.Labels[LabelServerUID],
		Node: p.Spec.NodeName, IP: p.Status.PodIP, Phase: Phase(p.Status.Phase), Deleting: p.DeletionTimestamp != nil, CPUs: podCPUs(p),
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			v.Ready = c.Status == corev1.ConditionTrue
		}
	}
	if v.Phase == "" {
		v.Phase = PhasePending
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			v.Waiting, v.Message = w.Reason, w.Message
		}
		if t := cs.State.Terminated; t != nil {
			v.Message = fmt.Sprintf("container %s terminated: %s (exit %d) %s", cs.Name, t.Reason, t.ExitCode, lastLine(t.Message))
		}
	}
	if v.Message == "" {
		v.Message = strings.TrimSpace(p.Status.Reason + " " + p.Status.Message) // e.g. Evicted
	}
	return v
}

// lastLine is the last non-empty line of a termination message, bounded.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	if len(l) > 200 {
		l = l[:200]
	}
	return l
}

// nodeUsable reports whether new pods can be placed on n: Ready,
// schedulable, and without a NoSchedule/NoExecute taint (the fleet's pods
// tolerate none).
func nodeUsable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeViews sizes the nodes: allocatable cpu, and the requests of the
// non-terminal pods bound to each (all namespaces).
func nodeViews(nodes []*corev1.Node, pods []*corev1.Pod) []Node {
	req := map[string]float64{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		req[p.Spec.NodeName] += podCPUs(p)
	}
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		alloc := n.Status.Allocatable[corev1.ResourceCPU]
		out = append(out, Node{Name: n.Name, CPUs: float64(alloc.MilliValue()) / 1000, Requested: round(req[n.Name]), Usable: nodeUsable(n)})
	}
	return out
}

// slimPod keeps, of a pod from any namespace, only what nodeViews reads:
// the cluster-wide pod informer holds every pod.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	s := &corev1.Pod{}
	s.Name, s.Namespace, s.UID, s.ResourceVersion = p.Name, p.Namespace, p.UID, p.ResourceVersion
	s.Spec.NodeName = p.Spec.NodeName
	s.Status.Phase = p.Status.Phase
	for _, c := range p.Spec.Containers {
		s.Spec.Containers = append(s.Spec.Containers, corev1.Container{Name: c.Name,
			Resources: corev1.ResourceRequirements{Requests: c.Resources.Requests}})
	}
	return s, nil
}
