//go:build !purego

package sha256d

import "testing"

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
