package miner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// BenchConfig configures Benchmark.
type BenchConfig struct {
	Impl     sha256d.Impl  // zero value: best available
	Threads  int           // default runtime.NumCPU()
	Duration time.Duration // required; the run stops earlier if ctx is cancelled
	// Logger receives cpuminer-style progress lines every StatsInterval;
	// nil means no progress lines.
	Logger        *slog.Logger
	StatsInterval time.Duration // default 5s
	Quiet         bool          // no per-thread lines
}

// BenchThread is one thread's benchmark figures.
type BenchThread struct {
	ThreadStats
	CPUSeconds         float64 `json:"cpu_seconds,omitempty"`
	HashesPerCPUSecond float64 `json:"hashes_per_cpu_second,omitempty"`
}

// BenchResult is the outcome of Benchmark.
type BenchResult struct {
	Impl     string        `json:"impl"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Hashes   uint64        `json:"hashes"`
	HashRate float64       `json:"hashrate"` // H/s, all threads
	Threads  []BenchThread `json:"threads"`  // H/s over the whole run
	// HashesPerCPUSecond is hashes per CPU-second of one thread, where the
	// OS reports thread CPU time (sha256d.Measure).
	HashesPerCPUSecond float64 `json:"hashes_per_cpu_second,omitempty"`
}

// Benchmark runs, through sha256d.Measure (each thread locked to its OS
// thread, its CPU time measured), the miner's own hashing threads (the code path used when
// mining: midstate per extranonce2, bounded batches, atomic counters) over
// a synthetic job whose target no hash meets, like cpuminer --benchmark.
func Benchmark(ctx context.Context, cfg BenchConfig) (BenchResult, error) {
	if cfg.Duration <= 0 {
		return BenchResult{}, errors.New("miner: benchmark duration must be > 0")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := New(Config{
		Pools:         []Pool{{URL: "127.0.0.1:1", User: "benchmark"}},
		Threads:       cfg.Threads,
		Impl:          cfg.Impl,
		Logger:        log,
		StatsInterval: orDuration(cfg.StatsInterval, 5*time.Second),
		Quiet:         cfg.Quiet,
	})
	if err != nil {
		return BenchResult{}, err
	}
	m.cur.Store(benchWork(m.cfg))
	sctx, stopStats := context.WithTimeout(ctx, cfg.Duration)
	defer stopStats()
	var stats sync.WaitGroup
	stats.Go(func() { m.statsLoop(sctx) })
	meas := sha256d.Measure(ctx, len(m.threads), cfg.Duration, func(ctx context.Context, i int) uint64 {
		m.hashLoop(ctx, i)
		return m.threads[i].hashes.Load()
	})
	stopStats()
	stats.Wait()
	res := BenchResult{Impl: m.impl.Name, Elapsed: time.Duration(meas.Seconds * float64(time.Second)), Hashes: meas.Hashes,
		HashRate: meas.HashesPerSecond(), HashesPerCPUSecond: meas.HashesPerCPUSecond()}
	for _, t := range meas.Threads {
		bt := BenchThread{ThreadStats: ThreadStats{Thread: t.Thread, Hashes: t.Hashes, HashRate: float64(t.Hashes) / meas.Seconds},
			CPUSeconds: t.CPUSeconds}
		if t.CPUSeconds > 0 {
			bt.HashesPerCPUSecond = float64(t.Hashes) / t.CPUSeconds
		}
		res.Threads = append(res.Threads, bt)
	}
	return res, nil
}

// benchWork is a synthetic job with a zero target (no share is ever found).
func benchWork(cfg Config) *work {
	coinb1 := make([]byte, 42)
	coinb1[0], coinb1[4] = 1, 1
	coinb2 := make([]byte, 60)
	return &work{
		jobID:     "benchmark",
		bw:        btc.Work{Coinb1: coinb1, Coinb2: coinb2, Branch: make([][32]byte, 10), Version: 0x20000000, Bits: 0x1d00ffff, Time: uint32(time.Now().Unix())},
		en1:       []byte{0, 0, 0, 1},
		en2Size:   8,
		diff:      1,
		batch:     cfg.batch,
		nonceSpan: cfg.nonceSpan,
	}
}
