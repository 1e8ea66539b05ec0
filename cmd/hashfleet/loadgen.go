package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/loadgen"
	"github.com/hashfleet/hashfleet/internal/pool"
)

func newLoadgenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Measure the pool at scale: many simulated miners against a real pool",
		Long: `loadgen measures the pool with many simulated Stratum miners (docs/scale.md).

  hashfleet loadgen serve   the production pool on a difficulty-1 chain whose
                            tip moves on request, in its own process
  hashfleet loadgen run     N sessions against it over loopback TCP, from
                            several 127.0.0.x source addresses
  hashfleet loadgen mem     pool and sessions in one process over in-memory
                            connections (no file descriptors: 100,000+)

Each run is bounded in time and prints connect rate, share latency and
notify fan-out percentiles, errors and memory per session.`,
	}
	cmd.AddCommand(newLoadgenServeCmd(), newLoadgenRunCmd(), newLoadgenMemCmd())
	return cmd
}

// loadFlags are the client settings run and mem share.
type loadFlags struct {
	cfg      loadgen.Config
	jsonOut  bool
	verbose  bool
	cpuProf  string
	poolConf pool.Config
}

func (f *loadFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.IntVar(&f.cfg.Sessions, "sessions", 1000, "Stratum sessions to open")
	fs.IntVar(&f.cfg.Submitters, "submitters", 100, "how many of them submit shares")
	fs.DurationVar(&f.cfg.ShareInterval, "share-interval", 5*time.Second, "mean time between one submitter's shares")
	fs.Float64Var(&f.cfg.Difficulty, "difficulty", 1e-7, "share difficulty asked for with mining.suggest_difficulty")
	fs.DurationVar(&f.cfg.Hold, "hold", 30*time.Second, "how long the sessions stay up once connected")
	fs.IntVar(&f.cfg.Tips, "tips", 3, "new tips made during --hold (each one's notify fan-out is timed)")
	fs.IntVar(&f.cfg.Concurrency, "concurrency", 128, "sessions being opened at once")
	fs.DurationVar(&f.cfg.ConnectTimeout, "connect-timeout", 2*time.Minute, "bound on the connect phase")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&f.verbose, "verbose", false, "log progress to stderr")
}

func (f *loadFlags) report(w io.Writer, rep *loadgen.Report) error {
	if f.jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(w)
	return nil
}

func (f *loadFlags) logger() *slog.Logger {
	if f.verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// poolLimitFlags sets the pool limits a scale run has to raise.
func poolLimitFlags(cmd *cobra.Command, c *pool.Config) {
	fs := cmd.Flags()
	fs.IntVar(&c.MaxConns, "max-conns", 20000, "pool: open connections at most (fitted to the open-file limit over TCP)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 256, "pool: open connections per source address")
	fs.Float64Var(&c.MinDiff, "min-diff", 1e-9, "pool: lowest share difficulty")
}

func newLoadgenServeCmd() *cobra.Command {
	var listen, control string
	var verbose bool
	var cfg pool.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the pool for `loadgen run` (loopback only): Stratum plus POST /tip and GET /memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf := loadFlags{verbose: verbose}
			cfg.Logger = lf.logger()
			return serveLoad(cmd.Context(), cmd.OutOrStdout(), listen, control, cfg)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:3333", "Stratum listen address")
	cmd.Flags().StringVar(&control, "control", "127.0.0.1:3334", "control HTTP address (/tip, /memory); loopback only")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "log the pool to stderr")
	poolLimitFlags(cmd, &cfg)
	return cmd
}

func serveLoad(ctx context.Context, out io.Writer, listen, control string, cfg pool.Config) error {
	if err := requireLoopback(control); err != nil {
		return fmt.Errorf("loadgen serve: --control: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	cfg.Listener = ln
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := loadgen.StartPool(ctx, cfg)
	if err != nil {
		return err
	}
	cln, err := net.Listen("tcp", control)
	if err != nil {
		cancel()
		p.Wait()
		return err
	}
	hs := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(cln)
	fmt.Fprintf(out, "loadgen pool on %s, control on http://%s (pid %d)\n", ln.Addr(), cln.Addr(), os.Getpid())
	<-ctx.Done()
	hs.Close()
	return p.Wait()
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

func newLoadgenRunCmd() *cobra.Command {
	var f loadFlags
	var poolAddr, control string
	var sources int
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Open N sessions against `loadgen serve` over loopback TCP and report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dial, err := loadgen.SourceDialer(poolAddr, sources)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("connect-rate") {
				f.cfg.ConnectRate = 18 * float64(sources)
			}
			f.cfg.Dial, f.cfg.Logger = dial, f.logger()
			f.cfg.Tip = func(ctx context.Context) error { return controlCall(ctx, "POST", control+"/tip", nil) }
			f.cfg.Memory = func() (int64, error) {
				var m loadgen.Memory
				err := controlCall(context.Background(), "GET", control+"/memory", &m)
				return m.RSS, err
			}
			rep, err := loadgen.Run(cmd.Context(), f.cfg)
			if err != nil {
				return err
			}
			return f.report(cmd.OutOrStdout(), rep)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&poolAddr, "pool", "127.0.0.1:3333", "the pool's Stratum address")
	cmd.Flags().StringVar(&control, "control", "http://127.0.0.1:3334", "the control URL of loadgen serve")
	cmd.Flags().IntVar(&sources, "sources", 100, "loopback source addresses to spread sessions over (127.0.0.2 up)")
	cmd.Flags().Float64Var(&f.cfg.ConnectRate, "connect-rate", 0, "new connections per second, all sources together (default: 18/s per source, under the pool's 20/s per address)")
	return cmd
}

func controlCall(ctx context.Context, method, url string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func newLoadgenMemCmd() *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "mem",
		Short: "Pool and sessions in one process over in-memory connections; report",
		Long: `mem runs the production pool and N simulated sessions in this process,
connected by in-memory pipes that need no file descriptor. Memory per session
is the heap and goroutine stacks added per session: the pool's and the
simulated client's together (docs/scale.md separates them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("max-conns") {
				f.poolConf.MaxConns = f.cfg.Sessions // no descriptors to run out of
			}
			return runMemLoad(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	f.register(cmd)
	poolLimitFlags(cmd, &f.poolConf)
	cmd.Flags().StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile of the whole run (pool and clients) to this file")
	return cmd
}

func runMemLoad(ctx context.Context, out io.Writer, f loadFlags) error {
	if f.cpuProf != "" {
		pf, err := os.Create(f.cpuProf)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln := loadgen.NewMemListener()
	pc := f.poolConf
	pc.Listener, pc.ConnsNeedNoFDs, pc.Logger = ln, true, f.logger()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := loadgen.StartPool(ctx, pc)
	if err != nil {
		return err
	}
	f.cfg.Dial, f.cfg.Tip, f.cfg.Logger = ln.Dial, p.Chain.Advance, f.logger()
	f.cfg.Memory = func() (int64, error) {
		m, err := loadgen.ReadMemory()
		return m.HeapInuse + m.StackInuse, err
	}
	rep, err := loadgen.Run(ctx, f.cfg)
	cancel()
	if werr := p.Wait(); err == nil && werr != nil && !errors.Is(werr, context.Canceled) {
		err = werr
	}
	if err != nil {
		return err
	}
	return f.report(out, rep)
}
