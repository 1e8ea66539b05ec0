package kube

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/hashfleet/hashfleet/internal/fleet"
)

// Ports of the miner server's container.
const (
	StratumPort = 3333
	HTTPPort    = 8080
)

// Label keys on every object the controller makes. Its informer watches
// the pods carrying LabelManagedBy=ManagedBy and LabelInstance=Config.Name.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelName      = "app.kubernetes.io/name"
	LabelRole      = "hashfleet.io/role"
	LabelServerUID = "hashfleet.io/server-uid" // worker: the server pod it mines for
	ManagedBy      = "hashfleet-controller"
)

// Config configures a Controller. The node RPC password never passes
// through the controller: the server pod reads it from the Secret
// RPCSecret through a secretKeyRef.
type Config struct {
	Client    kubernetes.Interface // required
	Namespace string               // required: where the pods, Service, Lease and Events live
	// Name names this fleet (default "hashfleet"): the instance label, the
	// Service and the server pod ("NAME-server"), the workers
	// ("NAME-worker-…") and the Lease ("NAME-controller").
	Name            string
	Image           string            // required: the hashfleet image
	ImagePullPolicy corev1.PullPolicy // default IfNotPresent

	NodeRPC    string // required: node JSON-RPC URL as the server pod reaches it
	RPCUser    string
	Payout     string // required
	Network    string // default "regtest"
	WorkerUser string // Stratum user of the workers; default "hashfleet"
	// RPCSecret is the Secret holding the node RPC password under
	// RPCSecretKey (default "rpc-password"); "" = no password.
	RPCSecret    string
	RPCSecretKey string

	// DialPodIP: workers dial the server pod's IP instead of the Service
	// (for clusters without cluster DNS or a Service proxy; each worker
	// belongs to one server incarnation anyway).
	DialPodIP bool

	ServerCPUs float64 // cpu request of the server; default 1
	ServerMem  float64 // MiB; default 256
	WorkerMem  float64 // MiB per worker; default 128
	Policy     fleet.Policy

	// LeaderElection: act only while holding the Lease LeaseName (default
	// "NAME-controller") as Identity (default the host name), so that
	// several replicas can run.
	LeaderElection bool
	LeaseName      string
	Identity       string
	LeaseDuration  time.Duration // default 15 s
	RenewDeadline  time.Duration // default 10 s
	RetryPeriod    time.Duration // default 2 s

	Resync      time.Duration // reconcile at least this often; default 30 s
	CallTimeout time.Duration // per API call; default 30 s

	Logger     *slog.Logger
	Registerer prometheus.Registerer // metrics; nil = not registered
}

// Validate checks the configuration without changing it.
func (c *Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("kube: a Kubernetes client is required"))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("kube: a namespace (--namespace) is required"))
	} else if e := validation.IsDNS1123Label(c.Namespace); len(e) > 0 {
		errs = append(errs, fmt.Errorf("kube: namespace %q: %v", c.Namespace, e))
	}
	if c.Name != "" {
		if e := validation.IsDNS1035Label(c.Name); len(e) > 0 || len(c.Name) > 40 {
			errs = append(errs, fmt.Errorf("kube: name %q: want a DNS-1035 label of at most 40 characters", c.Name))
		}
	}
	if c.Image == "" {
		errs = append(errs, errors.New("kube: an image (--image) is required"))
	}
	if c.NodeRPC == "" {
		errs = append(errs, errors.New("kube: the node RPC URL (--node-rpc) is required"))
	}
	if c.Payout == "" {
		errs = append(errs, errors.New("kube: a payout address (--payout) is required"))
	} else if err := fleet.CheckPayout(c.Network, c.Payout); err != nil {
		errs = append(errs, fmt.Errorf("kube: %w", err))
	}
	p := c.Policy
	if p.WorkerCPUs < 0 || p.MaxWorkers < 0 || p.MaxCPUs < 0 || c.ServerCPUs < 0 || c.ServerMem < 0 || c.WorkerMem < 0 {
		errs = append(errs, errors.New("kube: sizes and caps must not be negative"))
	}
	if p.MaxCPUs > 0 && p.WorkerCPUs > p.MaxCPUs {
		errs = append(errs, fmt.Errorf("kube: worker cpus %.3g exceed max cpus %.3g", p.WorkerCPUs, p.MaxCPUs))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	c.Name = cmp.Or(c.Name, "hashfleet")
	c.ImagePullPolicy = cmp.Or(c.ImagePullPolicy, corev1.PullIfNotPresent)
	c.Network = cmp.Or(c.Network, "regtest")
	c.WorkerUser = cmp.Or(c.WorkerUser, "hashfleet")
	c.RPCSecretKey = cmp.Or(c.RPCSecretKey, "rpc-password")
	c.ServerCPUs = cmp.Or(c.ServerCPUs, 1)
	c.ServerMem = cmp.Or(c.ServerMem, 256)
	c.WorkerMem = cmp.Or(c.WorkerMem, 128)
	c.LeaseName = cmp.Or(c.LeaseName, c.Name+"-controller")
	if c.Identity == "" {
		c.Identity, _ = os.Hostname()
	}
	c.LeaseDuration = cmp.Or(c.LeaseDuration, 15*time.Second)
	c.RenewDeadline = cmp.Or(c.RenewDeadline, 10*time.Second)
	c.RetryPeriod = cmp.Or(c.RetryPeriod, 2*time.Second)
	c.Resync = cmp.Or(c.Resync, 30*time.Second)
	c.CallTimeout = cmp.Or(c.CallTimeout, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Policy = c.Policy.WithDefaults()
	return c
}

// serverName is the server pod's fixed name.
func (c *Config) serverName() string { return c.Name + "-server" }

// serviceAddr is host:port of the Stratum Service, as workers dial it.
func (c *Config) serviceAddr() string {
	return fmt.Sprintf("%s.%s.svc:%d", c.Name, c.Namespace, StratumPort)
}

// selector is the label selector of the fleet's pods.
func (c *Config) selector() string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelInstance + "=" + c.Name
}
