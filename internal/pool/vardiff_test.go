package pool

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestVardiffConverges(t *testing.T) {
	tests := []struct {
		name     string
		hashrate float64 // hashes per second of the simulated miner
		start    float64
	}{
		{name: "cpu miner from diff 1", hashrate: 20e6, start: 1},
		{name: "slow miner from diff 1", hashrate: 50e3, start: 1},
		{name: "fast miner from tiny diff", hashrate: 1e12, start: 0.001},
		{name: "already right", hashrate: 4294967296.0 / 10, start: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			v := NewVardiff(Vardiff{Target: 10 * time.Second, Retarget: 60 * time.Second}, tc.start, t0)
			now := t0
			want := tc.hashrate * 10 / hashesPerDiff1 // difficulty giving one share per 10 s
			// Simulate 2 hours of Poisson share arrivals at the current
			// difficulty, with a tick every 15 s.
			// Arrivals are memoryless, so after a tick the next arrival is
			// drawn again at the (possibly new) difficulty.
			nextTick := now.Add(15 * time.Second)
			for now.Before(t0.Add(2 * time.Hour)) {
				mean := v.Difficulty() * hashesPerDiff1 / tc.hashrate // seconds per share
				next := now.Add(time.Duration(rng.ExpFloat64() * mean * float64(time.Second)))
				if next.After(nextTick) {
					now = nextTick
					v.Tick(now)
					nextTick = nextTick.Add(15 * time.Second)
					continue
				}
				now = next
				v.Share(now)
			}
			got := v.Difficulty()
			if ratio := got / want; ratio < 1/2.0 || ratio > 2.0 {
				t.Errorf("after 2h: got difficulty %g, want about %g (ratio %.2f)", got, want, ratio)
			}
		})
	}
}

func TestVardiffRules(t *testing.T) {
	tests := []struct {
		name    string
		shares  int           // shares evenly spread over elapsed
		elapsed time.Duration // since the window start
		wantOK  bool
		want    float64
	}{
		{name: "window not over", shares: 3, elapsed: 30 * time.Second, wantOK: false, want: 8},
		{name: "on target keeps", shares: 6, elapsed: 60 * time.Second, wantOK: false, want: 8},
		{name: "poisson noise keeps", shares: 10, elapsed: 60 * time.Second, wantOK: false, want: 8},
		{name: "fast miner raises at most 4x", shares: 24, elapsed: 60 * time.Second, wantOK: true, want: 32},
		{name: "2.5x too many early", shares: 16, elapsed: 64 * time.Second, wantOK: true, want: 20},
		{name: "no shares for 2 min quarters", shares: 0, elapsed: 120 * time.Second, wantOK: true, want: 2},
		{name: "no shares for 1 min keeps", shares: 0, elapsed: 60 * time.Second, wantOK: false, want: 8},
		{name: "a third of the rate lowers", shares: 8, elapsed: 240 * time.Second, wantOK: true, want: 2.67},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVardiff(Vardiff{Target: 10 * time.Second, Retarget: 60 * time.Second}, 8, t0)
			var (
				got     float64
				changed bool
			)
			for i := 1; i <= tc.shares; i++ {
				d, ok := v.Share(t0.Add(tc.elapsed * time.Duration(i) / time.Duration(tc.shares)))
				if ok {
					got, changed = d, true
					break
				}
			}
			if !changed {
				got, changed = v.Tick(t0.Add(tc.elapsed))
			}
			if changed != tc.wantOK || got != tc.want {
				t.Errorf("got (%g, %v), want (%g, %v)", got, changed, tc.want, tc.wantOK)
			}
		})
	}
}

func TestVardiffBounds(t *testing.T) {
	v := NewVardiff(Vardiff{Min: 0.5, Max: 4}, 100, t0)
	if got := v.Difficulty(); got != 4 {
		t.Errorf("start clamp: got %g, want 4", got)
	}
	if got := v.Set(0.001, t0); got != 0.5 {
		t.Errorf("Set below min: got %g, want 0.5", got)
	}
	if got := v.Set(math.NaN(), t0); got != 0.5 {
		t.Errorf("Set NaN: got %g, want 0.5", got)
	}
	v.SetMin(2)
	if got := v.Difficulty(); got != 2 {
		t.Errorf("after SetMin(2): got %g, want 2", got)
	}
	for i := range 10 { // no shares for a long time: never below Min
		v.Tick(t0.Add(time.Duration(i+1) * time.Hour))
	}
	if got := v.Difficulty(); got != 2 {
		t.Errorf("idle: got %g, want the floor 2", got)
	}
}

func TestRoundDiff(t *testing.T) {
	tests := []struct {
		in, want float64
	}{
		{in: 1, want: 1},
		{in: 1234.5, want: 1230},
		{in: 0.00012345, want: 0.000123},
		{in: 99.95, want: 100},
	}
	for _, tc := range tests {
		if got := roundDiff(tc.in); math.Abs(got-tc.want) > tc.want*1e-9 {
			t.Errorf("roundDiff(%g): got %g, want %g", tc.in, got, tc.want)
		}
	}
}

func TestRateMeter(t *testing.T) {
	var r rateMeter
	r.begin(t0)
	// 1 share of difficulty 1 per second for 10 minutes: 2^32 H/s.
	for i := range 600 {
		r.add(t0.Add(time.Duration(i)*time.Second), 1)
	}
	got := r.rate(t0.Add(600 * time.Second))
	if want := hashesPerDiff1; math.Abs(got-want)/want > 0.05 {
		t.Errorf("steady: got %g H/s, want %g ±5%%", got, want)
	}
	// 20 minutes later with nothing: zero.
	if got := r.rate(t0.Add(30 * time.Minute)); got != 0 {
		t.Errorf("idle: got %g H/s, want 0", got)
	}
	// A young meter divides by its age, not the full window.
	var y rateMeter
	y.begin(t0)
	for i := range 60 {
		y.add(t0.Add(time.Duration(i)*time.Second), 1)
	}
	if got, want := y.rate(t0.Add(60*time.Second)), hashesPerDiff1; math.Abs(got-want)/want > 0.05 {
		t.Errorf("young: got %g H/s, want %g ±5%%", got, want)
	}
}

func TestTokenBucket(t *testing.T) {
	b := tokenBucket{rate: 10, burst: 5}
	for i := range 5 {
		if !b.take(t0) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if b.take(t0) {
		t.Errorf("message beyond burst accepted")
	}
	if !b.take(t0.Add(100 * time.Millisecond)) {
		t.Errorf("message after refill refused")
	}
}
