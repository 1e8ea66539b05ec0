package mesos

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter: the n-th delay is
// drawn from [d/2, d] where d = min(Min·2^n, Max). The zero value uses
// Min 500 ms and Max 15 s (the cap the Mesos docs suggest for
// re-subscription). Not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Next returns the next delay and advances the sequence.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = 15 * time.Second
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < b.n && d < hi; i++ {
		d *= 2
	}
	if d > hi {
		d = hi
	}
	b.n++
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// Reset restarts the sequence at Min (after a success).
func (b *Backoff) Reset() { b.n = 0 }

// Attempts returns how many delays were handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.n }
