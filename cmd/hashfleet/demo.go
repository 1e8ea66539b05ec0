package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/dashboard"
	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos/agent"
	"github.com/hashfleet/hashfleet/internal/minimesos/master"
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
	say := func(format string, args ...any) {
		if !cfg.JSON {
			fmt.Fprintf(stdout, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	start := time.Now()

	dir, err := os.MkdirTemp("", "hashfleet-demo-")
	if err != nil {
		return fmt.Errorf("demo: work dir: %w", err)
	}
	if cfg.KeepDir {
		defer say("work directory kept: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("demo: --timeout %s reached before %d blocks", cfg.Timeout, cfg.Blocks))
		defer c()
	}
	// With Docker, what containers must reach (the node RPC, the agent's
	// advertised host for port mappings) is bound on the gateway address of
	// the demo's own bridge network; otherwise on --listen-host (loopback
	// unless told otherwise).
	bindHost, agentHost, agentsDir, dockerNet := cfg.ListenHost, cfg.ListenHost, filepath.Join(dir, "agents"), ""
	if net.ParseIP(agentHost).IsUnspecified() {
		agentHost = "127.0.0.1" // bound on all interfaces: dialled on loopback
	}
	if cfg.Containerizer == agent.ContainerizerDocker {
		dd, err := setupDockerDemo(ctx, cfg.DockerSocket, cfg.Image, agentsDir, log.With("component", "docker"))
		if err != nil {
			return err
		}
		defer dd.close() // after g.Wait: the agent has removed its containers by then
		bindHost, agentHost, dockerNet = dd.Gateway, dd.Gateway, dd.Network
		say("docker    network %s (gateway %s), image %s", dd.Network, dd.Gateway, cfg.Image)
	}
	g, gctx := errgroup.WithContext(ctx)
	// Whatever way this returns, everything started is stopped and has
	// cleaned up (the node's chain, task sandboxes) before the work
	// directory goes.
	defer func() { cancel(); _ = g.Wait() }()

	// 1. The node, its chain in the work directory. The RPC password is
	// random and reaches the server task only through its environment.
	rpcUser, rpcPass := "hashfleet", randomHex(16)
	nd, err := node.New(node.Config{
		DataDir: filepath.Join(dir, "node"), RPCListen: net.JoinHostPort(bindHost, "0"), RPCUser: rpcUser, RPCPassword: rpcPass,
		Logger: log.With("component", "node"),
	})
	if err != nil {
		return fmt.Errorf("demo: node: %w", err)
	}
	g.Go(func() error { return nd.Run(gctx) })
	nodeRPC, err := chain.New(chain.Config{URL: nd.URL(), User: rpcUser, Password: rpcPass, Logger: log.With("component", "demo-rpc")})
	if err != nil {
		return fmt.Errorf("demo: node client: %w", err)
	}
	payout, err := newRegtestAddress()
	if err != nil {
		return err
	}
	say("node      regtest, RPC %s, payout %s", nd.URL(), payout)

	// 2. The master and its agent (the same code as `hashfleet master`).
	reg := obs.NewRegistry() // /metrics: the master's, the scheduler's, Go's and the process's
	mln, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenHost, "0"))
	if err != nil {
		return fmt.Errorf("demo: master listen: %w", err)
	}
	masterAddr := mln.Addr().String()
	masterReady := make(chan struct{})
	g.Go(func() error {
		return serveMaster(gctx, mln, masterOptions{
			Agents: 1, Resources: fmt.Sprintf("cpus:%d;mem:%d;disk:10240;ports:[31000-31999]", cfg.Workers+1, 512+256*cfg.Workers),
			WorkDir: agentsDir, Containerizer: cfg.Containerizer, Hostname: agentHost,
			DockerSocket: cfg.DockerSocket, Logger: log.With("component", "master"), Registerer: reg,
		}, func(*master.Master, int) { close(masterReady) })
	})
	select {
	case <-masterReady:
	case <-gctx.Done():
		return fmt.Errorf("demo: master: %w", errors.Join(context.Cause(gctx), g.Wait()))
	}
	say("master    http://%s (embedded, 1 agent, %d cpus, %s containerizer)", masterAddr, cfg.Workers+1, cfg.Containerizer)

	// 3. The scheduler, its HTTP API (which serves the binary to the agent)
	// and the dashboard on one listener.
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("demo: --http-listen %s: %w (choose another with --http-listen 127.0.0.1:0)", cfg.HTTPListen, err)
	}
	httpAddr := ln.Addr().String()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: own executable: %w", err)
	}
	scfg := scheduler.Config{
		Master: masterAddr, NodeRPC: nd.URL(), RPCUser: rpcUser, RPCPassword: rpcPass,
		Payout: payout, Network: "regtest", FrameworkName: "hashfleet-demo",
		BinaryURL: "http://" + httpAddr + "/bin/hashfleet", WebUIURL: "http://" + httpAddr + "/",
		StateDir:       filepath.Join(dir, "scheduler"),
		HealthDelay:    300 * time.Millisecond,
		HealthInterval: time.Second,
		KillGrace:      3 * time.Second,
		Policy:         scheduler.PolicyConfig{WorkerCPUs: 1, MaxWorkers: cfg.Workers, BackoffMin: time.Second, BackoffMax: 30 * time.Second},
		Logger:         log.With("component", "scheduler"),
		Registerer:     reg,
		// The server task binds --listen-host, not all interfaces.
		ServerListenHost: cfg.ListenHost,
	}
	if cfg.Containerizer == agent.ContainerizerDocker {
		scfg.TaskMode, scfg.Image = scheduler.ModeDocker, cfg.Image
		scfg.DockerNetwork, scfg.DockerNetworkName = mesos.NetworkUser, dockerNet
	}
	sched, err := scheduler.New(scfg)
	if err != nil {
		return fmt.Errorf("demo: scheduler: %w", err)
	}
	g.Go(func() error { return sched.Run(gctx) })

	src := newDashSource(sched, "http://"+masterAddr, nodeRPC)
	dash, err := dashboard.New(dashboard.Config{Source: src, Blocks: src, Logger: log.With("component", "dashboard")})
	if err != nil {
		return err
	}
	mux := obs.NewMux(reg, func() error {
		if !sched.Status().ServerReady {
			return errors.New("miner server not ready")
		}
		return nil
	})
	sched.Register(mux, exe)
	mux.Handle("/", dash.Handler())
	g.Go(func() error { return dash.Run(gctx) })
	g.Go(func() error { return obs.Serve(gctx, ln, mux) })
	say("dashboard http://%s/", httpAddr)

	// 4. Progress until the target or Ctrl-C.
	sum := demoSummary{Workers: cfg.Workers, DashboardURL: "http://" + httpAddr + "/", Payout: payout, Containerizer: cfg.Containerizer}
	g.Go(func() error {
		return demoProgress(gctx, cfg, nodeRPC, sched, dash, src, start, &sum, say)
	})
	err = g.Wait()
	sum.ElapsedSeconds = time.Since(start).Seconds()
	if errors.Is(err, errDemoDone) {
		err = nil
	} else if err == nil || errors.Is(err, context.Canceled) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause // --timeout
		} else {
			err = nil // Ctrl-C
		}
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		if e := enc.Encode(sum); e != nil && err == nil {
			err = e
		}
	} else {
		say("%s", sum.line())
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
		s.BlocksAccepted, s.Height, formatRate(s.HashesPerSecond), s.HashingSeconds, s.SharesAccepted, s.ElapsedSeconds, first)
}

// demoWatch is demoProgress's state between ticks.
type demoWatch struct {
	cfg      demoConfig
	rpc      *chain.Client
	src      *dashSource
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
func demoProgress(ctx context.Context, cfg demoConfig, rpc *chain.Client, sched *scheduler.Scheduler, dash *dashboard.Server, src *dashSource,
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
			say("mining    %s from %d workers, %d shares accepted, %d rejected", formatRate(snap.Server.HashRate),
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
	diff, err := w.src.work(ctx)
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

func formatRate(h float64) string {
	units := []string{"H/s", "kH/s", "MH/s", "GH/s", "TH/s"}
	i := 0
	for h >= 1000 && i < len(units)-1 {
		h /= 1000
		i++
	}
	return fmt.Sprintf("%.2f %s", h, units[i])
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
