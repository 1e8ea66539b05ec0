package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// benchFlags are the flags of `hashfleet bench`.
type benchFlags struct {
	threads  int
	duration time.Duration
	impl     string
	json     bool
	baseline bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--threads N] [--duration D] [--impl auto|list|NAME] [--json]",
		Short: "Measure SHA-256d hashing speed offline, like cpuminer --benchmark",
		Long: `bench hashes a fixed block header on N threads for a fixed time with the
chosen sha256d implementation (auto: the fastest this CPU supports) and prints
hashes per second per thread and in total. Every thread is locked to its OS
thread; where the OS reports per-thread CPU time the rate per CPU-second is
printed too, which stays meaningful when other processes share the cores.
--baseline also measures crypto/sha256 applied twice per nonce (the naive Go
miner) on the same threads and prints the ratio.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchCmd(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.threads, "threads", "t", runtime.NumCPU(), "hashing threads")
	fl.DurationVarP(&f.duration, "duration", "d", 10*time.Second, "how long to hash")
	fl.StringVar(&f.impl, "impl", "auto", "sha256d implementation: auto (the fastest measured), list (what this CPU can run, and why not the others), or one of "+benchImplNames())
	fl.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fl.BoolVar(&f.baseline, "baseline", false, "also measure crypto/sha256 double hashing for comparison")
	return cmd
}

// benchImplNames names the implementations this CPU can run.
func benchImplNames() string {
	var names []string
	for _, im := range sha256d.Impls() {
		if im.Available {
			names = append(names, im.Name)
		}
	}
	return strings.Join(names, ", ")
}

// printImpls is --impl list: the implementations this CPU can run, then the
// others with the reason each is missing.
func printImpls(out io.Writer) {
	fmt.Fprintf(out, "sha256d implementations this CPU can run (cpu: %s):\n", sha256d.Features())
	for _, im := range sha256d.Impls() {
		if im.Available {
			fmt.Fprintf(out, "  %-8s %2d nonces per step\n", im.Name, im.Lanes)
		}
	}
	if missing := sha256d.Unavailable(); len(missing) > 0 {
		fmt.Fprintln(out, "not available here:")
		for _, im := range missing {
			fmt.Fprintf(out, "  %s: %s\n", im.Name, im.Missing)
		}
	}
	fmt.Fprintln(out, "auto measures each runnable one for a few tens of ms and takes the fastest")
}

// chooseImpl resolves --impl: "auto" (or "") measures every implementation
// this CPU can run and takes the fastest, returning what was measured; any
// other name is looked up as given (calibration nil).
func chooseImpl(name string) (sha256d.Impl, *sha256d.Calibration, error) {
	if name == "" || name == "auto" {
		c := sha256d.Calibrate(sha256d.CalibrationTime)
		return c.Choice, &c, nil
	}
	im, err := sha256d.Lookup(name)
	return im, nil, err
}

// benchThread is one thread's result.
type benchThread struct {
	Thread             int     `json:"thread"`
	Hashes             uint64  `json:"hashes"`
	Seconds            float64 `json:"seconds"`
	HashesPerSecond    float64 `json:"hashes_per_second"`
	CPUSeconds         float64 `json:"cpu_seconds,omitempty"`
	HashesPerCPUSecond float64 `json:"hashes_per_cpu_second,omitempty"`
}

// benchResult is the output of one measurement (the JSON of --json).
type benchResult struct {
	Impl               string        `json:"impl"`
	Lanes              int           `json:"lanes"`
	CPU                string        `json:"cpu"`
	Threads            int           `json:"threads"`
	Hashes             uint64        `json:"hashes"`
	Seconds            float64       `json:"seconds"`
	HashesPerSecond    float64       `json:"hashes_per_second"`
	HashesPerCPUSecond float64       `json:"hashes_per_cpu_second,omitempty"`
	PerThread          []benchThread `json:"per_thread"`
	// Calibration is what --impl auto measured (one thread, a few tens of
	// milliseconds per implementation) to choose Impl.
	Calibration []sha256d.Rate `json:"calibration,omitempty"`
	Baseline    *benchResult   `json:"baseline,omitempty"`
	// Ratio is HashesPerSecond / Baseline.HashesPerSecond (and per CPU-second).
	Ratio    float64 `json:"ratio_to_baseline,omitempty"`
	RatioCPU float64 `json:"ratio_to_baseline_cpu,omitempty"`
}

func runBenchCmd(ctx context.Context, out io.Writer, f benchFlags) error {
	if f.impl == "list" {
		printImpls(out)
		return nil
	}
	if f.threads < 1 {
		return fmt.Errorf("bench: --threads must be at least 1, got %d", f.threads)
	}
	if f.duration <= 0 {
		return fmt.Errorf("bench: --duration must be positive, got %v", f.duration)
	}
	im, calib, err := chooseImpl(f.impl)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if !f.json {
		if calib != nil {
			fmt.Fprintf(out, "bench: auto measured %s\n", calib)
		}
		fmt.Fprintf(out, "bench: impl %s (%d nonces per step), %d threads, %v; cpu: %s\n",
			im.Name, im.Lanes, f.threads, f.duration, sha256d.Features())
	}
	res := runBench(ctx, im.Name, im.Lanes, scanHasher(im.Scan), f.threads, f.duration)
	if calib != nil {
		res.Calibration = calib.Rates
	}
	if f.baseline && ctx.Err() == nil {
		b := runBench(ctx, "crypto/sha256", 1, cryptoHasher, f.threads, f.duration)
		res.Baseline = &b
		if b.HashesPerSecond > 0 {
			res.Ratio = res.HashesPerSecond / b.HashesPerSecond
		}
		if b.HashesPerCPUSecond > 0 {
			res.RatioCPU = res.HashesPerCPUSecond / b.HashesPerCPUSecond
		}
	}
	if f.json {
		enc := json.NewEncoder(out)
		return enc.Encode(res)
	}
	printBench(out, &res)
	if res.Baseline != nil {
		printBench(out, res.Baseline)
		fmt.Fprintf(out, "ratio %s / crypto/sha256: %.2fx wall", res.Impl, res.Ratio)
		if res.RatioCPU > 0 {
			fmt.Fprintf(out, ", %.2fx per CPU-second", res.RatioCPU)
		}
		fmt.Fprintln(out)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(out, "bench: interrupted; figures cover the time measured")
	}
	return nil
}

func printBench(out io.Writer, r *benchResult) {
	for _, t := range r.PerThread {
		fmt.Fprintf(out, "%s thread %d: %s", r.Impl, t.Thread, miner.FormatHashRate(t.HashesPerSecond))
		if t.HashesPerCPUSecond > 0 {
			fmt.Fprintf(out, " (%s per CPU-second)", miner.FormatHashRate(t.HashesPerCPUSecond))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "%s total: %s (%d hashes in %.2f s, %d threads)\n",
		r.Impl, miner.FormatHashRate(r.HashesPerSecond), r.Hashes, r.Seconds, r.Threads)
}

// A hasher hashes n nonces of the benchmark header starting at base.
type hasher func(ms *sha256d.Midstate, hdr *[80]byte, base, n uint32)

// benchTarget is unreachable (only an all-zero hash meets it), so a scan
// never stops early.
var benchTarget [32]byte

func scanHasher(scan sha256d.ScanFunc) hasher {
	return func(ms *sha256d.Midstate, hdr *[80]byte, base, n uint32) {
		tail := [16]byte(hdr[64:])
		scan(ms, &tail, &benchTarget, base, n)
	}
}

// cryptoHasher is the naive miner: crypto/sha256 twice over the whole header.
func cryptoHasher(_ *sha256d.Midstate, hdr *[80]byte, base, n uint32) {
	var x byte
	for i := range n {
		binary.LittleEndian.PutUint32(hdr[76:], base+i)
		h := sha256.Sum256(hdr[:])
		h = sha256.Sum256(h[:])
		x ^= h[31]
	}
	benchSink.Add(uint32(x))
}

var benchSink atomic.Uint32 // keeps cryptoHasher's results live

// benchHeader is mainnet block 125552's header.
var benchHeader = func() [80]byte {
	b, err := hex.DecodeString("0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695")
	if err != nil {
		panic(err)
	}
	return [80]byte(b)
}()

// benchBatch nonces are hashed between two looks at the clock: a few
// milliseconds at tens of MH/s.
const benchBatch = 1 << 17

// runBench hashes with h on threads OS threads, each scanning its own
// nonce range of its own header, until d has passed or ctx ends.
func runBench(ctx context.Context, name string, lanes int, h hasher, threads int, d time.Duration) benchResult {
	m := sha256d.Measure(ctx, threads, d, func(ctx context.Context, i int) uint64 {
		hdr := benchHeader
		hdr[0] = byte(i) // a different header (and midstate) per thread
		ms := sha256d.NewMidstate((*[64]byte)(hdr[:64]))
		var hashes uint64
		for base := uint32(0); ctx.Err() == nil; base += benchBatch {
			h(&ms, &hdr, base, benchBatch)
			hashes += benchBatch
		}
		return hashes
	})
	res := benchResult{Impl: name, Lanes: lanes, CPU: sha256d.Features(), Threads: threads,
		Hashes: m.Hashes, Seconds: m.Seconds, HashesPerSecond: m.HashesPerSecond(), HashesPerCPUSecond: m.HashesPerCPUSecond()}
	for _, t := range m.Threads {
		bt := benchThread{Thread: t.Thread, Hashes: t.Hashes, Seconds: t.Seconds, CPUSeconds: t.CPUSeconds}
		if t.Seconds > 0 {
			bt.HashesPerSecond = float64(t.Hashes) / t.Seconds
		}
		if t.CPUSeconds > 0 {
			bt.HashesPerCPUSecond = float64(t.Hashes) / t.CPUSeconds
		}
		res.PerThread = append(res.PerThread, bt)
	}
	return res
}
