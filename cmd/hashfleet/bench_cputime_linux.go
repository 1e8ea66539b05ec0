package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime returns the CPU time used by the calling OS thread; the
// caller has locked its goroutine to the thread.
func threadCPUTime() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
