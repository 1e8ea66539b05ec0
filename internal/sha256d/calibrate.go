package sha256d

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// Rate is one implementation's measured speed on one thread.
type Rate struct {
	Impl            string  `json:"impl"`
	HashesPerSecond float64 `json:"hashes_per_second"`
}

// Calibration is the outcome of [Calibrate]: the implementation chosen and
// the rates it was chosen from, in [Impls] order.
type Calibration struct {
	Choice Impl
	Rates  []Rate
}

// String gives the measured rates and the choice on one line, e.g.
// "hybrid 41.2 MH/s, avx512 39.8 MH/s, generic 1.1 MH/s -> hybrid".
func (c Calibration) String() string {
	s := ""
	for i, r := range c.Rates {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.2f MH/s", r.Impl, r.HashesPerSecond/1e6)
	}
	return s + " -> " + c.Choice.Name
}

// Fastest returns the name of the highest rate. A tie goes to the earlier
// entry (callers list rates best first by the static preference). Rates that
// are not positive finite numbers never win; with none usable it fails.
func Fastest(rates []Rate) (string, error) {
	best, bestRate := "", 0.0
	for _, r := range rates {
		v := r.HashesPerSecond
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			continue
		}
		if v > bestRate {
			best, bestRate = r.Impl, v
		}
	}
	if best == "" {
		return "", errors.New("sha256d: no usable measured rate")
	}
	return best, nil
}

// CalibrationTime is the measuring time per implementation that the
// worker and `hashfleet bench --impl auto` give [Calibrate].
const CalibrationTime = 30 * time.Millisecond

// calibrationRounds is how many slices each implementation's time is cut
// into. The slices of all implementations are interleaved and each keeps its
// best slice, so a burst of load from other processes does not decide alone.
const calibrationRounds = 4

// calibrationBatch nonces are hashed between two looks at the clock.
const calibrationBatch = 1 << 12

// Calibrate times every implementation this CPU can run for about d each
// (on one OS thread, by thread CPU time where the OS reports it, else wall
// time) and returns the fastest, so "auto" fits the CPU it runs on, not the
// one the static order was tuned on. A few tens of milliseconds per
// implementation is enough. It falls back to [Lookup]("auto") if nothing
// could be measured.
func Calibrate(d time.Duration) Calibration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var avail []Impl
	for _, im := range impls {
		if im.Available {
			avail = append(avail, im)
		}
	}
	rates := make([]Rate, len(avail))
	for i, im := range avail {
		rates[i].Impl = im.Name
	}
	slice := max(d/calibrationRounds, time.Millisecond)
	for range calibrationRounds {
		for i, im := range avail {
			rates[i].HashesPerSecond = max(rates[i].HashesPerSecond, measure(im.Scan, slice))
		}
	}
	c := Calibration{Rates: rates}
	name, err := Fastest(rates)
	for _, im := range avail {
		if err == nil && im.Name == name {
			c.Choice = im
			return c
		}
	}
	c.Choice, _ = Lookup("auto")
	return c
}

// measure hashes with scan for about d and returns hashes per second of
// thread CPU time (wall time if the OS does not report it).
func measure(scan ScanFunc, d time.Duration) float64 {
	ms := NewMidstate(&calibrationFirst64)
	var tail [16]byte
	var target [32]byte // unreachable: the scan never stops early
	var hashes uint64
	cpu0, t0 := threadCPU(), time.Now()
	base := uint32(0)
	for time.Since(t0) < d {
		scan(&ms, &tail, &target, base, calibrationBatch)
		base += calibrationBatch
		hashes += calibrationBatch
	}
	el := time.Since(t0)
	if cpu := threadCPU() - cpu0; cpu > 0 {
		el = cpu
	}
	if el <= 0 {
		return 0
	}
	return float64(hashes) / el.Seconds()
}

// calibrationFirst64 is an arbitrary header start for calibration runs.
var calibrationFirst64 = [64]byte{1, 0, 0, 0, 0x81, 0xcd, 0x02, 0xab}
