//go:build !purego

package sha256d

import (
	"strings"

	"golang.org/x/sys/cpu"
)

// Assembly in scan_arm64.s (hand-written).

// kernelSHA2x4 scans n nonces (a multiple of 4) four at a time, the four
// interleaved so that the SHA-2 unit always has independent work.
//
//go:noescape
func kernelSHA2x4(p *prep, t7, base, n uint32) (nonce uint32, ok bool)

// sha2Pad holds the constant message words the arm64 kernel loads: block 2
// words 4..15 of the first hash (padding and the 640-bit length), then
// words 8..15 of the second hash (padding and the 256-bit length).
var sha2Pad = [20]uint32{
	0x80000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 640,
	0x80000000, 0, 0, 0, 0, 0, 0, 256,
}

var useSHA2 = cpu.ARM64.HasSHA2

func scanARMSHA2(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (uint32, bool) {
	return scanKernel(kARMSHA2, ms, tail, target, base, n)
}

// kernelARMSHA2 runs the 4-nonce assembly over the largest multiple of 4
// and the generic kernel over the 0..3 nonces left.
func kernelARMSHA2(p *prep, t7, base, n uint32) (uint32, bool) {
	m := n &^ 3
	if m > 0 {
		if nonce, ok := kernelSHA2x4(p, t7, base, m); ok {
			return nonce, true
		}
	}
	if m < n {
		return kernelGeneric(p, t7, base+m, n-m)
	}
	return 0, false
}

// archImpls lists the assembly implementations for arm64.
func archImpls() []Impl {
	why := ""
	if !useSHA2 {
		why = "needs the ARMv8 SHA2 extension, CPU lacks SHA2"
	}
	return []Impl{
		{Name: "armsha2", Available: why == "", Missing: why, CPUFlags: []string{"sha2"}, Scan: scanARMSHA2, Lanes: 4},
	}
}

func archKernel(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	if k == kARMSHA2 {
		return kernelARMSHA2(p, t7, base, n)
	}
	panic("sha256d: unknown kernel")
}

// cpuFeatures names the CPU features relevant to the kernels.
func cpuFeatures() string {
	var f []string
	if cpu.ARM64.HasSHA2 {
		f = append(f, "sha2")
	}
	if cpu.ARM64.HasASIMD {
		f = append(f, "asimd")
	}
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, " ")
}
