package kube

import "time"

// Role says what a pod of the fleet is.
type Role string

// Pod roles.
const (
	RoleServer Role = "server"
	RoleWorker Role = "worker"
)

// Phase is a pod's phase (corev1.PodPhase without the import).
type Phase string

// Pod phases the policy tells apart.
const (
	PhasePending   Phase = "Pending"
	PhaseRunning   Phase = "Running"
	PhaseSucceeded Phase = "Succeeded"
	PhaseFailed    Phase = "Failed"
)

// Pod is what the policy knows of one of the fleet's pods: a value taken
// from the informer's object by the shell (podView).
type Pod struct {
	Name      string
	UID       string
	Role      Role
	ServerUID string // worker: UID of the server pod it was created for
	Node      string // "" = not scheduled yet
	IP        string // the pod's IP, once it has one
	Phase     Phase
	Ready     bool // the Ready condition is True
	Deleting  bool // deletionTimestamp set
	CPUs      float64
	// Waiting is the reason a container waits with, when it is one the
	// kubelet keeps retrying by itself (ErrImagePull, ImagePullBackOff,
	// CreateContainerConfigError, …); Message says more.
	Waiting string
	Message string
}

// ended reports whether the pod's containers are done for good (the
// fleet's pods never restart: RestartPolicy Never).
func (p *Pod) ended() bool { return p.Phase == PhaseSucceeded || p.Phase == PhaseFailed }

// Node is a node as the sizing sees it.
type Node struct {
	Name string
	CPUs float64 // allocatable
	// Requested is the sum of the cpu requests of the non-terminal pods
	// bound to the node, the fleet's own included.
	Requested float64
	Usable    bool // Ready, schedulable, and not tainted NoSchedule/NoExecute
}

// World is one observation of the cluster: the fleet's pods (from the
// label-filtered informer) and the nodes, at Now.
type World struct {
	Pods  []Pod
	Nodes []Node
	Now   time.Time
}
