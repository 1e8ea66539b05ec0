package sha256d

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// ThreadMeasurement is one thread's share of a Measurement.
type ThreadMeasurement struct {
	Thread     int
	Hashes     uint64
	Seconds    float64 // wall time the thread hashed
	CPUSeconds float64 // CPU time it used; 0 where the OS does not report it
}

// Measurement is what Measure measured.
type Measurement struct {
	Threads    []ThreadMeasurement
	Hashes     uint64
	Seconds    float64 // wall time, start to last thread done
	CPUSeconds float64 // all threads; 0 where the OS does not report it
}

// HashesPerSecond is the rate of all threads together.
func (m Measurement) HashesPerSecond() float64 { return rate(m.Hashes, m.Seconds) }

// HashesPerCPUSecond is hashes per CPU-second of one thread: comparable to
// a single-thread figure, and meaningful when other processes share the
// cores. 0 where the OS does not report thread CPU time.
func (m Measurement) HashesPerCPUSecond() float64 { return rate(m.Hashes, m.CPUSeconds) }

func rate(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// Measure is the benchmark engine of `hashfleet bench` and the worker's
// --benchmark-miner: it runs hash(ctx, thread) on threads goroutines, each
// locked to its own OS thread, until d has passed or ctx ends, and
// measures each thread's wall and CPU time. hash returns how many hashes
// it did; it must return soon after its ctx ends.
func Measure(ctx context.Context, threads int, d time.Duration, hash func(ctx context.Context, thread int) uint64) Measurement {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	m := Measurement{Threads: make([]ThreadMeasurement, threads)}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range threads {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, t0 := threadCPU(), time.Now()
			n := hash(ctx, i)
			tm := ThreadMeasurement{Thread: i, Hashes: n, Seconds: time.Since(t0).Seconds()}
			if cpu := threadCPU() - cpu0; cpu > 0 {
				tm.CPUSeconds = cpu.Seconds()
			}
			m.Threads[i] = tm
		})
	}
	wg.Wait()
	m.Seconds = time.Since(start).Seconds()
	for _, t := range m.Threads {
		m.Hashes += t.Hashes
		m.CPUSeconds += t.CPUSeconds
	}
	return m
}
