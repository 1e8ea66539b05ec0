//go:build !purego

package sha256d

import (
	"runtime"
	"slices"
	"testing"
)

// BenchmarkVectorWidth reports how many 512-bit and 256-bit integer
// additions the core completes per cycle (cycles from clockChain; all three
// by thread CPU time, interleaved; the median over iterations, so a slice
// disturbed by another process does not decide). About 4 and 4 is a
// full-width AVX-512 core (Zen 5 server), about 2 and 4 one that splits
// 512-bit operations in two (Zen 4): the AVX-512 kernels' rates differ by
// about 2x between them, so every sha256d figure should say which it was.
func BenchmarkVectorWidth(b *testing.B) {
	if !useAVX512 {
		b.Skip("needs AVX-512F and AVX-512BW")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const n = 1 << 16
	timed := func(f func()) float64 {
		c0 := threadCPU()
		f()
		return float64(threadCPU() - c0)
	}
	var ghz, zmm, ymm []float64
	x := uint64(1)
	for b.Loop() {
		clock := timed(func() { x = clockChain(x, n, 3, 5) })
		z := timed(func() { widthProbe512(n) })
		y := timed(func() { widthProbe256(n) })
		if clock > 0 && z > 0 && y > 0 {
			ghz = append(ghz, 16*n/clock)
			zmm = append(zmm, clock/z)
			ymm = append(ymm, clock/y)
		}
	}
	if len(ghz) == 0 {
		b.Skip("no thread CPU time on this OS")
	}
	b.ReportMetric(median(zmm), "zmm-add/cycle")
	b.ReportMetric(median(ymm), "ymm-add/cycle")
	b.ReportMetric(median(ghz), "GHz")
	if x == 42 {
		b.Log(x)
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func TestNeeds(t *testing.T) {
	yes := func(n string) feature { return feature{name: n, has: true} }
	no := func(n string) feature { return feature{name: n, has: false} }
	tests := []struct {
		fs   []feature
		want string
	}{
		{[]feature{yes("AVX512F"), no("AVX512BW")}, "needs AVX512F+AVX512BW, CPU lacks AVX512BW"},
		{[]feature{no("SHA"), yes("SSE4.1"), no("SSSE3")}, "needs SHA+SSE4.1+SSSE3, CPU lacks SHA+SSSE3"},
		{[]feature{yes("AVX2")}, ""},
	}
	for _, tt := range tests {
		if got := needs(tt.fs...); got != tt.want {
			t.Errorf("needs(%v) = %q, want %q", tt.fs, got, tt.want)
		}
	}
}
