package sha256d

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used; callers
// lock the goroutine to its thread first. CLOCK_THREAD_CPUTIME_ID is exact
// to the nanosecond; getrusage(RUSAGE_THREAD), used before, only advances
// at the scheduler tick for a running thread (1-4 ms), which made
// Calibrate's 7.5 ms slices read 0.5-2x their true rate (one run: shani
// 72.6 MH/s, against 21-28 measured over seconds).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
