package backoff

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelay(t *testing.T) {
	const min, max = 100 * time.Millisecond, 2 * time.Second
	tests := []struct {
		name    string
		attempt int
		want    time.Duration
	}{
		{name: "first", attempt: 0, want: min},
		{name: "before the first", attempt: -1, want: min},
		{name: "third", attempt: 3, want: 800 * time.Millisecond},
		{name: "capped", attempt: 5, want: max},
		{name: "far past the cap", attempt: 1000, want: max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Delay(tt.attempt, min, max); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got := Delay(3, time.Second, time.Millisecond); got != time.Second {
		t.Errorf("max below min: got %v, want min (1s)", got)
	}
}

func TestJitter(t *testing.T) {
	tests := []struct {
		name string
		r    float64
		want time.Duration
	}{
		{name: "none", r: 0, want: 50 * time.Millisecond},
		{name: "half", r: 0.5, want: 75 * time.Millisecond},
		{name: "most", r: 1, want: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Jitter(100*time.Millisecond, tt.r); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	caps := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, c := range caps {
		c *= time.Millisecond
		d := b.Next()
		if d < c/2 || d > c {
			t.Fatalf("attempt %d: got %v, want within [%v, %v]", i, d, c/2, c)
		}
	}
	if b.Attempts() != len(caps) {
		t.Errorf("attempts: got %d, want %d", b.Attempts(), len(caps))
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset: got %v, want <= 100ms", d)
	}
	var zero Backoff
	for range 20 {
		if d := zero.Next(); d > 15*time.Second {
			t.Fatalf("zero value exceeds the 15 s cap: %v", d)
		}
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), 3*time.Second); err != nil {
			t.Fatalf("full sleep: got %v, want nil", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("full sleep took %v, want 3s", d)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cut short: got %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("cut short after %v, want 1s (the deadline)", d)
		}

		done, cancelDone := context.WithCancel(context.Background())
		cancelDone()
		if err := Sleep(done, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("ctx done before: got %v, want context.Canceled", err)
		}
		if err := Sleep(done, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("zero delay, ctx done: got %v, want context.Canceled", err)
		}
		if err := Sleep(context.Background(), -time.Second); err != nil {
			t.Errorf("negative delay: got %v, want nil", err)
		}
	})
}
