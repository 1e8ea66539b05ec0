package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// shaLane is the register set of one SHA-NI nonce lane: the state pair
// (ABEF, CDGH), four message-group registers and one temporary. X0, the
// implicit SHA256RNDS2 operand, is shared; every chunk that uses it is
// self-contained.
type shaLane struct {
	abef, cdgh VecPhysical
	m          [4]VecPhysical
	tmp        VecPhysical
	nonceOff   int // nonce = rNonce + nonceOff
	h7         Mem // where the lane's H7 (already byte-swapped) goes
}

// rnds2 emits two rounds with X0 and tracks where ABEF/CDGH now live.
func (l *shaLane) rnds2() {
	SHA256RNDS2(X0, l.abef, l.cdgh)
	l.abef, l.cdgh = l.cdgh, l.abef
}

// quad emits four rounds whose K+W words are already in X0.
func (l *shaLane) quad() {
	l.rnds2()
	PSHUFD(U8(0x0e), X0, X0)
	l.rnds2()
}

// sched emits the standard 4-round group c (4 <= c <= 14) of a schedule in
// m: rounds with K[4c..4c+3] + m[c%4], producing group c+1 with
// sha256msg2 and, while still needed, preparing group c+3 with sha256msg1.
// Setting last stops after the first two rounds (hash 2's early exit).
func (l *shaLane) sched(c int, last bool) {
	m, a, t := l.m[c%4], l.m[(c+3)%4], l.m[(c+1)%4]
	MOVOU(m, X0)
	PADDD(shaK.Offset(16*c), X0)
	if c == 15 {
		l.rnds2()
		if !last {
			PSHUFD(U8(0x0e), X0, X0)
			l.rnds2()
		}
		return
	}
	l.rnds2()
	MOVOU(m, l.tmp)
	PALIGNR(U8(4), a, l.tmp)
	PADDD(l.tmp, t)
	SHA256MSG2(m, t)
	PSHUFD(U8(0x0e), X0, X0)
	l.rnds2()
	if c <= 12 {
		SHA256MSG1(m, a)
	}
}

// shaStream records the whole computation of one lane's H7 as chunks.
func shaStream(l *shaLane) stream {
	var s stream
	// Block 2 (the header's bytes 64..79 plus padding), from the state
	// after rounds 0..1, which prep holds.
	s.add(func() {
		MOVOU(Mem{Base: pPrep, Disp: prepOffSt2ABEF}, l.abef)
		MOVOU(Mem{Base: pPrep, Disp: prepOffSt2ABEF + 16}, l.cdgh)
		MOVOU(Mem{Base: pPrep, Disp: prepOffW}, l.m[0]) // W0 W1 W2 (pre3)
		MOVL(rNonce.As32(), rTmp.As32())
		if l.nonceOff != 0 {
			ADDL(U32(l.nonceOff), rTmp.As32())
		}
		BSWAPL(rTmp.As32())
		PINSRD(U8(3), rTmp.As32(), l.m[0])
	})
	s.add(func() { // rounds 2..3
		MOVOU(l.m[0], X0)
		PADDD(shaK, X0)
		PSHUFD(U8(0x0e), X0, X0)
		l.rnds2()
	})
	s.add(func() { // rounds 4..7: W4..7 constant
		MOVOU(shaConst.Offset(cKW1h1), X0)
		l.quad()
		MOVOU(shaConst.Offset(cG1h1), l.m[1])
		SHA256MSG1(l.m[1], l.m[0])
	})
	s.add(func() { // rounds 8..11: W8..11 zero
		MOVOU(shaK.Offset(32), X0)
		l.quad()
		MOVOU(shaConst.Offset(cMsg1h1), l.m[1])
	})
	s.add(func() { // rounds 12..15, first schedule group
		MOVOU(shaConst.Offset(cKW3h1), X0)
		MOVOU(shaConst.Offset(cG3h1), l.m[3])
		l.rnds2()
		SHA256MSG2(l.m[3], l.m[0]) // W16..19 (W9..12 are zero)
		PSHUFD(U8(0x0e), X0, X0)
		l.rnds2()
		PXOR(l.m[2], l.m[2]) // sha256msg1 of two zero-ish groups
	})
	for c := 4; c <= 15; c++ {
		s.add(func() { l.sched(c, false) })
	}
	s.add(func() { // feed-forward, reorder the digest into hash 2's W0..7
		MOVOU(Mem{Base: pPrep, Disp: prepOffMsABEF}, l.tmp)
		PADDD(l.tmp, l.abef)
		MOVOU(Mem{Base: pPrep, Disp: prepOffMsABEF + 16}, l.tmp)
		PADDD(l.tmp, l.cdgh)
		PSHUFD(U8(0x1b), l.abef, l.abef) // A B E F
		PSHUFD(U8(0xb1), l.cdgh, l.cdgh) // G H C D
		MOVOU(l.abef, l.tmp)
		PBLENDW(U8(0xf0), l.cdgh, l.abef) // A B C D
		PALIGNR(U8(8), l.tmp, l.cdgh)     // E F G H
		// Rename: the digest becomes the message; free registers hold the state.
		w0, w1 := l.abef, l.cdgh
		l.abef, l.cdgh = l.m[0], l.m[1]
		l.m[0], l.m[1] = w0, w1
		MOVOU(shaIV, l.abef)
		MOVOU(shaIV.Offset(16), l.cdgh)
	})
	// Hash 2 of the 32-byte digest: W8..15 are constants.
	s.add(func() {
		MOVOU(l.m[0], X0)
		PADDD(shaK, X0)
		l.quad()
	})
	s.add(func() {
		MOVOU(l.m[1], X0)
		PADDD(shaK.Offset(16), X0)
		l.quad()
		SHA256MSG1(l.m[1], l.m[0])
	})
	s.add(func() {
		MOVOU(shaConst.Offset(cKW2h2), X0)
		l.quad()
		MOVOU(shaConst.Offset(cG2h2), l.m[2])
		SHA256MSG1(l.m[2], l.m[1])
	})
	s.add(func() {
		MOVOU(shaConst.Offset(cKW3h2), X0)
		MOVOU(shaConst.Offset(cG3h2), l.m[3])
		l.rnds2()
		SHA256MSG2(l.m[3], l.m[0]) // W16..19 (W9..12 are zero)
		PSHUFD(U8(0x0e), X0, X0)
		l.rnds2()
		// sha256msg1(W8..11, W12..15) = W8..11: m[2] already holds it.
	})
	for c := 4; c <= 15; c++ {
		s.add(func() { l.sched(c, c == 15) })
	}
	// After 62 rounds F (lane 0 of ABEF) is the e of round 60: H7 = IV7 + F.
	s.add(func() {
		MOVD(l.abef, rTmp.As32())
		ADDL(U32(iv[7]), rTmp.As32())
		BSWAPL(rTmp.As32())
		MOVL(rTmp.As32(), l.h7)
	})
	return s
}

// shaPairLanes returns the two lanes of a 2-way interleaved SHA-NI pair;
// they use X1..X14 (X0 is shared, X15 is free).
func shaPairLanes(off int, h7 Mem) (*shaLane, *shaLane) {
	a := &shaLane{abef: X1, cdgh: X2, m: [4]VecPhysical{X3, X4, X5, X6}, tmp: X7, nonceOff: off, h7: h7}
	b := &shaLane{abef: X8, cdgh: X9, m: [4]VecPhysical{X10, X11, X12, X13}, tmp: X14, nonceOff: off + 1, h7: h7.Offset(4)}
	return a, b
}

// zip interleaves two equally long streams chunk by chunk.
func zip(a, b stream) stream {
	var s stream
	for i := range a {
		s = append(s, a[i], b[i])
	}
	return s
}

// checkLanes emits the candidate test for lanes lo..hi-1 whose byte-swapped
// H7 words are at h7[i]; lane i's nonce is rNonce+i. It jumps to found with
// the nonce in rTmp, or to notfound when lane i is past the range.
func checkLanes(h7 Mem, lo, hi int) {
	for i := lo; i < hi; i++ {
		if i > 0 {
			CMPL(rLeft.As32(), U32(i))
			JBE(LabelRef("notfound"))
		}
		CMPL(h7.Offset(4*(i-lo)), rT7.As32())
		JA(LabelRef(fmt.Sprintf("nohit%d", i)))
		MOVL(rNonce.As32(), rTmp.As32())
		if i > 0 {
			ADDL(U32(i), rTmp.As32())
		}
		JMP(LabelRef("found"))
		Label(fmt.Sprintf("nohit%d", i))
	}
}

func genSHANI() {
	TEXT("kernelSHANI", 0, kernelSig)
	Doc("kernelSHANI scans with SHA-NI, two nonces interleaved.")
	h7 := AllocLocal(8)
	prologue()
	loopHead("loop")
	TESTL(rLeft.As32(), rLeft.As32())
	JZ(LabelRef("notfound"))
	a, b := shaPairLanes(0, h7)
	emit(zip(shaStream(a), shaStream(b)))
	checkLanes(h7, 0, 2)
	CMPL(rLeft.As32(), U8(2))
	JBE(LabelRef("notfound"))
	ADDL(U8(2), rNonce.As32())
	SUBL(U8(2), rLeft.As32())
	JMP(LabelRef("loop"))
	epilogues(false)
}
