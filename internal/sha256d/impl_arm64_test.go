//go:build !purego

package sha256d

import (
	"os"
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

// TestKernelSHA2x4Tail: the Go wrapper hands the assembly multiples of 4
// and the generic kernel the rest; a hit in either part is found, at every
// offset within a group.
func TestKernelSHA2x4Tail(t *testing.T) {
	if !useSHA2 {
		t.Skip("CPU lacks the SHA2 extension")
	}
	h := mustHeader(t, easyHeaderHex)
	ms, tail := h.split()
	target := topTarget(easyTop)
	for start := uint32(easyNonceWant - 7); start <= easyNonceWant; start++ {
		for n := uint32(1); n <= 9; n++ {
			want, wantOK := refScan(h, &target, start, n)
			got, ok := scanARMSHA2(&ms, &tail, &target, start, n)
			if got != want || ok != wantOK {
				t.Errorf("scan(%d, %d) = (%d, %v), want (%d, %v)", start, n, got, ok, want, wantOK)
			}
		}
	}
}
