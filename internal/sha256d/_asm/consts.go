package main

import (
	"fmt"
	"math/bits"

	"github.com/mmcloughlin/avo/attr"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

var iv = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

var k = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

func s0(x uint32) uint32 { return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ x>>3 }
func s1(x uint32) uint32 { return bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ x>>10 }

// Offsets into package sha256d's prep struct (checked by its TestPrepOffsets).
const (
	prepOffMS      = 0
	prepOffSt      = 32
	prepOffW       = 64
	prepOffPre3    = 76
	prepOffMsABEF  = 96
	prepOffSt2ABEF = 128
	prepOffJW      = 160
)

// Symbols for 16-byte constants used by the SHA-NI kernel.
var (
	shaK     Mem // K[0..63]
	shaIV    Mem // IV as ABEF, CDGH
	shaConst Mem // assorted 16-byte constants, see genConstants
)

// Offsets into shaConst.
const (
	cKW1h1    = 0   // K4..7 + (0x80000000,0,0,0): block-2 rounds 4..7
	cG1h1     = 16  // (0x80000000,0,0,0): block-2 W4..7
	cMsg1h1   = 32  // sha256msg1(W4..7, W8..11) of block 2
	cG3h1     = 48  // (0,0,0,640): block-2 W12..15
	cKW3h1    = 64  // K12..15 + (0,0,0,640)
	cKW2h2    = 80  // K8..11 + (0x80000000,0,0,0): hash-2 rounds 8..11
	cG2h2     = 96  // (0x80000000,0,0,0): hash-2 W8..11
	cG3h2     = 112 // (0,0,0,256): hash-2 W12..15
	cKW3h2    = 128 // K12..15 + (0,0,0,256)
	shaConstN = 144
)

// vecTable returns a symbol holding each value of vals broadcast to width
// bytes, one after the other.
func vecTable(name string, width int, vals []uint32) Mem {
	m := GLOBL(name, attr.RODATA|attr.NOPTR)
	for i, v := range vals {
		for j := 0; j < width/4; j++ {
			DATA(i*width+4*j, U32(v))
		}
	}
	return m
}

func u32Table(name string, vals []uint32) Mem {
	m := GLOBL(name, attr.RODATA|attr.NOPTR)
	for i, v := range vals {
		DATA(4*i, U32(v))
	}
	return m
}

func genConstants() {
	shaK = u32Table("shaK", k[:])
	shaIV = u32Table("shaIV", []uint32{iv[5], iv[4], iv[1], iv[0], iv[7], iv[6], iv[3], iv[2]})
	msg1 := func(a, b [4]uint32) [4]uint32 {
		w := [5]uint32{a[0], a[1], a[2], a[3], b[0]}
		var r [4]uint32
		for i := range r {
			r[i] = w[i] + s0(w[i+1])
		}
		return r
	}
	var c []uint32
	add := func(off int, v [4]uint32) {
		if len(c) != off/4 {
			panic(fmt.Sprintf("shaConst layout: at %d, want %d", len(c)*4, off))
		}
		c = append(c, v[:]...)
	}
	add(cKW1h1, [4]uint32{k[4] + 0x80000000, k[5], k[6], k[7]})
	add(cG1h1, [4]uint32{0x80000000, 0, 0, 0})
	add(cMsg1h1, msg1([4]uint32{0x80000000, 0, 0, 0}, [4]uint32{}))
	add(cG3h1, [4]uint32{0, 0, 0, 640})
	add(cKW3h1, [4]uint32{k[12], k[13], k[14], k[15] + 640})
	add(cKW2h2, [4]uint32{k[8] + 0x80000000, k[9], k[10], k[11]})
	add(cG2h2, [4]uint32{0x80000000, 0, 0, 0})
	add(cG3h2, [4]uint32{0, 0, 0, 256})
	add(cKW3h2, [4]uint32{k[12], k[13], k[14], k[15] + 256})
	if len(c)*4 != shaConstN {
		panic("shaConst size")
	}
	shaConst = u32Table("shaConst", c)
}
