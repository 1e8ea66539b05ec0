package kube

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hashfleet/hashfleet/internal/fleet"
)

// labels returns the labels of the fleet's objects of role ("" = none).
func (c *Config) labels(role Role) map[string]string {
	l := map[string]string{LabelManagedBy: ManagedBy, LabelInstance: c.Name, LabelName: "hashfleet"}
	if role != "" {
		l[LabelRole] = string(role)
	}
	return l
}

func quantityCPU(cpus float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(cpus*1000+0.5), resource.DecimalSI)
}

func quantityMiB(mib float64) resource.Quantity {
	return *resource.NewQuantity(int64(mib)<<20, resource.BinarySI)
}

// podBase is what server and worker pods share: never restarted by the
// kubelet (the controller replaces them, with its backoff), no API token,
// no service links, a non-root container that cannot escalate.
func (c *Config) podBase(name string, role Role, args []string, cpus, mib float64) *corev1.Pod {
	no := false
	yes := true
	req := corev1.ResourceList{corev1.ResourceCPU: quantityCPU(cpus), corev1.ResourceMemory: quantityMiB(mib)}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: c.labels(role)},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			TerminationGracePeriodSeconds: new(int64(10)),
			Containers: []corev1.Container{{
				Name:            string(role),
				Image:           c.Image,
				ImagePullPolicy: c.ImagePullPolicy,
				Args:            args,
				Resources:       corev1.ResourceRequirements{Requests: req},
				SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// serverPod is the miner server: Stratum and HTTP ports, a readiness
// probe on the Stratum port (workers start only once it passes), a
// liveness probe that ends a wedged server, and the RPC password from the
// Secret.
func (c *Config) serverPod() *corev1.Pod {
	args := fleet.ServerArgs(fleet.Server{NodeRPC: c.NodeRPC, RPCUser: c.RPCUser, Payout: c.Payout, Network: c.Network,
		StratumListen: fmt.Sprintf("0.0.0.0:%d", StratumPort), HTTPListen: fmt.Sprintf("0.0.0.0:%d", HTTPPort)})
	p := c.podBase(c.serverName(), RoleServer, args, c.ServerCPUs, c.ServerMem)
	ct := &p.Spec.Containers[0]
	ct.Ports = []corev1.ContainerPort{
		{Name: "stratum", ContainerPort: StratumPort, Protocol: corev1.ProtocolTCP},
		{Name: "http", ContainerPort: HTTPPort, Protocol: corev1.ProtocolTCP},
	}
	tcp := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("stratum")}}
	ct.ReadinessProbe = &corev1.Probe{ProbeHandler: tcp, PeriodSeconds: 5, FailureThreshold: 3, TimeoutSeconds: 5}
	ct.LivenessProbe = &corev1.Probe{ProbeHandler: tcp, InitialDelaySeconds: 60, PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 5}
	if c.RPCSecret != "" {
		ct.Env = append(ct.Env, corev1.EnvVar{Name: fleet.EnvRPCPassword, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: c.RPCSecret}, Key: c.RPCSecretKey},
		}})
	}
	return p
}

// workerPod is one worker for cr, dialling the Service; its cpu request
// and limit are its size, so that it gets the cpus it hashes on.
func (c *Config) workerPod(cr Create) *corev1.Pod {
	addr := c.serviceAddr()
	if c.DialPodIP && cr.ServerIP != "" {
		addr = net.JoinHostPort(cr.ServerIP, strconv.Itoa(StratumPort))
	}
	args := fleet.WorkerArgs(addr, fleet.WorkerName(c.WorkerUser, cr.Name), cr.CPUs)
	p := c.podBase(cr.Name, RoleWorker, args, cr.CPUs, c.WorkerMem)
	p.Labels[LabelServerUID] = cr.ServerUID
	ct := &p.Spec.Containers[0]
	ct.Resources.Limits = ct.Resources.Requests.DeepCopy()
	return p
}

// service is the Stratum (and HTTP) Service in front of the server pod;
// it routes only to a Ready server.
func (c *Config) service() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace, Labels: c.labels("")},
		Spec: corev1.ServiceSpec{
			Selector: c.labels(RoleServer),
			Ports: []corev1.ServicePort{
				{Name: "stratum", Port: StratumPort, TargetPort: intstr.FromString("stratum"), Protocol: corev1.ProtocolTCP},
				{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}
