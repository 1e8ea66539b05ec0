package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/obs"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// workerPasswordEnv names the environment variable holding the pool password.
const workerPasswordEnv = "HASHFLEET_POOL_PASSWORD"

type workerFlags struct {
	urls                []string
	user, pass          string
	passFile            string
	threads             int
	quiet               bool
	impl                string
	apiListen           string
	logFormat, logLevel string
	benchmark           bool
	benchmarkMiner      bool
	timeLimit           time.Duration
	noRedirect          bool
	extranonceSubscribe bool
	suggestDiff         float64
	noVersionRolling    bool
	tlsCA               string
	statsInterval       time.Duration
}

func newWorkerCmd() *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker -o stratum+tcp://HOST:PORT -u USER [-p PASS] [-t THREADS]",
		Short: "Mine on a Stratum v1 pool with every CPU given (cpuminer-compatible flags)",
		Long: `worker connects to a Stratum v1 pool (the hashfleet server or any public pool)
and hashes SHA-256d on -t threads. -o may be repeated: pools are tried in order
(failover). The password comes from -p, --pass-file, or the environment variable
` + workerPasswordEnv + ` (preferred: it never shows in the process list).
--api-listen serves /api/stats (JSON), /metrics, /healthz and /readyz.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.urls, "url", "o", nil, "pool URL stratum+tcp://HOST:PORT or stratum+ssl://HOST:PORT; repeat for failover")
	fl.StringVarP(&f.user, "user", "u", "", "pool username (often ADDRESS.WORKER)")
	fl.StringVarP(&f.pass, "pass", "p", "", "pool password (visible in the process list; prefer $"+workerPasswordEnv+" or --pass-file)")
	fl.StringVar(&f.passFile, "pass-file", "", "read the pool password from this file")
	fl.IntVarP(&f.threads, "threads", "t", 0, "hashing threads (default: number of CPUs)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no per-thread hash rate lines")
	fl.StringVar(&f.impl, "impl", "auto", "sha256d implementation ("+implNames()+")")
	fl.StringVar(&f.apiListen, "api-listen", "", "serve /api/stats, /metrics, /healthz, /readyz on this address (e.g. 127.0.0.1:4048)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&f.benchmark, "benchmark", false, "hash offline and report the rate, as \"hashfleet bench\" does (-t, --impl, --time-limit); no pool")
	fl.BoolVar(&f.benchmarkMiner, "benchmark-miner", false, "like --benchmark, but through the worker's own hashing threads (the mining code path)")
	fl.DurationVar(&f.timeLimit, "time-limit", 0, "stop after this long (0: run until interrupted; benchmarks default to 10s)")
	fl.BoolVar(&f.noRedirect, "no-redirect", false, "ignore client.reconnect requests to another host")
	fl.BoolVar(&f.extranonceSubscribe, "extranonce-subscribe", false, "send mining.extranonce.subscribe (NiceHash extension)")
	fl.Float64Var(&f.suggestDiff, "suggest-diff", 0, "send mining.suggest_difficulty with this value")
	fl.BoolVar(&f.noVersionRolling, "no-version-rolling", false, "do not negotiate version rolling (mining.configure)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CA certificates for stratum+ssl pools (default: system roots)")
	fl.DurationVar(&f.statsInterval, "stats-interval", 30*time.Second, "hash rate sampling and progress line interval")
	return cmd
}

func implNames() string {
	return "auto, or one this CPU can run: " + benchImplNames() + "; \"hashfleet bench --impl list\" says why others are missing"
}

// workerPassword resolves the pool password: -p, else --pass-file, else
// the environment. It never logs the value.
func workerPassword(cmd *cobra.Command, f *workerFlags, log *slog.Logger) (string, error) {
	passSet := cmd.Flags().Changed("pass")
	if passSet && f.passFile != "" {
		return "", errors.New("worker: give -p or --pass-file, not both")
	}
	switch {
	case passSet:
		log.Warn("pool password given with -p is visible in the process list; prefer $" + workerPasswordEnv + " or --pass-file")
		return f.pass, nil
	case f.passFile != "":
		p, err := readSecret("--pass-file", f.passFile, "")
		if err != nil {
			return "", fmt.Errorf("worker: %w", err)
		}
		return p, nil
	}
	if v, ok := os.LookupEnv(workerPasswordEnv); ok {
		return v, nil
	}
	return "x", nil // the customary placeholder for pools that ignore it
}

func runWorker(ctx context.Context, cmd *cobra.Command, f *workerFlags) error {
	log, err := obs.NewLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if _, err := sha256d.Lookup(f.impl); err != nil {
		return err
	}
	if f.threads < 0 {
		return fmt.Errorf("worker: threads %d < 0", f.threads)
	}
	if f.benchmark {
		return runWorkerBench(ctx, cmd, f)
	}
	im, calib, err := chooseImpl(f.impl)
	if err != nil {
		return err
	}
	if calib != nil {
		log.Info("sha256d implementation chosen by measurement", "impl", im.Name, "measured", calib.String())
	}
	if f.timeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeLimit)
		defer cancel()
	}
	if f.benchmarkMiner {
		return runWorkerBenchmark(ctx, cmd, f, im, log)
	}
	if len(f.urls) == 0 {
		return errors.New("worker: no pool: give -o stratum+tcp://HOST:PORT (or --benchmark)")
	}
	pass, err := workerPassword(cmd, f, log)
	if err != nil {
		return err
	}
	cfg := miner.Config{
		Threads:             f.threads,
		Impl:                im,
		UserAgent:           "hashfleet/" + workerVersion(),
		Logger:              log,
		NoVersionRolling:    f.noVersionRolling,
		ExtranonceSubscribe: f.extranonceSubscribe,
		SuggestDifficulty:   f.suggestDiff,
		NoRedirect:          f.noRedirect,
		Quiet:               f.quiet,
		StatsInterval:       f.statsInterval,
	}
	for _, u := range f.urls {
		cfg.Pools = append(cfg.Pools, miner.Pool{URL: u, User: f.user, Password: pass})
	}
	if f.tlsCA != "" {
		roots, err := readCAPool(f.tlsCA)
		if err != nil {
			return fmt.Errorf("worker: --tls-ca: %w", err)
		}
		cfg.TLSConfig = &tls.Config{RootCAs: roots}
	}
	reg := obs.NewRegistry()
	cfg.Registerer = reg
	m, err := miner.New(cfg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.Run(gctx) })
	if f.apiListen != "" {
		log.Info("api listening", "addr", f.apiListen)
		g.Go(func() error { return obs.ListenAndServe(gctx, f.apiListen, workerAPI(reg, m)) })
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	st := m.Stats()
	log.Info("worker finished", "accepted", st.Accepted, "rejected", st.Rejected, "hashes", st.Hashes)
	return err
}

// workerAPI serves /api/stats (indented JSON), /metrics, /healthz and
// /readyz for --api-listen.
func workerAPI(reg *prometheus.Registry, m *miner.Miner) http.Handler {
	mux := obs.NewMux(reg, m.Ready)
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(m.Stats())
	})
	return mux
}

// runWorkerBench is --benchmark: it delegates to `hashfleet bench` with
// the worker's -t, --impl and --time-limit.
func runWorkerBench(ctx context.Context, cmd *cobra.Command, f *workerFlags) error {
	bf := benchFlags{threads: f.threads, duration: f.timeLimit, impl: f.impl, json: f.logFormat == "json"}
	if bf.threads == 0 {
		bf.threads = runtime.NumCPU()
	}
	if bf.duration <= 0 {
		bf.duration = 10 * time.Second
	}
	return runBenchCmd(ctx, cmd.OutOrStdout(), bf)
}

// runWorkerBenchmark is --benchmark-miner: it hashes offline through the
// miner's own threads and prints the rate (per CPU-second too, where the
// OS reports thread CPU time).
func runWorkerBenchmark(ctx context.Context, cmd *cobra.Command, f *workerFlags, im sha256d.Impl, log *slog.Logger) error {
	d := f.timeLimit
	if d <= 0 {
		d = 10 * time.Second
	}
	interval := f.statsInterval
	if !cmd.Flags().Changed("stats-interval") {
		interval = 5 * time.Second
	}
	res, err := miner.Benchmark(ctx, miner.BenchConfig{Impl: im, Threads: f.threads, Duration: d, Logger: log,
		StatsInterval: interval, Quiet: f.quiet})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.logFormat == "json" {
		return json.NewEncoder(out).Encode(res)
	}
	for _, th := range res.Threads {
		fmt.Fprintf(out, "thread %d: %d hashes, %s", th.Thread, th.Hashes, miner.FormatHashRate(th.HashRate))
		if th.HashesPerCPUSecond > 0 {
			fmt.Fprintf(out, " (%s per CPU-second)", miner.FormatHashRate(th.HashesPerCPUSecond))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "Total: %s (impl %s, %d threads, %.1fs)\n", miner.FormatHashRate(res.HashRate), res.Impl, len(res.Threads), res.Elapsed.Seconds())
	return nil
}

// workerVersion is the version sent as the Stratum user agent.
func workerVersion() string {
	if version != "" {
		return version
	}
	return "devel"
}
