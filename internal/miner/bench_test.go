package miner

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// BenchmarkHashRate compares, per implementation, the miner's hashing
// thread (one thread, the exact mining code path) with a bare sha256d
// Scan loop over MaxBatch batches (what `hashfleet bench --threads 1`
// measures). Both report H/s; the miner should be within a few percent.
//
//	go test ./internal/miner -run '^$' -bench HashRate -benchtime 3s
func BenchmarkHashRate(b *testing.B) {
	for _, im := range sha256d.Impls() {
		if !im.Available {
			continue
		}
		b.Run(im.Name+"/scan", func(b *testing.B) {
			var ms sha256d.Midstate
			var tail [16]byte
			var target [32]byte
			b.ResetTimer()
			var done uint64
			for done < uint64(b.N) {
				n := uint32(min(uint64(sha256d.MaxBatch), uint64(b.N)-done))
				im.Scan(&ms, &tail, &target, uint32(done), n)
				done += uint64(n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "H/s")
		})
		b.Run(im.Name+"/miner", func(b *testing.B) {
			m, err := New(Config{Pools: []Pool{{URL: "127.0.0.1:1", User: "b"}}, Threads: 1, Impl: im,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			m.cur.Store(benchWork(m.cfg))
			ctx, cancel := context.WithCancel(context.Background())
			b.ResetTimer()
			var wg sync.WaitGroup
			wg.Go(func() { m.hashLoop(ctx, 0) })
			for m.threads[0].hashes.Load() < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			wg.Wait()
			b.StopTimer()
			h := m.threads[0].hashes.Load()
			b.ReportMetric(float64(h)/b.Elapsed().Seconds(), "H/s")
		})
	}
}

func TestBenchmarkRuns(t *testing.T) {
	res, err := Benchmark(context.Background(), BenchConfig{Threads: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Hashes == 0 || len(res.Threads) != 2 || res.HashRate <= 0 {
		t.Errorf("got %+v, want hashes on 2 threads", res)
	}
	for _, th := range res.Threads {
		if th.Hashes == 0 {
			t.Errorf("thread %d hashed nothing", th.Thread)
		}
	}
	if _, err := Benchmark(context.Background(), BenchConfig{}); err == nil {
		t.Errorf("got nil error for zero duration, want one")
	}
}

// BenchmarkHashRateInterleaved alternates, in every iteration, 2^22 nonces
// through a bare sha256d Scan loop (what `hashfleet bench --threads 1`
// does) and 2^22+ nonces through one miner hashing thread, on the best
// implementation, so that noise from a shared machine hits both alike.
// It reports both rates and miner/scan in percent.
//
//	go test ./internal/miner -run '^$' -bench Interleaved -benchtime 20x
func BenchmarkHashRateInterleaved(b *testing.B) {
	im, err := sha256d.Lookup("auto")
	if err != nil {
		b.Fatal(err)
	}
	const round = 1 << 22
	var scanDur, minerDur time.Duration
	var scanN, minerN uint64
	var ms sha256d.Midstate
	var tail [16]byte
	var target [32]byte
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for done := uint32(0); done < round; done += sha256d.MaxBatch {
			im.Scan(&ms, &tail, &target, done, sha256d.MaxBatch)
		}
		scanDur += time.Since(start)
		scanN += round

		m, err := New(Config{Pools: []Pool{{URL: "127.0.0.1:1", User: "b"}}, Threads: 1, Impl: im,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		m.cur.Store(benchWork(m.cfg))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		start = time.Now()
		wg.Go(func() { m.hashLoop(ctx, 0) })
		for m.threads[0].hashes.Load() < round {
			time.Sleep(200 * time.Microsecond)
		}
		cancel()
		wg.Wait()
		minerDur += time.Since(start)
		minerN += m.threads[0].hashes.Load()
	}
	scanRate := float64(scanN) / scanDur.Seconds()
	minerRate := float64(minerN) / minerDur.Seconds()
	b.ReportMetric(scanRate, "scan-H/s")
	b.ReportMetric(minerRate, "miner-H/s")
	b.ReportMetric(100*minerRate/scanRate, "miner/scan-%")
}
