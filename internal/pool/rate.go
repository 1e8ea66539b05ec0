package pool

import "time"

// rateBuckets and rateBucketLen make the hash-rate window: 10 buckets of 30 s.
const (
	rateBuckets   = 10
	rateBucketLen = 30 * time.Second
	rateWindow    = rateBuckets * rateBucketLen
)

// hashesPerDiff1 is the expected number of hashes per difficulty-1 share (2^32).
const hashesPerDiff1 = 4294967296.0

// rateMeter estimates a hash rate from accepted share difficulty over a
// sliding window of fixed buckets. It is a pure value type fed with explicit
// times; the owner synchronises access.
type rateMeter struct {
	start   time.Time // first observation; shortens the window for new meters
	sums    [rateBuckets]float64
	epochs  [rateBuckets]int64 // bucket epoch (unix time / bucket length) each sum belongs to
	started bool
}

func (r *rateMeter) epoch(t time.Time) int64 { return t.UnixNano() / int64(rateBucketLen) }

// begin marks the start of observation (a connection, or the pool start).
func (r *rateMeter) begin(t time.Time) {
	if !r.started {
		r.start, r.started = t, true
	}
}

// add records an accepted share of difficulty diff at t.
func (r *rateMeter) add(t time.Time, diff float64) {
	r.begin(t)
	e := r.epoch(t)
	i := int(e % rateBuckets)
	if r.epochs[i] != e {
		r.epochs[i], r.sums[i] = e, 0
	}
	r.sums[i] += diff
}

// rate returns the estimated hashes per second at now: the difficulty summed
// over the window × 2^32 / the time the window covers (or the time observed
// so far, when that is shorter, but never less than one bucket).
func (r *rateMeter) rate(now time.Time) float64 {
	if !r.started {
		return 0
	}
	e := r.epoch(now)
	var sum float64
	for i := range rateBuckets {
		if d := e - r.epochs[i]; d >= 0 && d < rateBuckets {
			sum += r.sums[i]
		}
	}
	// The buckets cover the current partial bucket plus the previous ones.
	covered := time.Duration(rateBuckets-1)*rateBucketLen + time.Duration(now.UnixNano()-e*int64(rateBucketLen))
	span := min(max(now.Sub(r.start), rateBucketLen), covered)
	return sum * hashesPerDiff1 / span.Seconds()
}
