//go:build !purego

package sha256d

import (
	"strings"

	"golang.org/x/sys/cpu"
)

func archImpls() []Impl { return nil }

// cpuFeatures names the CPU features relevant to the kernels.
func cpuFeatures() string {
	var f []string
	if cpu.X86.HasAVX2 {
		f = append(f, "avx2")
	}
	if cpu.X86.HasAVX512F {
		f = append(f, "avx512f")
	}
	if cpu.X86.HasAVX512VL {
		f = append(f, "avx512vl")
	}
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, " ")
}

func archKernel(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	panic("sha256d: unknown kernel")
}
