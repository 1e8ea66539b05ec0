//go:build purego || !(amd64 || arm64)

package sha256d

func archImpls() []Impl { return nil }

func cpuFeatures() string { return "no assembly in this build" }

func archKernel(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	panic("sha256d: no assembly kernels in this build")
}
