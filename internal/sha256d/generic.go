package sha256d

import (
	"encoding/binary"
	"math/bits"
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
func bigS0(x uint32) uint32 {
	return bits.RotateLeft32(x, -2) ^ bits.RotateLeft32(x, -13) ^ bits.RotateLeft32(x, -22)
}
func bigS1(x uint32) uint32 {
	return bits.RotateLeft32(x, -6) ^ bits.RotateLeft32(x, -11) ^ bits.RotateLeft32(x, -25)
}
func ch(e, f, g uint32) uint32  { return g ^ e&(f^g) }
func maj(a, b, c uint32) uint32 { return a&b | c&(a|b) }

// compress is the plain SHA-256 compression function (reference path).
func compress(s *[8]uint32, m *[16]uint32) {
	var w [64]uint32
	copy(w[:], m[:])
	for i := 16; i < 64; i++ {
		w[i] = s1(w[i-2]) + w[i-7] + s0(w[i-15]) + w[i-16]
	}
	a, b, c, d, e, f, g, h := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	for i := range 64 {
		t1 := h + bigS1(e) + ch(e, f, g) + k[i] + w[i]
		t2 := bigS0(a) + maj(a, b, c)
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	s[0] += a
	s[1] += b
	s[2] += c
	s[3] += d
	s[4] += e
	s[5] += f
	s[6] += g
	s[7] += h
}

// prep holds what is computed once per Scan call: everything about the second
// header block that does not depend on the nonce. The assembly kernels read
// it at fixed offsets (see the prepOff* constants, checked by a test).
type prep struct {
	ms   [8]uint32 // midstate a..h
	st   [8]uint32 // state after rounds 0..2 of block 2
	w    [3]uint32 // W0..W2 of block 2 (big-endian words of tail[0:12])
	pre3 uint32    // round 3's T1 without W3: h + Σ1(e) + Ch(e,f,g) + K3
	w16  uint32    // W16 (nonce-free)
	w17  uint32    // W17 (nonce-free)
	w18  uint32    // W18 - σ0(W3)
	w19  uint32    // W19 - W3
	// Packed forms for SHA-NI: state words in (F,E,B,A) and (H,G,D,C) order,
	// little-endian lanes, as SHA256RNDS2 keeps them.
	msABEF  [4]uint32 // midstate
	msCDGH  [4]uint32
	st2ABEF [4]uint32 // state after rounds 0..1 of block 2
	st2CDGH [4]uint32
	// jw[t] for t in 16..33 is the nonce-free part of schedule word W[t] of
	// block 2: the sum of its terms that involve neither W3 nor W[18..].
	jw [34]uint32
}

// Offsets of prep fields, used by the generated assembly.
const (
	prepOffMS      = 0
	prepOffSt      = 32
	prepOffW       = 64
	prepOffPre3    = 76
	prepOffW16     = 80
	prepOffMsABEF  = 96
	prepOffSt2ABEF = 128
	prepOffJW      = 160
	prepSize       = 296
)

func (p *prep) init(ms *Midstate, tail *[16]byte) {
	p.ms = *ms
	for i := range 3 {
		p.w[i] = binary.BigEndian.Uint32(tail[4*i:])
	}
	a, b, c, d, e, f, g, h := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6], ms[7]
	for i := range 3 {
		if i == 2 {
			p.st2ABEF = [4]uint32{f, e, b, a}
			p.st2CDGH = [4]uint32{h, g, d, c}
		}
		t1 := h + bigS1(e) + ch(e, f, g) + k[i] + p.w[i]
		t2 := bigS0(a) + maj(a, b, c)
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	p.st = [8]uint32{a, b, c, d, e, f, g, h}
	p.pre3 = h + bigS1(e) + ch(e, f, g) + k[3]
	p.w16 = s0(p.w[1]) + p.w[0]
	p.w17 = s1(640) + s0(p.w[2]) + p.w[1]
	p.w18 = s1(p.w16) + p.w[2]
	p.w19 = s1(p.w17) + s0(0x80000000)
	var w [18]uint32
	copy(w[:], p.w[:])
	w[4], w[15], w[16], w[17] = 0x80000000, 640, p.w16, p.w17
	dep := func(i int) bool { return i == 3 || i >= 18 }
	for t := 16; t < 34; t++ {
		var sum uint32
		if !dep(t - 2) {
			sum += s1(w[t-2])
		}
		if !dep(t - 7) {
			sum += w[t-7]
		}
		if !dep(t - 15) {
			sum += s0(w[t-15])
		}
		if !dep(t - 16) {
			sum += w[t-16]
		}
		p.jw[t] = sum
	}
	p.msABEF = [4]uint32{ms[5], ms[4], ms[1], ms[0]}
	p.msCDGH = [4]uint32{ms[7], ms[6], ms[3], ms[2]}
}

// scanGeneric is the portable implementation.
func scanGeneric(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (uint32, bool) {
	return scanKernel(kGeneric, ms, tail, target, base, n)
}

// kernelGeneric scans with the midstate, prehash, pre-extension and H7
// early-exit tricks in portable Go.
func kernelGeneric(p *prep, t7, base, n uint32) (uint32, bool) {
	var w [64]uint32
	// Nonce-free schedule words of block 2.
	w[0], w[1], w[2] = p.w[0], p.w[1], p.w[2]
	w[4] = 0x80000000
	w[15] = 640
	w[16], w[17] = p.w16, p.w17
	var w2 [64]uint32
	w2[8] = 0x80000000
	w2[15] = 256
	for i := range n {
		nonce := base + i
		w3 := swap32(nonce)
		// Block 2 schedule: words 18..31 with the known zeros dropped.
		w[3] = w3
		w[18] = p.w18 + s0(w3)
		w[19] = p.w19 + w3
		w[20] = s1(w[18]) + 0x80000000
		w[21] = s1(w[19])
		w[22] = s1(w[20]) + 640
		w[23] = s1(w[21]) + w[16]
		w[24] = s1(w[22]) + w[17]
		w[25] = s1(w[23]) + w[18]
		w[26] = s1(w[24]) + w[19]
		w[27] = s1(w[25]) + w[20]
		w[28] = s1(w[26]) + w[21]
		w[29] = s1(w[27]) + w[22]
		w[30] = s1(w[28]) + w[23] + s0(640)
		w[31] = s1(w[29]) + w[24] + s0(w[16]) + 640
		for j := 32; j < 64; j++ {
			w[j] = s1(w[j-2]) + w[j-7] + s0(w[j-15]) + w[j-16]
		}
		a, b, c, d, e, f, g, h := p.st[0], p.st[1], p.st[2], p.st[3], p.st[4], p.st[5], p.st[6], p.st[7]
		// Round 3 with its nonce-free part precomputed.
		t1 := p.pre3 + w3
		t2 := bigS0(a) + maj(a, b, c)
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		for j := 4; j < 64; j++ {
			t1 := h + bigS1(e) + ch(e, f, g) + k[j] + w[j]
			t2 := bigS0(a) + maj(a, b, c)
			h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		}
		// Second hash: the 32-byte digest, padded; W8..W15 are constants.
		w2[0], w2[1], w2[2], w2[3] = p.ms[0]+a, p.ms[1]+b, p.ms[2]+c, p.ms[3]+d
		w2[4], w2[5], w2[6], w2[7] = p.ms[4]+e, p.ms[5]+f, p.ms[6]+g, p.ms[7]+h
		w2[16] = s0(w2[1]) + w2[0]
		w2[17] = s1(256) + s0(w2[2]) + w2[1]
		for j := 18; j < 22; j++ {
			w2[j] = s1(w2[j-2]) + s0(w2[j-15]) + w2[j-16]
		}
		w2[22] = s1(w2[20]) + 256 + s0(w2[7]) + w2[6]
		w2[23] = s1(w2[21]) + w2[16] + s0(0x80000000) + w2[7]
		w2[24] = s1(w2[22]) + w2[17] + 0x80000000
		for j := 25; j < 30; j++ {
			w2[j] = s1(w2[j-2]) + w2[j-7]
		}
		w2[30] = s1(w2[28]) + w2[23] + s0(256)
		w2[31] = s1(w2[29]) + w2[24] + s0(w2[16]) + 256
		for j := 32; j < 61; j++ {
			w2[j] = s1(w2[j-2]) + w2[j-7] + s0(w2[j-15]) + w2[j-16]
		}
		a, b, c, d, e, f, g, h = iv[0], iv[1], iv[2], iv[3], iv[4], iv[5], iv[6], iv[7]
		for j := range 57 {
			t1 := h + bigS1(e) + ch(e, f, g) + k[j] + w2[j]
			t2 := bigS0(a) + maj(a, b, c)
			h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		}
		// Rounds 57..60 only feed e; after round 60, H7 = IV7 + e.
		for j := 57; j < 61; j++ {
			t1 := h + bigS1(e) + ch(e, f, g) + k[j] + w2[j]
			h, g, f, e, d, c, b = g, f, e, d+t1, c, b, a
		}
		if swap32(iv[7]+e) <= t7 {
			return nonce, true
		}
	}
	return 0, false
}
