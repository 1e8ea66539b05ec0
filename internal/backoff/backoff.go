// Package backoff is the one capped exponential backoff of the module:
// Delay (the deterministic curve, for pure cores such as the scheduler's
// policy), Jitter (down to half, for retries that must not synchronise)
// and Backoff (the two as a sequence, for retry loops), and Sleep, the
// wait between two tries that ends early when the caller gives up.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the delay before retry attempt (0-based): min·2^attempt, at
// most max (and never below min).
func Delay(attempt int, min, max time.Duration) time.Duration {
	max = maxDur(max, min)
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return minDur(d, max)
}

// Jitter takes d down by up to half: d/2 + (d/2)·r for r in [0, 1].
func Jitter(d time.Duration, r float64) time.Duration {
	return d/2 + time.Duration(float64(d/2)*r)
}

// Backoff is a capped exponential backoff with jitter: the n-th delay is
// drawn from [d/2, d] where d = Delay(n, Min, Max). The zero value uses
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
	d := Delay(b.n, lo, hi)
	b.n++
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// Reset restarts the sequence at Min (after a success).
func (b *Backoff) Reset() { b.n = 0 }

// Attempts returns how many delays were handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.n }

// Sleep waits for d or until ctx is done, whichever comes first; it
// returns ctx.Err() when ctx ended the wait (also when it was done
// already), nil otherwise. A d of zero or less only checks ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
