package sha256d

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestMeasure runs the engine with the real kernel on two threads and
// checks the per-thread and total figures add up.
func TestMeasure(t *testing.T) {
	im, err := Lookup("generic")
	if err != nil {
		t.Fatal(err)
	}
	var target [32]byte // unreachable: the scan never stops early
	m := Measure(context.Background(), 2, 100*time.Millisecond, func(ctx context.Context, thread int) uint64 {
		var ms Midstate
		var tail [16]byte
		tail[0] = byte(thread)
		var n uint64
		for ctx.Err() == nil {
			im.Scan(&ms, &tail, &target, uint32(n), 1024)
			n += 1024
		}
		return n
	})
	if len(m.Threads) != 2 {
		t.Fatalf("threads: got %d, want 2", len(m.Threads))
	}
	var sum uint64
	for i, th := range m.Threads {
		if th.Thread != i || th.Hashes == 0 || th.Seconds <= 0 {
			t.Errorf("thread %d: got %+v, want its index, hashes and time", i, th)
		}
		sum += th.Hashes
	}
	if m.Hashes != sum || m.HashesPerSecond() <= 0 {
		t.Errorf("total: got %d hashes at %g H/s, want the threads' sum %d at > 0 H/s", m.Hashes, m.HashesPerSecond(), sum)
	}
	if runtime.GOOS == "linux" && m.HashesPerCPUSecond() <= 0 {
		t.Errorf("linux reports thread CPU time: got %g H/CPU-s, want > 0", m.HashesPerCPUSecond())
	}
}

// TestMeasureStopsWithCtx: a cancelled ctx ends the run before d.
func TestMeasureStopsWithCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := Measure(ctx, 1, time.Hour, func(ctx context.Context, _ int) uint64 {
		<-ctx.Done()
		return 7
	})
	if m.Hashes != 7 {
		t.Errorf("got %d hashes, want 7", m.Hashes)
	}
}
