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
	. "github.com/mmcloughlin/avo/reg"
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
	genWidthProbe("widthProbe512", []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16})
	genWidthProbe("widthProbe256", []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15})
	Generate()
}
