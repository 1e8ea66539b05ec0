// Package fleet is the engine-neutral part of the hashfleet framework: the
// worker sizing and caps, the crash-loop backoff, and the command lines of
// the miner server and worker. Both backends use it: the Mesos scheduler
// (package scheduler, offers) and the Kubernetes controller (package kube,
// pods). It is pure: no I/O, no clock, no goroutines; every function is
// safe for concurrent use.
package fleet

import (
	"fmt"
	"math"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
)

// Policy is the sizing and pacing of the fleet that does not depend on the
// cluster engine. The zero value is usable after WithDefaults.
type Policy struct {
	WorkerCPUs float64 // per worker; 0 = all whole free cpus of one offer / node
	MaxWorkers int     // cap on running workers; 0 = no cap
	MaxCPUs    float64 // cap on the workers' total cpus; 0 = no cap

	BackoffMin  time.Duration // relaunch backoff after the first failure; default 2 s
	BackoffMax  time.Duration // cap of the doubling backoff; default 2 min
	StableAfter time.Duration // a task ready this long resets its failure count; default 30 s
}

// WithDefaults returns p with the pacing defaults filled in.
func (p Policy) WithDefaults() Policy {
	if p.BackoffMin <= 0 {
		p.BackoffMin = 2 * time.Second
	}
	if p.BackoffMax <= 0 {
		p.BackoffMax = 2 * time.Minute
	}
	if p.BackoffMax < p.BackoffMin {
		p.BackoffMax = p.BackoffMin
	}
	if p.StableAfter <= 0 {
		p.StableAfter = 30 * time.Second
	}
	return p
}

// Backoff is the wait before relaunching after the given number of
// consecutive failures: BackoffMin doubled per failure after the first,
// capped at BackoffMax.
func (p Policy) Backoff(failures int) time.Duration {
	return backoff.Delay(failures-1, p.BackoffMin, p.BackoffMax)
}

// FailuresAfter returns the consecutive-failure count after a task that
// became ready at readySince (zero: never) ended at now: one that had been
// ready for StableAfter starts the count again at 1.
func (p Policy) FailuresAfter(readySince time.Time, failures int, now time.Time) int {
	if !readySince.IsZero() && now.Sub(readySince) >= p.StableAfter {
		return 1
	}
	return failures + 1
}

// MinWorkerCPUs is the smallest worker the policy launches: WorkerCPUs, or
// one whole cpu when workers take all whole cpus.
func (p Policy) MinWorkerCPUs() float64 {
	if p.WorkerCPUs > 0 {
		return p.WorkerCPUs
	}
	return 1
}

// Full reports whether n workers using cpus reach a cap.
func (p Policy) Full(n int, cpus float64) bool {
	if p.MaxWorkers > 0 && n >= p.MaxWorkers {
		return true
	}
	return p.MaxCPUs > 0 && cpus+p.MinWorkerCPUs() > p.MaxCPUs+1e-9
}

// FullReason says which cap n workers using cpus reached.
func (p Policy) FullReason(n int, cpus float64) string {
	if p.MaxWorkers > 0 && n >= p.MaxWorkers {
		return fmt.Sprintf("max workers reached (%d)", p.MaxWorkers)
	}
	return fmt.Sprintf("max cpus reached (%.3g of %.3g)", cpus, p.MaxCPUs)
}

// NextWorker returns the cpus of one more worker placed on free cpus when
// the workers already use cpus, or 0 when none fits there: WorkerCPUs (or
// all whole free cpus), lowered to what MaxCPUs leaves when workers take
// whole cpus. It does not check the caps on the count (Full).
func (p Policy) NextWorker(free, cpus float64) float64 {
	size := p.WorkerCPUs
	if size <= 0 {
		size = math.Floor(free + 1e-9)
	}
	if p.MaxCPUs > 0 {
		size = math.Min(size, math.Floor(p.MaxCPUs-cpus+1e-9))
		if p.WorkerCPUs > 0 && size < p.WorkerCPUs {
			return 0
		}
	}
	if size <= 0 || free+1e-9 < size {
		return 0
	}
	return size
}

// Remaining is how many more workers the caps allow beside n workers
// using cpus; math.MaxInt when there is no cap.
func (p Policy) Remaining(n int, cpus float64) int {
	w := math.MaxInt
	if p.MaxWorkers > 0 {
		w = p.MaxWorkers - n
	}
	if p.MaxCPUs > 0 {
		w = min(w, int(math.Floor((p.MaxCPUs-cpus+1e-9)/p.MinWorkerCPUs())))
	}
	return max(w, 0)
}
