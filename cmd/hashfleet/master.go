package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
	"github.com/hashfleet/hashfleet/internal/obs"
)

// newMasterCmd is `hashfleet master`: the embedded Mesos-compatible master
// with local agents, standalone.
func newMasterCmd() *cobra.Command {
	var (
		o                   masterOptions
		logFormat, logLevel string
	)
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Embedded Mesos-compatible master (v1 scheduler API) with local agents",
		Long: `Runs a Mesos-compatible master serving the v1 scheduler HTTP API
(POST /api/v1/scheduler, RecordIO event stream), a read-only /state document,
/health, and /metrics, plus N local agents that run tasks as process groups
(command executor semantics) or, with --containerizer docker, run
ContainerInfo.DOCKER tasks through the local Docker Engine.

Agent resources use the Mesos --resources syntax, e.g.
  "cpus:2;mem:4096;disk:10240;ports:[31000-32000]"
Task sandboxes live under --work-dir (default: a temporary directory removed
on exit). Stopping the master (SIGINT/SIGTERM) kills every task and removes
every container it started.

With --credentials FILE the scheduler API requires HTTP basic
authentication, like a Mesos master started with
--authenticate_http_frameworks --http_framework_authenticators=basic:
requests without valid credentials get 401 (realm "mesos-master-scheduler"),
and a framework's principal must be the authenticated one. FILE holds
Mesos credentials, either one "principal secret" pair per line or JSON
{"credentials":[{"principal":"p","secret":"s"}]}; keep it mode 0600.
/state, /health and /metrics stay unauthenticated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := obs.NewLogger(os.Stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			o.Logger = log
			return runMasterCmd(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:5050", "HTTP listen address of the master (scheduler API, /state, /metrics)")
	f.IntVar(&o.Agents, "agents", 1, "number of local agents")
	f.StringVar(&o.Resources, "agent-resources", "cpus:2;mem:4096;ports:[31000-32000]", "resources of each agent (Mesos --resources syntax)")
	f.StringVar(&o.Containerizer, "containerizer", agent.ContainerizerProcess, "process, or docker (DOCKER tasks via the Docker Engine; command tasks still run as processes)")
	f.StringVar(&o.WorkDir, "work-dir", "", "directory for task sandboxes (default: a temporary directory, removed on exit)")
	f.StringVar(&o.Hostname, "hostname", "", "hostname the master and agents advertise (default: the listen host, or localhost)")
	f.StringVar(&o.ZK, "zk", "", "zk://host:port[,host:port]/path: register in ZooKeeper like a Mesos master (lowest sequence leads; others redirect)")
	f.StringVar(&o.CredentialsFile, "credentials", "", "file of framework credentials (\"principal secret\" lines, or Mesos JSON); enables HTTP basic authentication of the scheduler API")
	f.BoolVar(&o.SwitchUser, "switch-user", false, "run command tasks as the framework's user (CommandInfo.user first), like Mesos's --switch_user; needs root; a user the machine lacks drops the task")
	f.IntVar(&o.MaxFrameworks, "max-frameworks", 1000, "most registered frameworks (connected, or disconnected within their failover_timeout); new ones beyond it are refused")
	f.IntVar(&o.MaxFrameworksPerAddr, "max-frameworks-per-addr", 100, "most registered frameworks subscribed from one IP address")
	f.StringVar(&o.DockerSocket, "docker-socket", "/var/run/docker.sock", "Docker Engine socket for --containerizer docker")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// masterOptions configures an embedded master with local agents.
type masterOptions struct {
	Listen        string
	Agents        int
	Resources     string
	Containerizer string
	WorkDir       string
	Hostname      string
	DockerSocket  string
	ZK            string
	// MaxFrameworks and MaxFrameworksPerAddr: master.Config's limits.
	MaxFrameworks, MaxFrameworksPerAddr int
	// SwitchUser: agent.Config.SwitchUser for every local agent.
	SwitchUser bool
	// CredentialsFile is read by runMasterCmd into Credentials.
	CredentialsFile string
	// Credentials (principal -> secret), when non-nil, turn on basic
	// authentication of the scheduler API.
	Credentials map[string]string
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // nil: a fresh registry served on /metrics
}

func runMasterCmd(ctx context.Context, o masterOptions) error {
	if o.CredentialsFile != "" {
		creds, tooOpen, err := master.ReadCredentialsFile(o.CredentialsFile)
		if err != nil {
			return fmt.Errorf("master: --credentials: %w", err)
		}
		if tooOpen {
			o.Logger.Warn("permissions on the credentials file are too open (readable by group or others); chmod 0600 it",
				"file", o.CredentialsFile)
		}
		o.Credentials = creds
	}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "hashfleet-master-")
		if err != nil {
			return fmt.Errorf("master: work dir: %w", err)
		}
		defer os.RemoveAll(dir)
		o.WorkDir = dir
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("master: listen %s: %w", o.Listen, err)
	}
	return serveMaster(ctx, ln, o, func(m *master.Master, agents int) {
		o.Logger.Info("master ready", "url", "http://"+ln.Addr().String()+"/api/v1/scheduler",
			"state", "http://"+ln.Addr().String()+"/state", "agents", agents, "resources", o.Resources,
			"containerizer", o.Containerizer, "work_dir", o.WorkDir,
			"authentication", o.Credentials != nil, "principals", len(o.Credentials))
	})
}

// serveMaster runs a master on ln with o.Agents local agents until ctx
// ends; ready is called once every agent is registered. It returns after
// the agents have killed their tasks.
func serveMaster(ctx context.Context, ln net.Listener, o masterOptions, ready func(*master.Master, int)) error {
	if o.Agents < 0 {
		ln.Close()
		return errors.New("master: --agents must be >= 0")
	}
	if o.Containerizer != agent.ContainerizerProcess && o.Containerizer != agent.ContainerizerDocker {
		ln.Close()
		return fmt.Errorf("master: --containerizer %q: want process or docker", o.Containerizer)
	}
	res, err := agent.ParseResources(o.Resources)
	if err != nil {
		ln.Close()
		return err
	}
	zs := []string{agent.ContainerizerProcess}
	if o.Containerizer == agent.ContainerizerDocker {
		if err := agent.DockerAvailable(ctx, o.DockerSocket); err != nil {
			ln.Close()
			return fmt.Errorf("master: --containerizer docker: no Docker Engine at %s: %w", o.DockerSocket, err)
		}
		zs = append(zs, agent.ContainerizerDocker)
	}
	var gatherer prometheus.Gatherer
	if o.Registerer == nil {
		reg := obs.NewRegistry()
		o.Registerer, gatherer = reg, reg
	}
	host := o.Hostname
	if host == "" {
		if h, _, err := net.SplitHostPort(ln.Addr().String()); err == nil && h != "0.0.0.0" && h != "::" {
			host = h
		} else {
			host = "localhost"
		}
	}
	m, err := master.New(master.Config{Addr: ln.Addr().String(), Hostname: host,
		Logger: o.Logger, Registerer: o.Registerer, ZK: o.ZK, Credentials: o.Credentials,
		MaxFrameworks: o.MaxFrameworks, MaxFrameworksPerAddr: o.MaxFrameworksPerAddr})
	if err != nil {
		ln.Close()
		return err
	}
	var handler http.Handler = m.Handler()
	if gatherer != nil {
		mux := obs.NewMux(gatherer, nil)
		mux.Handle("/", m.Handler())
		handler = mux
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	fail := func(err error) error {
		cancel()
		return errors.Join(err, g.Wait())
	}
	g.Go(func() error { return m.Run(gctx) })
	g.Go(func() error { return obs.Serve(gctx, ln, handler) })
	for i := range o.Agents {
		a, err := agent.New(agent.Config{
			Hostname: host, Resources: res, WorkDir: filepath.Join(o.WorkDir, fmt.Sprintf("agent-%d", i)),
			Containerizers: zs, DockerSocket: o.DockerSocket, SwitchUser: o.SwitchUser,
			Logger: o.Logger.With("agent", i), Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"agent": fmt.Sprint(i)}, o.Registerer),
		})
		if err != nil {
			return fail(err)
		}
		id, err := m.RegisterAgent(gctx, host, res, a)
		if err != nil {
			return fail(fmt.Errorf("master: register agent %d: %w", i, err))
		}
		g.Go(func() error { return a.Run(gctx, id, m) })
	}
	if ready != nil {
		ready(m, o.Agents)
	}
	return g.Wait()
}
