// Command _asm generates scan_amd64.s, the assembly kernels of package
// sha256d, with avo. Run it from this directory:
//
//	go run . -out ../scan_amd64.s
//
// The kernels share one contract with the Go kernel kernelGeneric in
// ../generic.go: given the per-call precomputation *prep, the top target
// word t7 and a nonce range [base, base+n), return the first nonce whose
// digest word H7 satisfies bswap(H7) <= t7 (a candidate that Go confirms).
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

//go:generate go run . -out ../scan_amd64.s

func main() {
	ConstraintExpr("!purego")
	genConstants()
	genCPUID()
	genSHANI()
	genVector(avx2)
	genVector(avx512)
	genHybrid(2)
	Generate()
}
