package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/minimesos"
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

// masterOptions is `hashfleet master`: the cluster plus where it listens
// and the credentials file read into Config.Credentials.
type masterOptions struct {
	minimesos.Config
	Listen          string
	CredentialsFile string
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
	c, err := minimesos.New(o.Config)
	if err != nil {
		return fmt.Errorf("master: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("master: listen %s: %w", o.Listen, err)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop() // ends the goroutine below when Run fails before ready
	go func() {
		select {
		case <-c.Ready():
			o.Logger.Info("master ready", "url", "http://"+ln.Addr().String()+"/api/v1/scheduler",
				"state", "http://"+ln.Addr().String()+"/state", "agents", o.Agents, "resources", o.Resources,
				"containerizer", o.Containerizer, "work_dir", o.WorkDir,
				"authentication", o.Credentials != nil, "principals", len(o.Credentials))
		case <-ctx.Done():
		}
	}()
	return c.Run(ctx, ln)
}
