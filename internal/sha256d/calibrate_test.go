package sha256d

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestFastest(t *testing.T) {
	tests := []struct {
		name    string
		rates   []Rate
		want    string
		wantErr bool
	}{
		{name: "static order wrong", rates: []Rate{{"hybrid", 30e6}, {"avx512", 31e6}, {"shani", 20e6}, {"generic", 1e6}}, want: "avx512"},
		{name: "first is fastest", rates: []Rate{{"hybrid", 40e6}, {"avx512", 39e6}}, want: "hybrid"},
		{name: "last is fastest", rates: []Rate{{"avx2", 5e6}, {"generic", 6e6}}, want: "generic"},
		{name: "tie keeps earlier", rates: []Rate{{"shani", 20e6}, {"avx2", 20e6}}, want: "shani"},
		{name: "unusable rates ignored", rates: []Rate{{"a", math.NaN()}, {"b", math.Inf(1)}, {"c", -1}, {"d", 0}, {"e", 3}}, want: "e"},
		{name: "none usable", rates: []Rate{{"a", 0}, {"b", math.NaN()}}, wantErr: true},
		{name: "empty", rates: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fastest(tt.rates)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Fastest = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestCalibrate checks the measuring for sanity: every implementation this
// CPU can run is measured (and nothing else), each at a positive rate, and
// the choice is the fastest of them.
func TestCalibrate(t *testing.T) {
	c := Calibrate(20 * time.Millisecond)
	var want []string
	for _, im := range Impls() {
		if im.Available {
			want = append(want, im.Name)
		}
	}
	var got []string
	for _, r := range c.Rates {
		got = append(got, r.Impl)
		if !(r.HashesPerSecond > 0) || math.IsInf(r.HashesPerSecond, 0) {
			t.Errorf("%s measured at %v H/s", r.Impl, r.HashesPerSecond)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("measured %v, want every available implementation %v", got, want)
	}
	fastest, err := Fastest(c.Rates)
	if err != nil || c.Choice.Name != fastest || !c.Choice.Available || c.Choice.Scan == nil {
		t.Errorf("choice %q (available %v), fastest measured %q (%v); rates %v", c.Choice.Name, c.Choice.Available, fastest, err, c.Rates)
	}
	if s := c.String(); !strings.HasSuffix(s, "-> "+c.Choice.Name) || !strings.Contains(s, " MH/s") {
		t.Errorf("String() = %q", s)
	}
}

// TestUnavailable: every kernel hashfleet has is either runnable here or
// listed by Unavailable with a reason, never both; a runnable one carries no
// reason.
func TestUnavailable(t *testing.T) {
	runnable := map[string]bool{}
	for _, im := range Impls() {
		if im.Available {
			runnable[im.Name] = true
			if im.Missing != "" {
				t.Errorf("%s is available but Missing = %q", im.Name, im.Missing)
			}
		}
	}
	missing := map[string]string{}
	for _, im := range Unavailable() {
		if im.Missing == "" || im.Available {
			t.Errorf("Unavailable lists %s with available %v, reason %q", im.Name, im.Available, im.Missing)
		}
		missing[im.Name] = im.Missing
		if runnable[im.Name] {
			t.Errorf("%s is both runnable and unavailable", im.Name)
		}
		if _, err := Lookup(im.Name); err == nil || !strings.Contains(err.Error(), im.Missing) {
			t.Errorf("Lookup(%s) = %v, want an error giving %q", im.Name, err, im.Missing)
		}
	}
	for _, k := range kernelArch {
		if !runnable[k.name] && missing[k.name] == "" {
			t.Errorf("kernel %s (%s) is neither runnable nor explained", k.name, k.arch)
		}
		if k.arch != runtime.GOARCH && missing[k.name] != k.arch+" only" {
			t.Errorf("kernel %s: reason %q, want %q", k.name, missing[k.name], k.arch+" only")
		}
	}
}
