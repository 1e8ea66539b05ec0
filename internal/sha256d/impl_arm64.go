//go:build !purego

package sha256d

import (
	"strings"

	"golang.org/x/sys/cpu"
)

// Assembly in scan_arm64.s and scan_neon_arm64.s (hand-written).

// kernelSHA2x4 scans n nonces (a multiple of 4) four at a time, the four
// interleaved so that the SHA-2 unit always has independent work.
//
//go:noescape
func kernelSHA2x4(p *prep, t7, base, n uint32) (nonce uint32, ok bool)

// kernelNEON4 scans n nonces (a multiple of 4) four at a time, one per
// 32-bit lane of the NEON registers, for cores without the SHA-2 extension.
//
//go:noescape
func kernelNEON4(p *prep, t7, base, n uint32) (nonce uint32, ok bool)

// neonLanes are the offsets of the four lanes' nonces within a group.
var neonLanes = [4]uint32{0, 1, 2, 3}

// sha2Pad holds the constant message words the arm64 kernel loads: block 2
// words 4..15 of the first hash (padding and the 640-bit length), then
// words 8..15 of the second hash (padding and the 256-bit length).
var sha2Pad = [20]uint32{
	0x80000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 640,
	0x80000000, 0, 0, 0, 0, 0, 0, 256,
}

// kFold returns the round constants with the constant message words w
// (by round) added, for rounds whose K+W is one table entry.
func kFold(w map[int]uint32) [64]uint32 {
	t := k
	for j, v := range w {
		t[j] += v
	}
	return t
}

// kBlock2 is K for block 2 in the arm64 kernels, with its constant words
// W4 = 0x80000000 and W15 = 640 folded in (W5..W14 are zero), so rounds
// 4..15 (quad-rounds 1..3) add no message word.
var kBlock2 = kFold(map[int]uint32{4: 0x80000000, 15: 640})

// kHash2 is K for the second hash in the arm64 kernels, with its constant
// words W8 = 0x80000000 and W15 = 256 folded in (W9..W14 are zero), so
// rounds 8..15 (quad-rounds 2..3) add no message word.
var kHash2 = kFold(map[int]uint32{8: 0x80000000, 15: 256})

// neonSched holds the neon kernel's constant schedule terms, each
// broadcast with VLD1R from its own pointer register (scan_neon_arm64.s):
// σ0(W15) of the second hash (in W30), σ1(W15) (in W17), σ0(W8) (in W23),
// then σ0(W15) of block 2 (in W30).
var neonSched = [...]uint32{s0(256), s1(256), s0(0x80000000), s0(640)}

// neonH2R0 is the second hash's state (a..h) after round 0 less W0: from
// the IV, round 0's T1 and T2 are constants but for W0, which the neon
// kernel adds to a and e.
var neonH2R0 = func() [8]uint32 {
	t1 := iv[7] + bigS1(iv[4]) + ch(iv[4], iv[5], iv[6]) + k[0]
	t2 := bigS0(iv[0]) + maj(iv[0], iv[1], iv[2])
	return [8]uint32{t1 + t2, iv[0], iv[1], iv[2], iv[3] + t1, iv[4], iv[5], iv[6]}
}()

var (
	useSHA2 = cpu.ARM64.HasSHA2
	useNEON = cpu.ARM64.HasASIMD
)

func scanARMSHA2(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (uint32, bool) {
	return scanKernel(kARMSHA2, ms, tail, target, base, n)
}

func scanNEON(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (uint32, bool) {
	return scanKernel(kNEON, ms, tail, target, base, n)
}

// kernelX4 runs a 4-nonce assembly kernel (k: kARMSHA2 or kNEON) over the
// largest multiple of 4 and the generic kernel over the 0..3 nonces left.
func kernelX4(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	m := n &^ 3
	if m > 0 {
		var nonce uint32
		var ok bool
		if k == kNEON {
			nonce, ok = kernelNEON4(p, t7, base, m)
		} else {
			nonce, ok = kernelSHA2x4(p, t7, base, m)
		}
		if ok {
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
	sha2, neon := "", ""
	if !useSHA2 {
		sha2 = "needs the ARMv8 SHA2 extension, CPU lacks SHA2"
	}
	if !useNEON {
		neon = "needs ASIMD (NEON), CPU lacks ASIMD"
	}
	return []Impl{
		{Name: "armsha2", Available: sha2 == "", Missing: sha2, CPUFlags: []string{"sha2"}, Scan: scanARMSHA2, Lanes: 4},
		{Name: "neon", Available: neon == "", Missing: neon, CPUFlags: []string{"asimd"}, Scan: scanNEON, Lanes: 4},
	}
}

func archKernel(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	if k == kARMSHA2 || k == kNEON {
		return kernelX4(k, p, t7, base, n)
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
