package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/dashboard/feed"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/obs"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

type schedulerFlags struct {
	master, nodeRPC, payout, network, rpcUser, rpcPasswordFile          string
	taskMode, image, dockerNetwork, dockerNetworkName, serverListenHost string
	forcePull                                                           bool
	maxWorkers                                                          int
	maxCPUs, workerCPUs, workerMem, serverCPUs, serverMem               float64
	principal, secretFile, masterCAFile                                 string
	httpListen, advertise, binaryURL                                    string
	stateDir, stateURL                                                  string
	role, user, name                                                    string
	failoverTimeout, refuse, killGrace, reconcile                       time.Duration
	noHealthCheck, teardown                                             bool
	logFormat, logLevel                                                 string
	backend                                                             string
	kube                                                                kubeFlags
}

func newSchedulerCmd() *cobra.Command {
	var f schedulerFlags
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the framework that launches the miner server and workers (on Mesos or Kubernetes)",
		Long: `Run the hashfleet framework: the Mesos framework (v1 HTTP scheduler API,
the default), or with --backend kubernetes the Kubernetes controller
(docs/kubernetes.md: server pod behind a Service with a readiness probe,
worker pods only while it is Ready, leader election through a Lease, the RPC
password from a Secret through --rpc-secret).

It launches one miner server ("hashfleet server") on an offer with enough
cpus, memory and two free ports, waits until it is running and healthy, then
launches workers ("hashfleet worker") told the server's address, up to
--max-workers / --max-cpus. When the server dies every worker is killed and a
new server is launched (with backoff if it keeps failing).

The node RPC password is read from --rpc-password-file or the
` + envRPCPassword + ` environment variable and handed to the server task only
through its environment. The Mesos secret is read from --secret-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkBackendFlags(cmd.Flags(), f.backend); err != nil {
				return err
			}
			return runScheduler(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.master, "master", "", `Mesos master: host:port[,host:port], http(s)://host:port, zk://host:2181/mesos, or "embedded" (via "hashfleet demo")`)
	fl.StringVar(&f.nodeRPC, "node-rpc", "", "node JSON-RPC URL as reachable from the agents (required)")
	fl.StringVar(&f.payout, "payout", "", "payout address for found blocks (required)")
	fl.StringVar(&f.network, "network", "regtest", "bitcoin network: regtest, testnet, testnet4, signet or mainnet (--payout must be an address of it)")
	fl.StringVar(&f.rpcUser, "rpc-user", "", "node RPC user")
	fl.StringVar(&f.rpcPasswordFile, "rpc-password-file", "", "file holding the node RPC password (else env "+envRPCPassword+")")
	fl.StringVar(&f.taskMode, "task-mode", "command", "how tasks run: command (fetch this binary) or docker")
	fl.StringVar(&f.image, "image", "hashfleet:latest", "image of the tasks: --task-mode docker, and every pod with --backend kubernetes")
	fl.StringVar(&f.dockerNetwork, "docker-network", "BRIDGE", "Docker network for --task-mode docker: BRIDGE (port mappings), HOST, or USER (port mappings, with --docker-network-name)")
	fl.StringVar(&f.dockerNetworkName, "docker-network-name", "", "user-defined Docker network the tasks join with --docker-network USER")
	fl.StringVar(&f.serverListenHost, "server-listen-host", "0.0.0.0", "IP address the miner server task binds its ports on (command tasks, --docker-network HOST); workers on other agents must reach it")
	fl.BoolVar(&f.forcePull, "force-pull", false, "always pull the Docker image")
	fl.IntVar(&f.maxWorkers, "max-workers", 8, "maximum number of worker tasks (0 = no limit)")
	fl.Float64Var(&f.maxCPUs, "max-cpus", 0, "maximum cpus used by all workers (0 = no limit)")
	fl.Float64Var(&f.workerCPUs, "worker-cpus", 0, "cpus per worker (0 = all whole cpus of the offer)")
	fl.Float64Var(&f.workerMem, "worker-mem", 128, "memory per worker, MB")
	fl.Float64Var(&f.serverCPUs, "server-cpus", 1, "cpus for the server")
	fl.Float64Var(&f.serverMem, "server-mem", 256, "memory for the server, MB")
	fl.StringVar(&f.principal, "principal", "", "Mesos principal (HTTP basic auth)")
	fl.StringVar(&f.secretFile, "secret-file", "", "file holding the Mesos secret for --principal")
	fl.StringVar(&f.masterCAFile, "master-ca-file", "", "PEM CA bundle to verify an https master")
	fl.StringVar(&f.httpListen, "http-listen", "0.0.0.0:8090", "status API and binary server listen address (empty = off)")
	fl.StringVar(&f.advertise, "advertise", "", "host[:port] the agents use to reach --http-listen (default: this host's name)")
	fl.StringVar(&f.binaryURL, "binary-url", "", "URI of the hashfleet binary for command tasks (default: served by --http-listen)")
	fl.StringVar(&f.stateDir, "state-dir", "hashfleet-scheduler", "directory for the durable scheduler state")
	fl.StringVar(&f.stateURL, "state", "", "keep the state in ZooKeeper instead: zk://host:2181/hashfleet")
	fl.StringVar(&f.role, "role", "*", "Mesos role")
	fl.StringVar(&f.user, "user", "", "user tasks run as (default: current user)")
	fl.StringVar(&f.name, "name", "hashfleet", "framework name; with --backend kubernetes the fleet's name (Service NAME, pods NAME-server and NAME-worker-…, Lease NAME-controller)")
	fl.DurationVar(&f.failoverTimeout, "failover-timeout", 7*24*time.Hour, "how long the master keeps tasks while the scheduler is away")
	fl.DurationVar(&f.refuse, "decline-filter", time.Hour, "refuse_seconds for declined offers")
	fl.DurationVar(&f.killGrace, "kill-grace", 10*time.Second, "grace period between SIGTERM and SIGKILL")
	fl.DurationVar(&f.reconcile, "reconcile-interval", 15*time.Minute, "periodic implicit reconciliation")
	fl.BoolVar(&f.noHealthCheck, "no-health-check", false, "no TCP health check on the server (workers start on TASK_RUNNING)")
	fl.BoolVar(&f.teardown, "teardown", false, "tear the framework down (kills all its tasks), clear the state, and exit")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.backend, "backend", "mesos", "cluster engine: mesos or kubernetes")
	addKubeFlags(fl, &f.kube)
	return cmd
}

func advertiseBase(listen, advertise string) (string, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--http-listen %q: %w", listen, err)
	}
	host := advertise
	if host == "" {
		h, _, _ := net.SplitHostPort(listen)
		if h == "" || h == "0.0.0.0" || h == "::" {
			h, err = os.Hostname()
			if err != nil {
				return "", fmt.Errorf("--advertise needed: %w", err)
			}
		}
		host = h
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, port)
	}
	return "http://" + host, nil
}

func runScheduler(ctx context.Context, f schedulerFlags) error {
	log, err := obs.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if f.backend == "kubernetes" {
		return runKube(ctx, f, log)
	}
	cfg, binaryPath, err := schedulerConfig(f, log)
	if err != nil {
		return err
	}
	if f.teardown {
		return scheduler.Teardown(ctx, cfg)
	}
	reg := obs.NewRegistry()
	cfg.Registerer = reg
	s, err := scheduler.New(cfg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if f.httpListen != "" {
		if err := serveSchedulerHTTP(gctx, g, f.httpListen, reg, s, cfg, binaryPath); err != nil {
			return err
		}
	}
	g.Go(func() error { return s.Run(gctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// schedulerConfig turns the flags into the scheduler's Config (secrets
// read from their files) and the path of this binary when the scheduler
// serves it to command tasks.
func schedulerConfig(f schedulerFlags, log *slog.Logger) (cfg scheduler.Config, binaryPath string, err error) {
	if f.master == "embedded" {
		return cfg, "", errors.New(`scheduler: --master embedded runs only inside "hashfleet demo" (it starts the in-process master); for a standalone master run "hashfleet master" and pass --master 127.0.0.1:5050`)
	}
	cfg = scheduler.Config{
		Master: f.master, Principal: f.principal, FrameworkName: f.name, User: f.user, Role: f.role,
		FailoverTimeout: f.failoverTimeout, NodeRPC: f.nodeRPC, RPCUser: f.rpcUser, Payout: f.payout, Network: f.network,
		TaskMode: scheduler.TaskMode(f.taskMode), Image: f.image, DockerNetwork: mesos.DockerNetwork(strings.ToUpper(f.dockerNetwork)),
		DockerNetworkName: f.dockerNetworkName, ServerListenHost: f.serverListenHost, ForcePullImage: f.forcePull, NoHealthCheck: f.noHealthCheck, KillGrace: f.killGrace,
		StateDir: f.stateDir, StateURL: f.stateURL, ReconcileInterval: f.reconcile, Logger: log,
		Policy: scheduler.PolicyConfig{
			ServerCPUs: f.serverCPUs, ServerMem: f.serverMem, WorkerCPUs: f.workerCPUs, WorkerMem: f.workerMem,
			MaxWorkers: f.maxWorkers, MaxCPUs: f.maxCPUs, RefuseLong: f.refuse,
		},
	}
	if f.secretFile != "" {
		if cfg.Secret, err = requireSecret("--secret-file", f.secretFile, ""); err != nil {
			return cfg, "", err
		}
	}
	if f.rpcPasswordFile != "" {
		cfg.RPCPassword, err = requireSecret("--rpc-password-file", f.rpcPasswordFile, "")
	} else {
		cfg.RPCPassword, err = readSecret("--rpc-password-file", "", envRPCPassword)
	}
	if err != nil {
		return cfg, "", err
	}
	if f.masterCAFile != "" {
		if cfg.TLS, err = masterTLS(f.masterCAFile); err != nil {
			return cfg, "", err
		}
		cfg.Scheme = "https"
	}
	if f.httpListen != "" {
		base, err := advertiseBase(f.httpListen, f.advertise)
		if err != nil {
			return cfg, "", err
		}
		cfg.WebUIURL = base + "/"
		if cfg.TaskMode == scheduler.ModeCommand && f.binaryURL == "" {
			if binaryPath, err = os.Executable(); err != nil {
				return cfg, "", fmt.Errorf("scheduler: locating this binary to serve it: %w", err)
			}
			cfg.BinaryURL = base + "/bin/hashfleet"
		}
	}
	if f.binaryURL != "" {
		cfg.BinaryURL = f.binaryURL
	}
	return cfg, binaryPath, nil
}

// masterTLS is the client TLS config that trusts the CA bundle in file.
func masterTLS(file string) (*tls.Config, error) {
	pool, err := readCAPool(file)
	if err != nil {
		return nil, fmt.Errorf("--master-ca-file: %w", err)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// readCAPool reads a PEM bundle of CA certificates.
func readCAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// serveSchedulerHTTP serves the status API, the binary, /metrics and the
// dashboard (which reads the scheduler's status, the leading master's
// state, the server task's stats and the node) on listen.
func serveSchedulerHTTP(ctx context.Context, g *errgroup.Group, listen string, reg *prometheus.Registry, s *scheduler.Scheduler, cfg scheduler.Config, binaryPath string) error {
	mux := obs.NewMux(reg, func() error {
		if !s.Status().Connected {
			return errors.New("not subscribed to a master")
		}
		return nil
	})
	s.Register(mux, binaryPath)
	nodeRPC, err := chain.New(chain.Config{URL: cfg.NodeRPC, User: cfg.RPCUser, Password: cfg.RPCPassword,
		Retries: -1, Logger: cfg.Logger.With("component", "dashboard-rpc")})
	if err != nil {
		return fmt.Errorf("scheduler: dashboard node client: %w", err)
	}
	src := feed.New(s, "", nodeRPC)
	dash, err := dashboard.New(dashboard.Config{Source: src, Blocks: src, Logger: cfg.Logger.With("component", "dashboard")})
	if err != nil {
		return err
	}
	mux.Handle("/", dash.Handler())
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("scheduler: --http-listen: %w", err)
	}
	g.Go(func() error { return dash.Run(ctx) })
	cfg.Logger.Info("scheduler: status API", "addr", ln.Addr().String(), "binary_url", cfg.BinaryURL)
	g.Go(func() error { return obs.Serve(ctx, ln, mux) })
	return nil
}
