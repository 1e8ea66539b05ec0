package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/dashboard/feed"
	"github.com/hashfleet/hashfleet/internal/fleet"
	"github.com/hashfleet/hashfleet/internal/kube"
	"github.com/hashfleet/hashfleet/internal/obs"
)

// kubeFlags are the scheduler's options that only --backend kubernetes reads.
type kubeFlags struct {
	kubeconfig, namespace, rpcSecret, rpcSecretKey, identity string
	leaderElect, dialPodIP                                   bool
}

func addKubeFlags(fl *pflag.FlagSet, k *kubeFlags) {
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "kubernetes: kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account)")
	fl.StringVar(&k.namespace, "namespace", "", "kubernetes: namespace of the fleet's pods, Service, Lease and Events (default: the kubeconfig's, or the controller pod's own)")
	fl.StringVar(&k.rpcSecret, "rpc-secret", "", "kubernetes: Secret holding the node RPC password; the server pod reads it through a secretKeyRef")
	fl.StringVar(&k.rpcSecretKey, "rpc-secret-key", "rpc-password", "kubernetes: key of the password in --rpc-secret")
	fl.StringVar(&k.identity, "identity", "", "kubernetes: this replica's identity in the leader Lease (default: $POD_NAME, else the host name)")
	fl.BoolVar(&k.dialPodIP, "dial-pod-ip", false, "kubernetes: workers dial the server pod's IP, not the Service (clusters without cluster DNS or Service proxy)")
	fl.BoolVar(&k.leaderElect, "leader-elect", true, "kubernetes: act only while holding the Lease NAME-controller (run several replicas safely)")
}

// mesosOnlyFlags are rejected with --backend kubernetes: they would be
// silently ignored otherwise.
var mesosOnlyFlags = []string{"master", "task-mode", "docker-network", "docker-network-name", "server-listen-host",
	"principal", "secret-file", "master-ca-file", "advertise", "binary-url", "state-dir", "state", "role", "user",
	"failover-timeout", "decline-filter", "reconcile-interval", "teardown", "no-health-check"}

// kubeOnlyFlags are rejected with --backend mesos.
var kubeOnlyFlags = []string{"kubeconfig", "namespace", "rpc-secret", "rpc-secret-key", "identity", "leader-elect", "dial-pod-ip"}

// checkBackendFlags fails on a flag the chosen backend does not read.
func checkBackendFlags(fl *pflag.FlagSet, backend string) error {
	var other []string
	switch backend {
	case "mesos":
		other = kubeOnlyFlags
	case "kubernetes":
		other = mesosOnlyFlags
	default:
		return fmt.Errorf("scheduler: --backend %q: want mesos or kubernetes", backend)
	}
	var bad []string
	for _, name := range other {
		if fl.Changed(name) {
			bad = append(bad, "--"+name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("scheduler: %s not used by --backend %s", strings.Join(bad, ", "), backend)
	}
	return nil
}

// kubeConfig turns the flags into the controller's Config and a client
// (kubeconfig, else in-cluster).
func kubeConfig(f schedulerFlags, log *slog.Logger) (kube.Config, error) {
	k := f.kube
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rest, err := cc.ClientConfig()
	if err != nil {
		return kube.Config{}, fmt.Errorf("scheduler: kubernetes client config: %w", err)
	}
	rest.UserAgent = "hashfleet-controller"
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return kube.Config{}, fmt.Errorf("scheduler: kubernetes client: %w", err)
	}
	ns := k.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return kube.Config{}, fmt.Errorf("scheduler: --namespace: %w", err)
		}
	}
	id := k.identity
	if id == "" {
		id = os.Getenv("POD_NAME")
	}
	return kube.Config{
		Client: client, Namespace: ns, Name: f.name, Image: f.image, NodeRPC: f.nodeRPC, RPCUser: f.rpcUser,
		Payout: f.payout, Network: f.network, RPCSecret: k.rpcSecret, RPCSecretKey: k.rpcSecretKey,
		ServerCPUs: f.serverCPUs, ServerMem: f.serverMem, WorkerMem: f.workerMem,
		Policy:         fleet.Policy{WorkerCPUs: f.workerCPUs, MaxWorkers: f.maxWorkers, MaxCPUs: f.maxCPUs},
		LeaderElection: k.leaderElect, Identity: id, DialPodIP: k.dialPodIP, Logger: log,
	}, nil
}

// runKube runs the Kubernetes controller and its HTTP side (status API,
// metrics, dashboard).
func runKube(ctx context.Context, f schedulerFlags, log *slog.Logger) error {
	cfg, err := kubeConfig(f, log)
	if err != nil {
		return err
	}
	reg := obs.NewRegistry()
	cfg.Registerer = reg
	c, err := kube.New(cfg)
	if err != nil {
		return err
	}
	log.Info("scheduler: kubernetes backend", "namespace", cfg.Namespace, "name", f.name, "image", f.image, "leader_elect", cfg.LeaderElection)
	g, gctx := errgroup.WithContext(ctx)
	if f.httpListen != "" {
		if err := serveKubeHTTP(gctx, g, f, c, reg, log); err != nil {
			return err
		}
	}
	g.Go(func() error { return c.Run(gctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// serveKubeHTTP serves /api/status, /metrics, /healthz, /readyz (ready
// while this replica leads with synced caches, or stands by) and the
// dashboard.
func serveKubeHTTP(ctx context.Context, g *errgroup.Group, f schedulerFlags, c *kube.Controller, reg *prometheus.Registry, log *slog.Logger) error {
	rpcPassword, err := readSecret("--rpc-password-file", f.rpcPasswordFile, envRPCPassword)
	if err != nil {
		return err
	}
	mux := obs.NewMux(reg, func() error {
		if st := c.Status(); st.IsLeader && !st.Synced {
			return errors.New("leading, informers not synced")
		}
		return nil
	})
	c.Register(mux)
	nodeRPC, err := chain.New(chain.Config{URL: f.nodeRPC, User: f.rpcUser, Password: rpcPassword,
		Retries: -1, Logger: log.With("component", "dashboard-rpc")})
	if err != nil {
		return fmt.Errorf("scheduler: dashboard node client: %w", err)
	}
	src := feed.NewKube(c, nodeRPC)
	dash, err := dashboard.New(dashboard.Config{Source: src, Blocks: src, Logger: log.With("component", "dashboard")})
	if err != nil {
		return err
	}
	mux.Handle("/", dash.Handler())
	ln, err := net.Listen("tcp", f.httpListen)
	if err != nil {
		return fmt.Errorf("scheduler: --http-listen: %w", err)
	}
	g.Go(func() error { return dash.Run(ctx) })
	log.Info("scheduler: status API", "addr", ln.Addr().String())
	g.Go(func() error { return obs.Serve(ctx, ln, mux) })
	return nil
}
