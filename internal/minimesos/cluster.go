// Package minimesos runs an embedded Mesos-compatible cluster: one master
// (minimesos/master) and N local agents (minimesos/agent) registered with
// it, served on one listener. `hashfleet master` and `hashfleet demo` both
// run a Cluster.
package minimesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
	"github.com/hashfleet/hashfleet/internal/obs"
)

// Config configures a Cluster.
type Config struct {
	Agents        int    // local agents, 0 or more
	Resources     string // each agent's resources, Mesos --resources syntax
	Containerizer string // agent.ContainerizerProcess or agent.ContainerizerDocker
	WorkDir       string // task sandboxes: WorkDir/agent-N
	// Hostname the master and agents advertise; "" = the listener's host,
	// or localhost when it is bound on all interfaces.
	Hostname     string
	DockerSocket string // for ContainerizerDocker
	ZK           string // master.Config.ZK
	// MaxFrameworks and MaxFrameworksPerAddr: master.Config's limits.
	MaxFrameworks, MaxFrameworksPerAddr int
	// SwitchUser: agent.Config.SwitchUser for every local agent.
	SwitchUser bool
	// Credentials (principal -> secret), when non-nil, turn on basic
	// authentication of the scheduler API.
	Credentials map[string]string
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // nil: a fresh registry served on /metrics
}

// Cluster is a master with its local agents. Run it once; Ready and
// Master may be called from any goroutine.
type Cluster struct {
	cfg    Config
	res    []mesos.Resource
	ready  chan struct{}
	master *master.Master // set before ready is closed
}

// New checks cfg and returns a Cluster ready to Run.
func New(cfg Config) (*Cluster, error) {
	if cfg.Agents < 0 {
		return nil, fmt.Errorf("minimesos: %d agents: want 0 or more", cfg.Agents)
	}
	if cfg.Containerizer != agent.ContainerizerProcess && cfg.Containerizer != agent.ContainerizerDocker {
		return nil, fmt.Errorf("minimesos: containerizer %q: want process or docker", cfg.Containerizer)
	}
	res, err := agent.ParseResources(cfg.Resources)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cluster{cfg: cfg, res: res, ready: make(chan struct{})}, nil
}

// Ready is closed once every agent is registered with the master.
func (c *Cluster) Ready() <-chan struct{} { return c.ready }

// Master is the cluster's master; nil before Ready is closed.
func (c *Cluster) Master() *master.Master {
	select {
	case <-c.ready:
		return c.master
	default:
		return nil
	}
}

// Run serves the master on ln (which it closes) and runs the agents until
// ctx ends. It returns after the agents have killed their tasks.
func (c *Cluster) Run(ctx context.Context, ln net.Listener) error {
	cfg := c.cfg
	zs := []string{agent.ContainerizerProcess}
	if cfg.Containerizer == agent.ContainerizerDocker {
		if err := agent.DockerAvailable(ctx, cfg.DockerSocket); err != nil {
			ln.Close()
			return fmt.Errorf("minimesos: docker containerizer: no Docker Engine at %s: %w", cfg.DockerSocket, err)
		}
		zs = append(zs, agent.ContainerizerDocker)
	}
	var gatherer prometheus.Gatherer
	if cfg.Registerer == nil {
		reg := obs.NewRegistry()
		cfg.Registerer, gatherer = reg, reg
	}
	host := advertisedHost(cfg.Hostname, ln.Addr())
	m, err := master.New(master.Config{Addr: ln.Addr().String(), Hostname: host,
		Logger: cfg.Logger, Registerer: cfg.Registerer, ZK: cfg.ZK, Credentials: cfg.Credentials,
		MaxFrameworks: cfg.MaxFrameworks, MaxFrameworksPerAddr: cfg.MaxFrameworksPerAddr})
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
	g.Go(func() error { return m.Run(gctx) })
	g.Go(func() error { return obs.Serve(gctx, ln, handler) })
	if err := c.startAgents(gctx, g, m, host, zs, cfg.Registerer); err != nil {
		cancel()
		return errors.Join(err, g.Wait())
	}
	c.master = m
	close(c.ready)
	return g.Wait()
}

// startAgents creates, registers and starts the local agents in g.
func (c *Cluster) startAgents(ctx context.Context, g *errgroup.Group, m *master.Master, host string, zs []string, reg prometheus.Registerer) error {
	cfg := c.cfg
	for i := range cfg.Agents {
		a, err := agent.New(agent.Config{
			Hostname: host, Resources: c.res, WorkDir: filepath.Join(cfg.WorkDir, fmt.Sprintf("agent-%d", i)),
			Containerizers: zs, DockerSocket: cfg.DockerSocket, SwitchUser: cfg.SwitchUser,
			Logger: cfg.Logger.With("agent", i), Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"agent": fmt.Sprint(i)}, reg),
		})
		if err != nil {
			return err
		}
		id, err := m.RegisterAgent(ctx, host, c.res, a)
		if err != nil {
			return fmt.Errorf("minimesos: register agent %d: %w", i, err)
		}
		g.Go(func() error { return a.Run(ctx, id, m) })
	}
	return nil
}

// advertisedHost is the configured hostname, else the listener's host,
// else (bound on all interfaces) localhost.
func advertisedHost(configured string, addr net.Addr) string {
	if configured != "" {
		return configured
	}
	if h, _, err := net.SplitHostPort(addr.String()); err == nil && h != "0.0.0.0" && h != "::" {
		return h
	}
	return "localhost"
}
