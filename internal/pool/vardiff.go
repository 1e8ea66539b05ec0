package pool

import (
	"math"
	"strconv"
	"time"
)

// Vardiff is the pure variable-difficulty core of one session: it is fed
// share arrivals and clock ticks and decides when the share difficulty should
// change so that the session submits about one share per Target. It does no
// I/O and reads no clock; the caller passes the time in. It is not safe for
// concurrent use: each session owns one.
//
// The rule: shares are counted over a window that starts at the last change.
// Once the window is Retarget long (or holds 16 shares, so a fast miner
// starting at a low difficulty converges in seconds), the count is compared
// with the count expected at Target (a Poisson mean λ). A count within
// 3·√λ+1 of λ keeps the difficulty and lets the window grow (more shares, a
// sharper estimate; it restarts after 10 Retargets). Otherwise the
// difficulty is multiplied by count/λ, bounded to [1/4, 4] per step and to
// [Min, Max] overall, unless that ratio is within [1/Hysteresis,
// Hysteresis]. So a converged session does not flap on Poisson noise.
type Vardiff struct {
	Target     time.Duration // wanted time between shares
	Retarget   time.Duration // window length before a re-evaluation
	Min, Max   float64       // bounds on the difficulty
	Hysteresis float64       // ratio band that keeps the difficulty; e.g. 1.5

	diff        float64
	windowStart time.Time
	shares      int
}

// NewVardiff returns a core starting at diff at time now. Zero fields of
// params are filled with defaults (Target 10 s, Retarget 60 s, Min 1e-9, Max
// 1e15, Hysteresis 1.5).
func NewVardiff(params Vardiff, diff float64, now time.Time) *Vardiff {
	v := params
	if v.Target <= 0 {
		v.Target = 10 * time.Second
	}
	if v.Retarget <= 0 {
		v.Retarget = 60 * time.Second
	}
	if v.Min <= 0 {
		v.Min = 1e-9
	}
	if v.Max <= 0 {
		v.Max = 1e15
	}
	if v.Hysteresis < 1 {
		v.Hysteresis = 1.5
	}
	v.diff = v.clamp(diff)
	v.windowStart = now
	return &v
}

// Difficulty returns the current difficulty.
func (v *Vardiff) Difficulty() float64 { return v.diff }

// Set forces the difficulty (e.g. mining.suggest_difficulty) and restarts
// the window. It returns the clamped value.
func (v *Vardiff) Set(diff float64, now time.Time) float64 {
	v.diff = v.clamp(diff)
	v.windowStart = now
	v.shares = 0
	return v.diff
}

// SetMin raises or lowers the lower bound (a client's suggestion acts as its
// floor) and returns the difficulty, clamped to the new bound.
func (v *Vardiff) SetMin(min float64) {
	if min > 0 && min <= v.Max {
		v.Min = min
	}
	v.diff = v.clamp(v.diff)
}

// Share records one accepted share at now and reports the new difficulty if
// it changed.
func (v *Vardiff) Share(now time.Time) (float64, bool) {
	v.shares++
	return v.evaluate(now)
}

// Tick re-evaluates without a share (called periodically), so a session that
// stopped finding shares has its difficulty lowered.
func (v *Vardiff) Tick(now time.Time) (float64, bool) {
	return v.evaluate(now)
}

func (v *Vardiff) evaluate(now time.Time) (float64, bool) {
	elapsed := now.Sub(v.windowStart)
	if elapsed < v.Retarget && v.shares < fastShares {
		return v.diff, false
	}
	lambda := float64(elapsed) / float64(v.Target) // expected shares at the right difficulty
	shares := float64(v.shares)
	if math.Abs(shares-lambda) <= 3*math.Sqrt(lambda)+1 {
		// Consistent with the target rate: keep the difficulty and let the
		// window grow, which sharpens the estimate; restart it now and then
		// so that a changed hash rate is noticed.
		if elapsed >= maxWindows*v.Retarget {
			v.windowStart, v.shares = now, 0
		}
		return v.diff, false
	}
	ratio := 0.25 // no shares at all
	if lambda > 0 && shares > 0 {
		ratio = shares / lambda
	} else if shares > 0 {
		ratio = 4
	}
	ratio = math.Min(math.Max(ratio, 0.25), 4)
	v.windowStart, v.shares = now, 0
	if ratio <= v.Hysteresis && ratio >= 1/v.Hysteresis {
		return v.diff, false
	}
	next := v.clamp(roundDiff(v.diff * ratio))
	if next == v.diff {
		return v.diff, false
	}
	v.diff = next
	return next, true
}

// fastShares is the share count that allows a re-evaluation before the
// Retarget window is over (a fast miner at a too low difficulty), and
// maxWindows the window length, in Retargets, after which an on-target
// window restarts.
const (
	fastShares = 16
	maxWindows = 10
)

func (v *Vardiff) clamp(d float64) float64 {
	if math.IsNaN(d) || d <= 0 {
		return v.Min
	}
	return math.Min(math.Max(d, v.Min), v.Max)
}

// roundDiff keeps three significant digits, so difficulties read well in logs
// and on the wire.
func roundDiff(d float64) float64 {
	if d <= 0 || math.IsInf(d, 0) || math.IsNaN(d) {
		return d
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(d, 'g', 3, 64), 64)
	if err != nil {
		return d
	}
	return r
}
