package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/dashboard/feed"
	"github.com/hashfleet/hashfleet/internal/dockerapi"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/minimesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/obs"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// demoConfig is what `hashfleet demo` runs.
type demoConfig struct {
	Workers       int           // worker tasks (1 cpu each)
	Blocks        int           // exit 0 after this many accepted blocks; 0 = run until interrupted
	HTTPListen    string        // dashboard + scheduler API + /metrics
	JSON          bool          // print one JSON summary instead of progress lines
	Containerizer string        // process or docker
	Image         string        // docker image for --containerizer docker
	DockerSocket  string        // Docker Engine socket for --containerizer docker
	Timeout       time.Duration // give up (exit non-zero) after this long; 0 = never
	LogLevel      string        // component logs on stderr
	LogFormat     string
	KeepDir       bool   // keep the work directory (sandboxes, logs) after exit
	ListenHost    string // what the node RPC, the master and the server task bind (process containerizer)
}

func newDemoCmd() *cobra.Command {
	cfg := demoConfig{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on this machine: regtest node, Mesos master and agent, scheduler, server, workers",
		Long: `demo starts an embedded regtest node (btcd's consensus code), an embedded
Mesos-compatible master with a local agent, and the scheduler, which launches
the miner server and the workers as tasks of the agent (processes running this
same binary, fetched from the scheduler over HTTP). It prints progress and the
dashboard URL; with --blocks N it exits 0 once the node has accepted N blocks
mined by the workers. Ctrl-C stops everything; no process is left behind.

With --containerizer docker the server and the workers run as containers of
--image (deploy/docker/build.sh builds it) on a user-defined bridge network
the demo creates, which the scheduler names in its tasks (Mesos USER
networking); the node RPC listens on that network's gateway address so the
server container can reach it, and the workers reach the server through its
port mapping (a port from the agent's offered range, bound to the gateway
address only). The network and every container are removed on exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Workers, "workers", 2, "worker tasks to run (1 cpu and 1 hashing thread each)")
	f.IntVar(&cfg.Blocks, "blocks", 0, "exit once the node has accepted this many new blocks (0: run until interrupted)")
	f.StringVar(&cfg.HTTPListen, "http-listen", "127.0.0.1:8080", "dashboard, scheduler API and /metrics listen address (port 0: any free port)")
	f.BoolVar(&cfg.JSON, "json", false, "print one JSON summary object at the end instead of progress lines")
	f.StringVar(&cfg.Containerizer, "containerizer", "process", "how the agent runs tasks: process or docker")
	f.StringVar(&cfg.Image, "image", "hashfleet:latest", "image for --containerizer docker (build it with deploy/docker/build.sh)")
	f.StringVar(&cfg.DockerSocket, "docker-socket", "/var/run/docker.sock", "Docker Engine socket for --containerizer docker")
	f.DurationVar(&cfg.Timeout, "timeout", 0, "fail if --blocks are not reached within this long (0: no limit)")
	f.StringVar(&cfg.LogLevel, "log-level", "warn", "component log level on stderr: debug, info, warn, error")
	f.StringVar(&cfg.LogFormat, "log-format", "text", "component log format: text or json")
	f.BoolVar(&cfg.KeepDir, "keep", false, "keep the work directory (task sandboxes with their stdout/stderr) after exit")
	f.StringVar(&cfg.ListenHost, "listen-host", "127.0.0.1", "IP address the node RPC, the master and the miner server task listen on (0.0.0.0: all interfaces); with --containerizer docker they use the demo network's gateway")
	return cmd
}

// demoSummary is the --json output (and the closing progress line).
type demoSummary struct {
	BlocksAccepted int   `json:"blocks_accepted"`
	Height         int64 `json:"height"`
	// HashesPerSecond is Hashes / HashingSeconds: the work the server
	// credited the workers with (each accepted share of difficulty d is
	// d·2³² hashes expected) over the time since the first worker ran. A
	// short run gets its true average, not a rate estimator's warm-up.
	HashesPerSecond   float64 `json:"hashes_per_second"`
	Hashes            float64 `json:"hashes"`
	HashingSeconds    float64 `json:"hashing_seconds"`
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	FirstBlockSeconds float64 `json:"first_block_seconds,omitempty"` // absent when no block was found
	Workers           int     `json:"workers"`
	SharesAccepted    uint64  `json:"shares_accepted"`
	DashboardURL      string  `json:"dashboard_url"`
	Payout            string  `json:"payout_address"`
	Containerizer     string  `json:"containerizer"`
}

var errDemoDone = errors.New("demo: target reached")

// check validates the flags and fills in the listen host.
func (cfg *demoConfig) check() error {
	if cfg.Workers < 1 {
		return fmt.Errorf("demo: --workers %d: want at least 1", cfg.Workers)
	}
	if cfg.Blocks < 0 {
		return fmt.Errorf("demo: --blocks %d: want 0 or more", cfg.Blocks)
	}
	if cfg.Containerizer != agent.ContainerizerProcess && cfg.Containerizer != agent.ContainerizerDocker {
		return fmt.Errorf("demo: --containerizer %q: want process or docker", cfg.Containerizer)
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "127.0.0.1"
	}
	if net.ParseIP(cfg.ListenHost) == nil {
		return fmt.Errorf("demo: --listen-host %q: want an IP address such as 127.0.0.1 or 0.0.0.0", cfg.ListenHost)
	}
	return nil
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, cfg demoConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	log, err := obs.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := &demo{cfg: cfg, log: log, start: time.Now(), reg: obs.NewRegistry(), say: func(format string, args ...any) {
		if !cfg.JSON {
			fmt.Fprintf(stdout, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}}
	if d.dir, err = os.MkdirTemp("", "hashfleet-demo-"); err != nil {
		return fmt.Errorf("demo: work dir: %w", err)
	}
	if cfg.KeepDir {
		defer d.say("work directory kept: %s", d.dir)
	} else {
		defer os.RemoveAll(d.dir)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("demo: --timeout %s reached before %d blocks", cfg.Timeout, cfg.Blocks))
		defer c()
	}
	if cfg.Containerizer == agent.ContainerizerDocker {
		dd, err := setupDockerDemo(ctx, cfg.DockerSocket, cfg.Image, d.agentsDir(), log.With("component", "docker"))
		if err != nil {
			return err
		}
		defer dd.Close() // after g.Wait: the agent has removed its containers by then
		d.docker = dd
		d.say("docker    network %s (gateway %s), image %s", dd.Name, dd.Gateway, cfg.Image)
	}
	g, gctx := errgroup.WithContext(ctx)
	// Whatever way this returns, everything started is stopped and has
	// cleaned up (the node's chain, task sandboxes) before the work
	// directory goes.
	defer func() { cancel(); _ = g.Wait() }()
	sum, err := d.startAll(gctx, g)
	if err != nil {
		return err
	}
	return d.finish(ctx, stdout, g.Wait(), sum)
}

// demo is one run of `hashfleet demo`: what its phases share.
type demo struct {
	cfg    demoConfig
	log    *slog.Logger
	say    func(string, ...any)
	start  time.Time
	dir    string               // work directory
	reg    *prometheus.Registry // /metrics: the master's, the scheduler's, Go's and the process's
	docker *dockerapi.Network   // nil: process containerizer
	// rpcUser and rpcPass: the node's RPC credentials (random password).
	rpcUser, rpcPass string
}

func (d *demo) agentsDir() string { return filepath.Join(d.dir, "agents") }

// hosts returns what the node RPC binds and what the agent advertises.
// With Docker, what containers must reach is bound on the gateway address
// of the demo's own bridge network; otherwise on --listen-host (loopback
// unless told otherwise; bound on all interfaces, dialled on loopback).
func (d *demo) hosts() (bind, agentHost string) {
	if d.docker != nil {
		return d.docker.Gateway, d.docker.Gateway
	}
	bind, agentHost = d.cfg.ListenHost, d.cfg.ListenHost
	if net.ParseIP(agentHost).IsUnspecified() {
		agentHost = "127.0.0.1"
	}
	return bind, agentHost
}

// startAll starts the node, the cluster, the scheduler with the dashboard,
// and the progress printer in g; the summary fills in as it runs.
func (d *demo) startAll(ctx context.Context, g *errgroup.Group) (*demoSummary, error) {
	nodeURL, nodeRPC, err := d.startNode(ctx, g)
	if err != nil {
		return nil, err
	}
	payout, err := newRegtestAddress()
	if err != nil {
		return nil, err
	}
	d.say("node      regtest, RPC %s, payout %s", nodeURL, payout)
	masterAddr, err := d.startCluster(ctx, g)
	if err != nil {
		return nil, err
	}
	sched, ln, err := d.startScheduler(ctx, g, nodeURL, masterAddr, payout)
	if err != nil {
		return nil, err
	}
	src := feed.New(sched, "http://"+masterAddr, nodeRPC)
	dash, err := d.serveHTTP(ctx, g, ln, sched, src)
	if err != nil {
		return nil, err
	}
	sum := &demoSummary{Workers: d.cfg.Workers, DashboardURL: "http://" + ln.Addr().String() + "/", Payout: payout, Containerizer: d.cfg.Containerizer}
	g.Go(func() error { return demoProgress(ctx, d.cfg, nodeRPC, sched, dash, src, d.start, sum, d.say) })
	return sum, nil
}

// startNode starts the node, its chain in the work directory. The RPC
// password is random and reaches the server task only through its
// environment.
func (d *demo) startNode(ctx context.Context, g *errgroup.Group) (string, *chain.Client, error) {
	bindHost, _ := d.hosts()
	d.rpcUser, d.rpcPass = "hashfleet", randomHex(16)
	nd, err := node.New(node.Config{
		DataDir: filepath.Join(d.dir, "node"), RPCListen: net.JoinHostPort(bindHost, "0"), RPCUser: d.rpcUser, RPCPassword: d.rpcPass,
		Logger: d.log.With("component", "node"),
	})
	if err != nil {
		return "", nil, fmt.Errorf("demo: node: %w", err)
	}
	g.Go(func() error { return nd.Run(ctx) })
	rpc, err := chain.New(chain.Config{URL: nd.URL(), User: d.rpcUser, Password: d.rpcPass, Logger: d.log.With("component", "demo-rpc")})
	if err != nil {
		return "", nil, fmt.Errorf("demo: node client: %w", err)
	}
	return nd.URL(), rpc, nil
}

// startCluster starts the master and its agent (the same code as
// `hashfleet master`) and returns once the agent is registered.
func (d *demo) startCluster(ctx context.Context, g *errgroup.Group) (string, error) {
	_, agentHost := d.hosts()
	c, err := minimesos.New(minimesos.Config{
		Agents: 1, Resources: fmt.Sprintf("cpus:%d;mem:%d;disk:10240;ports:[31000-31999]", d.cfg.Workers+1, 512+256*d.cfg.Workers),
		WorkDir: d.agentsDir(), Containerizer: d.cfg.Containerizer, Hostname: agentHost,
		DockerSocket: d.cfg.DockerSocket, Logger: d.log.With("component", "master"), Registerer: d.reg,
	})
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(d.cfg.ListenHost, "0"))
	if err != nil {
		return "", fmt.Errorf("demo: master listen: %w", err)
	}
	g.Go(func() error { return c.Run(ctx, ln) })
	select {
	case <-c.Ready():
	case <-ctx.Done():
		return "", fmt.Errorf("demo: master: %w", errors.Join(context.Cause(ctx), g.Wait()))
	}
	d.say("master    http://%s (embedded, 1 agent, %d cpus, %s containerizer)", ln.Addr(), d.cfg.Workers+1, d.cfg.Containerizer)
	return ln.Addr().String(), nil
}

// startScheduler listens for the scheduler's HTTP API (which serves the
// binary to the agent) and the dashboard, and starts the scheduler.
func (d *demo) startScheduler(ctx context.Context, g *errgroup.Group, nodeURL, masterAddr, payout string) (*scheduler.Scheduler, net.Listener, error) {
	ln, err := net.Listen("tcp", d.cfg.HTTPListen)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: --http-listen %s: %w (choose another with --http-listen 127.0.0.1:0)", d.cfg.HTTPListen, err)
	}
	httpAddr := ln.Addr().String()
	scfg := scheduler.Config{
		Master: masterAddr, NodeRPC: nodeURL, RPCUser: d.rpcUser, RPCPassword: d.rpcPass,
		Payout: payout, Network: "regtest", FrameworkName: "hashfleet-demo",
		BinaryURL: "http://" + httpAddr + "/bin/hashfleet", WebUIURL: "http://" + httpAddr + "/",
		StateDir:       filepath.Join(d.dir, "scheduler"),
		HealthDelay:    300 * time.Millisecond,
		HealthInterval: time.Second,
		KillGrace:      3 * time.Second,
		Policy:         scheduler.PolicyConfig{WorkerCPUs: 1, MaxWorkers: d.cfg.Workers, BackoffMin: time.Second, BackoffMax: 30 * time.Second},
		Logger:         d.log.With("component", "scheduler"),
		Registerer:     d.reg,
		// The server task binds --listen-host, not all interfaces.
		ServerListenHost: d.cfg.ListenHost,
	}
	if d.docker != nil {
		scfg.TaskMode, scfg.Image = scheduler.ModeDocker, d.cfg.Image
		scfg.DockerNetwork, scfg.DockerNetworkName = mesos.NetworkUser, d.docker.Name
	}
	sched, err := scheduler.New(scfg)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("demo: scheduler: %w", err)
	}
	g.Go(func() error { return sched.Run(ctx) })
	return sched, ln, nil
}

// serveHTTP serves the scheduler's API, the binary, the dashboard and
// /metrics on ln.
func (d *demo) serveHTTP(ctx context.Context, g *errgroup.Group, ln net.Listener, sched *scheduler.Scheduler, src *feed.Source) (*dashboard.Server, error) {
	exe, err := os.Executable()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: own executable: %w", err)
	}
	dash, err := dashboard.New(dashboard.Config{Source: src, Blocks: src, Logger: d.log.With("component", "dashboard")})
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := obs.NewMux(d.reg, func() error {
		if !sched.Status().ServerReady {
			return errors.New("miner server not ready")
		}
		return nil
	})
	sched.Register(mux, exe)
	mux.Handle("/", dash.Handler())
	g.Go(func() error { return dash.Run(ctx) })
	g.Go(func() error { return obs.Serve(ctx, ln, mux) })
	d.say("dashboard http://%s/", ln.Addr())
	return dash, nil
}

// finish turns the group's error into the command's (reaching --blocks
// and Ctrl-C are success, --timeout is its cause) and prints the summary.
func (d *demo) finish(ctx context.Context, stdout io.Writer, err error, sum *demoSummary) error {
	sum.ElapsedSeconds = time.Since(d.start).Seconds()
	if errors.Is(err, errDemoDone) {
		err = nil
	} else if err == nil || errors.Is(err, context.Canceled) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause // --timeout
		} else {
			err = nil // Ctrl-C
		}
	}
	if d.cfg.JSON {
		if e := json.NewEncoder(stdout).Encode(sum); e != nil && err == nil {
			err = e
		}
	} else {
		d.say("%s", sum.line())
	}
	return err
}

// line is the closing progress line.
func (s demoSummary) line() string {
	first := "no block found"
	if s.BlocksAccepted > 0 {
		first = fmt.Sprintf("first block after %.1fs", s.FirstBlockSeconds)
	}
	return fmt.Sprintf("summary   %d blocks accepted (height %d), %s average over %.1fs of hashing (estimated from %d shares), %.1fs elapsed, %s",
		s.BlocksAccepted, s.Height, miner.FormatHashRate(s.HashesPerSecond), s.HashingSeconds, s.SharesAccepted, s.ElapsedSeconds, first)
}

// demoWatch is demoProgress's state between ticks.
type demoWatch struct {
	cfg      demoConfig
	rpc      *chain.Client
	src      *feed.Source
	start    time.Time
	sum      *demoSummary
	say      func(string, ...any)
	base     int64             // chain height when the demo began
	seen     map[string]string // task id → last state printed
	hashFrom time.Time         // when the first worker ran
	lastRate time.Time
	lastWork time.Time
	burst    blockBurst
}

// demoProgress prints task, hash-rate and block progress and returns
// errDemoDone once cfg.Blocks blocks were accepted.
func demoProgress(ctx context.Context, cfg demoConfig, rpc *chain.Client, sched *scheduler.Scheduler, dash *dashboard.Server, src *feed.Source,
	start time.Time, sum *demoSummary, say func(string, ...any)) error {
	info, err := rpc.GetBlockChainInfo(ctx)
	if err != nil {
		return fmt.Errorf("demo: node: %w", err)
	}
	w := &demoWatch{cfg: cfg, rpc: rpc, src: src, start: start, sum: sum, say: say, base: info.Blocks,
		seen: map[string]string{}, lastRate: time.Now()}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		w.tasks(sched.Status())
		snap, _ := dash.Last()
		sum.SharesAccepted = snap.Server.Accepted
		if time.Since(w.lastRate) >= 5*time.Second && snap.Server.Connections > 0 {
			w.lastRate = time.Now()
			say("mining    %s from %d workers, %d shares accepted, %d rejected", miner.FormatHashRate(snap.Server.HashRate),
				len(snap.Workers), snap.Server.Accepted, sumRejected(snap.Server.Rejected))
		}
		if time.Since(w.lastWork) >= time.Second {
			w.lastWork = time.Now()
			w.work(ctx)
		}
		done, err := w.blocks(ctx)
		if err != nil {
			return err
		}
		if done {
			w.final(ctx)
			return errDemoDone
		}
	}
}

// tasks prints every task state change (with the failure's cause) and
// notes when the first worker ran.
func (w *demoWatch) tasks(st scheduler.Status) {
	for _, t := range st.Tasks {
		state := t.State
		if t.Healthy != nil && *t.Healthy {
			state += " (healthy)"
		}
		if t.Role == scheduler.RoleWorker && t.State == "TASK_RUNNING" && w.hashFrom.IsZero() {
			w.hashFrom = time.Now()
		}
		if w.seen[t.ID] == state {
			continue
		}
		w.seen[t.ID] = state
		extra := ""
		if t.Role == scheduler.RoleServer && len(t.Ports) > 0 {
			extra = " stratum " + net.JoinHostPort(t.Hostname, strconv.FormatUint(t.Ports[0], 10))
		}
		if t.Message != "" && t.State != "TASK_RUNNING" {
			extra += " (" + t.Message + ")"
		}
		w.say("task      %-8s %s %s%s", t.Role, t.ID, state, extra)
	}
}

// work samples the hashes the server credited the workers with, for the
// summary's average rate.
func (w *demoWatch) work(ctx context.Context) {
	if w.hashFrom.IsZero() {
		return
	}
	diff, err := w.src.Work(ctx)
	if err != nil {
		return // the server is (re)starting; the next sample counts
	}
	now := time.Now()
	w.sum.Hashes = diff * (1 << 32)
	w.sum.HashingSeconds = now.Sub(w.hashFrom).Seconds()
	if w.sum.HashingSeconds > 0 {
		w.sum.HashesPerSecond = w.sum.Hashes / w.sum.HashingSeconds
	}
}

// blocks prints each block the node accepted since the last tick and
// reports whether cfg.Blocks is reached.
func (w *demoWatch) blocks(ctx context.Context) (bool, error) {
	info, err := w.rpc.GetBlockChainInfo(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // a transient RPC failure; the next tick retries
	}
	defer func() {
		if n, d, ok := w.burst.due(time.Now()); ok {
			w.say("blocks    %d accepted in the last %.1fs (height %d)", n, d.Seconds(), w.sum.Height)
		}
	}()
	for h := w.base + int64(w.sum.BlocksAccepted) + 1; h <= info.Blocks; h++ {
		var hash string
		if err := w.rpc.Call(ctx, "getblockhash", []any{h}, &hash); err != nil {
			break
		}
		w.sum.BlocksAccepted++
		w.sum.Height = h
		if w.sum.BlocksAccepted == 1 {
			w.sum.FirstBlockSeconds = time.Since(w.start).Seconds()
		}
		w.say("block     #%d accepted at height %d  %s", w.sum.BlocksAccepted, h, hash)
		w.burst.add(time.Now())
		if w.cfg.Blocks > 0 && w.sum.BlocksAccepted >= w.cfg.Blocks {
			return true, nil
		}
	}
	return false, nil
}

// final takes fresh figures once the target is reached. The node accepts
// a block before the server has answered (and counted) the share that
// found it, so give the server's stats a moment to catch up with the chain.
func (w *demoWatch) final(ctx context.Context) {
	for deadline := time.Now().Add(3 * time.Second); ; {
		w.work(ctx)
		snap, err := w.src.Snapshot(ctx)
		if err == nil && snap.Server.Accepted > 0 {
			w.sum.SharesAccepted = snap.Server.Accepted
		}
		if w.sum.SharesAccepted >= uint64(w.sum.BlocksAccepted) || time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// blockBurst counts blocks in windows of at least a second: every block
// is printed, and a window that held burstLines or more blocks also gets
// one count line, so a fast regtest run's rate stays readable.
type blockBurst struct {
	from time.Time // first block of the window; zero = none yet
	n    int
}

const burstLines = 10

func (b *blockBurst) add(now time.Time) {
	if b.from.IsZero() {
		b.from = now
	}
	b.n++
}

// due closes a window that began at least a second before now and
// returns its count and length, ok when it held burstLines or more.
func (b *blockBurst) due(now time.Time) (n int, d time.Duration, ok bool) {
	if b.from.IsZero() || now.Sub(b.from) < time.Second {
		return 0, 0, false
	}
	n, d = b.n, now.Sub(b.from)
	b.from, b.n = time.Time{}, 0
	return n, d, n >= burstLines
}

func sumRejected(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRegtestAddress makes a fresh P2WPKH regtest address for the demo's
// coinbase outputs (its key is not kept).
func newRegtestAddress() (string, error) {
	addr, _, err := btc.NewKey(&chaincfg.RegressionNetParams)
	if err != nil {
		return "", fmt.Errorf("demo: payout address: %w", err)
	}
	return addr, nil
}
