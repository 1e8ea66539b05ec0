//go:build !purego

package sha256d

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestARMSHA2Runs: where integration parts are required (CI runs this
// package under qemu-aarch64-static, whose default CPU has the SHA-2
// extension), the armsha2 kernel must be available, so that the golden,
// random and fuzz-seed tests really exercise it instead of skipping it.
func TestARMSHA2Runs(t *testing.T) {
	if !useSHA2 {
		if os.Getenv("HASHFLEET_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("armsha2 kernel unavailable (cpu: %s); HASHFLEET_REQUIRE_INTEGRATION=1 requires a CPU (or qemu -cpu) with SHA2", cpuFeatures())
		}
		t.Skipf("CPU lacks the SHA2 extension (cpu: %s)", cpuFeatures())
	}
	im, err := Lookup("armsha2")
	if err != nil || im.Lanes != 4 {
		t.Fatalf("Lookup(armsha2) = %+v, %v", im, err)
	}
}

// TestNEONRuns: every arm64 Linux core has ASIMD, so the neon kernel must
// be listed as available wherever this package's tests run on arm64.
func TestNEONRuns(t *testing.T) {
	if !useNEON {
		t.Fatalf("neon kernel unavailable (cpu: %s)", cpuFeatures())
	}
	im, err := Lookup("neon")
	if err != nil || im.Lanes != 4 {
		t.Fatalf("Lookup(neon) = %+v, %v", im, err)
	}
}

// TestNEONWithoutSHA2: on a core without the SHA-2 extension, armsha2 is
// listed as missing with its reason and neon is the first (auto) choice.
func TestNEONWithoutSHA2(t *testing.T) {
	saved := useSHA2
	useSHA2 = false
	defer func() { useSHA2 = saved }()
	ims := archImpls()
	if ims[0].Name != "armsha2" || ims[0].Available || !strings.Contains(ims[0].Missing, "SHA2") {
		t.Errorf("armsha2 without SHA2: %+v", ims[0])
	}
	for _, im := range ims {
		if im.Available {
			if im.Name != "neon" {
				t.Errorf("first available kernel without SHA2 = %s, want neon", im.Name)
			}
			return
		}
	}
	t.Error("no kernel available without SHA2")
}

// TestKernelX4Tail: the Go wrapper hands the assembly multiples of 4 and
// the generic kernel the rest; a hit in either part is found, at every
// offset within a group. The kernels are called directly, so neon is
// tested even where detection would choose armsha2.
func TestKernelX4Tail(t *testing.T) {
	h := mustHeader(t, easyHeaderHex)
	ms, tail := h.split()
	target := topTarget(easyTop)
	for _, k := range []struct {
		name string
		k    kernel
		ok   bool
	}{{"armsha2", kARMSHA2, useSHA2}, {"neon", kNEON, useNEON}} {
		if !k.ok {
			t.Logf("%s: CPU lacks the extension, skipped", k.name)
			continue
		}
		for start := uint32(easyNonceWant - 7); start <= easyNonceWant; start++ {
			for n := uint32(1); n <= 9; n++ {
				want, wantOK := refScan(h, &target, start, n)
				got, ok := scanKernel(k.k, &ms, &tail, &target, start, n)
				if got != want || ok != wantOK {
					t.Errorf("%s: scan(%d, %d) = (%d, %v), want (%d, %v)", k.name, start, n, got, ok, want, wantOK)
				}
			}
		}
	}
}

// TestNEONAgainstGeneric: on random headers, with t7 at its maximum (every
// nonce a candidate) and at random values, the neon kernel returns the same
// first candidate as the generic kernel, lane by lane.
func TestNEONAgainstGeneric(t *testing.T) {
	if !useNEON {
		t.Skip("CPU lacks ASIMD")
	}
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 200 {
		var ms Midstate
		var tail [16]byte
		for j := range ms {
			ms[j] = r.Uint32()
		}
		for j := range tail {
			tail[j] = byte(r.Uint32())
		}
		var p prep
		p.init(&ms, &tail)
		t7 := r.Uint32() >> uint(r.IntN(32))
		if i%4 == 0 {
			t7 = ^uint32(0)
		}
		base, n := r.Uint32(), uint32(4*(1+r.IntN(16)))
		want, wantOK := kernelGeneric(&p, t7, base, n)
		got, ok := kernelNEON4(&p, t7, base, n)
		if got != want || ok != wantOK {
			t.Fatalf("case %d (t7 %#x, base %d, n %d): neon (%d, %v), generic (%d, %v)", i, t7, base, n, got, ok, want, wantOK)
		}
	}
}
