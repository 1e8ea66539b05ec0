package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var rMask = R10 // candidate lane bits of a vector group

func newVgen(v *visa, frame Mem) *vgen {
	g := &vgen{v: v, frame: frame, slot: map[string]Mem{}}
	regs := v.regs
	g.t = [3]VecPhysical{regs[0], regs[1], regs[2]}
	g.tacc = regs[3]
	for i := len(regs) - 1; i >= 4; i-- {
		g.free = append(g.free, regs[i])
	}
	return g
}

func (g *vgen) add3(a Op, b, dst VecPhysical) { g.add(func() { VPADDD(a, b, dst) }) }

// build records the computation of one group of lanes (nonces rNonce+laneBase
// onwards), ending with the candidate mask in K1 (AVX-512) or rMask (AVX2).
func (g *vgen) build(laneBase int) {
	h1, h2 := plans()
	v := g.v
	// W3: the byte-swapped nonces.
	w3, _ := g.alloc()
	nonceSlot := g.getSlot("nonce")
	g.add(func() { MOVL(rNonce.As32(), nonceSlot) })
	g.add(func() { VPBROADCASTD(nonceSlot, w3) })
	g.addv(v.vspecial(0), w3)
	if laneBase != 0 {
		g.addv(v.vconst(uint32(laneBase)), w3)
	}
	g.add(func() { VPSHUFB(v.vspecial(1), w3, w3) })

	// Hash 1: block 2 of the header from the state after round 2.
	for i := range g.w {
		g.w[i] = wloc{}
	}
	g.w[3] = wloc{kind: wVec, reg: w3, inReg: true, live: true}
	for t := 4; t < 16; t++ {
		c, _ := h1.known(t)
		g.w[t] = wloc{kind: wConst, c: c}
	}
	g.w[16] = wloc{kind: wJob}
	g.w[17] = wloc{kind: wJob}
	g.computeLastUse(h1, 3)
	for i := range g.st {
		g.st[i], _ = g.alloc()
	}
	for i := 0; i < 7; i++ {
		g.mov(g.getSlot(fmt.Sprintf("st%d", i)), g.st[i])
	}
	// Round 3: T1 = pre3 + W3 (pre3 holds h + Σ1(e) + Ch(e,f,g) + K3).
	{
		a, b, c, d, h := g.st[0], g.st[1], g.st[2], g.st[3], g.st[7]
		g.add3(g.getSlot("pre3"), w3, h)
		g.use(3, 7)
		g.addv(h, d)
		g.sigma(a, 2, 13, 22, false, g.t[0])
		g.maj(a, b, c, g.t[1])
		g.addv(g.t[1], g.t[0])
		g.addv(g.t[0], h)
		g.st = [8]VecPhysical{h, a, b, c, d, g.st[4], g.st[5], g.st[6]}
	}
	for t := 4; t <= 63; t++ {
		if t >= 18 {
			g.computeW(t, h1)
		}
		g.round(g.kwAdder(t), true)
	}
	// Feed-forward: the digest words become hash 2's W0..7.
	for i := range g.w {
		g.w[i] = wloc{}
	}
	for i := range 8 {
		g.addv(g.getSlot(fmt.Sprintf("ms%d", i)), g.st[i])
		g.w[i] = wloc{kind: wVec, reg: g.st[i], inReg: true, live: true}
	}
	for t := 8; t < 16; t++ {
		c, _ := h2.known(t)
		g.w[t] = wloc{kind: wConst, c: c}
	}
	g.computeLastUse(h2, 0)
	// Spill digest words while there are not enough registers for the state.
	for i := 7; len(g.free) < 8; i-- {
		w := &g.w[i]
		w.mem = g.getSlot(fmt.Sprintf("w%d", i))
		g.store(w.reg, w.mem)
		g.release(w.reg)
		w.inReg = false
	}
	for i := range g.st {
		var ok bool
		if g.st[i], ok = g.alloc(); !ok {
			panic("no registers for hash 2 state")
		}
	}
	// Hash 2, round 0 from the constant IV: T1 = W0 + C0.
	c0 := iv[7] + bigS1(iv[4]) + chS(iv[4], iv[5], iv[6]) + k[0]
	a0 := bigS0(iv[0]) + majS(iv[0], iv[1], iv[2])
	{
		h, d := g.st[7], g.st[3]
		g.add3(v.vconst(c0), g.w[0].reg, h)
		g.use(0, 1)
		g.add3(v.vconst(iv[3]), h, d)
		g.addv(v.vconst(a0), h)
		for i, r := range []VecPhysical{g.st[0], g.st[1], g.st[2], g.st[4], g.st[5], g.st[6]} {
			g.mov(v.vconst(iv[[]int{0, 1, 2, 4, 5, 6}[i]]), r)
		}
		g.st = [8]VecPhysical{h, g.st[0], g.st[1], g.st[2], d, g.st[4], g.st[5], g.st[6]}
	}
	for t := 1; t <= 60; t++ {
		if t >= 16 {
			g.computeW(t, h2)
		}
		g.round(g.kwAdder(t), t <= 56)
	}
	// H7 = IV7 + e; candidates have bswap(H7) <= t7.
	t0, t1 := g.t[0], g.t[1]
	g.add3(v.vconst(iv[7]), g.st[4], t0)
	g.add(func() { VPSHUFB(v.vspecial(1), t0, t0) })
	t7 := g.getSlot("t7")
	if v.evex {
		km := g.kmask
		if km == nil {
			km = K1
		}
		g.add(func() { VPCMPUD(U8(2), t7, t0, km) })
	} else {
		g.add(func() { VPMINUD(t7, t0, t1) })
		g.add(func() { VPCMPEQD(t1, t0, t1) })
		g.add(func() { VMOVMSKPS(t1, rMask.As32()) })
	}
	for _, r := range g.st {
		g.release(r)
	}
}

// initSlots emits, once per call, the broadcast of every per-call value
// that build referred to.
func (g *vgen) initSlots() {
	t0 := g.t[0]
	bcast := func(src Mem, dst Mem) {
		VPBROADCASTD(src, t0)
		if g.v.evex {
			VMOVDQU32(t0, dst)
		} else {
			VMOVDQU(t0, dst)
		}
	}
	for name, slot := range sortedSlots(g.slot) {
		var off int
		switch {
		case name == "nonce" || name[0] == 'w':
			continue
		case name == "t7":
			s := g.getSlot("t7scalar")
			MOVL(rT7.As32(), s)
			bcast(s, slot)
			continue
		case name == "pre3":
			off = prepOffPre3
		case name[:2] == "st":
			off = prepOffSt + 4*atoi(name[2:])
		case name[:2] == "ms":
			off = prepOffMS + 4*atoi(name[2:])
		case name[:2] == "jw":
			off = prepOffJW + 4*atoi(name[2:])
		default:
			continue
		}
		bcast(Mem{Base: pPrep, Disp: off}, slot)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// sortedSlots iterates slots in a deterministic order (generated code must
// not depend on map order).
func sortedSlots(m map[string]Mem) func(yield func(string, Mem) bool) {
	return func(yield func(string, Mem) bool) {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		for i := range names {
			for j := i + 1; j < len(names); j++ {
				if names[j] < names[i] {
					names[i], names[j] = names[j], names[i]
				}
			}
		}
		for _, n := range names {
			if !yield(n, m[n]) {
				return
			}
		}
	}
}

const maxSlots = 110

// vecFrame reserves the vector kernel's stack: maxSlots spill and per-call
// slots, and for AVX-512 maxConsts constant slots (v.cframe) after them.
// rFrame points 128 slots in, so that EVEX's 1-byte displacement (a
// multiple of 64 in -8192..8128) reaches every slot.
func vecFrame(v *visa) Mem {
	if !v.evex {
		return alignedFrame(maxSlots*v.width, 0)
	}
	frame := alignedFrame((maxSlots+maxConsts)*v.width, 128*v.width)
	c := frame.Offset(maxSlots * v.width)
	v.cframe = &c
	return frame
}

// vecMaskCheck emits the test of a vector group's candidate mask for lanes
// starting at nonce offset 0.
func vecMaskCheck(v *visa, next string) { vecMaskCheckK(v, K1, 0, next) }

// vecMaskCheckK tests the candidate mask in km for lanes starting at off.
func vecMaskCheckK(v *visa, km Op, off int, next string) {
	if v.evex {
		KMOVW(km, rMask.As32())
	}
	TESTL(rMask.As32(), rMask.As32())
	JZ(LabelRef(next))
	BSFL(rMask.As32(), rTmp2.As32())
	if off != 0 {
		ADDL(U32(off), rTmp2.As32())
	}
	CMPL(rTmp2.As32(), rLeft.As32())
	JAE(LabelRef("notfound"))
	MOVL(rNonce.As32(), rTmp.As32())
	ADDL(rTmp2.As32(), rTmp.As32())
	JMP(LabelRef("found"))
}

func genVector(v *visa) {
	name := map[string]string{"avx2": "kernelAVX2", "avx512": "kernelAVX512"}[v.name]
	TEXT(name, 0, kernelSig)
	Doc(fmt.Sprintf("%s scans %d nonces at a time in %s lanes.", name, v.lanes, v.name))
	prologue()
	g := newVgen(v, vecFrame(v))
	g.build(0)
	g.initSlots()
	if g.nslot > maxSlots-1 {
		panic("too many slots")
	}
	if v.cframe != nil {
		v.copyConsts(g.t[0])
	}
	loopHead("loop")
	TESTL(rLeft.As32(), rLeft.As32())
	JZ(LabelRef("notfound"))
	emit(g.s)
	vecMaskCheck(v, "next")
	Label("next")
	CMPL(rLeft.As32(), U32(v.lanes))
	JBE(LabelRef("notfound"))
	ADDL(U32(v.lanes), rNonce.As32())
	SUBL(U32(v.lanes), rLeft.As32())
	JMP(LabelRef("loop"))
	epilogues(true)
	v.genTables()
}

// genHybrid emits kernelHybrid: 16 AVX-512 lanes with 24 registers
// (Z8..Z31) and seq single SHA-NI lanes (X0..X7) computed one after another,
// all in one instruction stream, so the SHA unit works while the vector
// ALUs do. Measured side by side with kernelAVX512 on an AMD EPYC (Zen 5),
// one thread each: seq=2 was 2% faster (4 of 4 runs), seq=3 0.5%; the
// earlier form, a 2-lane SHA-NI pair beside 16 AVX-512 lanes restricted to
// Z16..Z31, was 3% slower, and with 2, 3 or 4 pairs 10-25% slower: the SHA
// instructions compete with the vector ones for the same pipes. Also
// measured and dropped: two interleaved 16-lane AVX-512 groups with 16
// registers each (about 15% slower than one group with 32).
func genHybrid(seq int) {
	regs := []VecPhysical{Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	v := &visa{name: "hyb", width: 64, lanes: 16, evex: true, regs: regs}
	name := "kernelHybrid"
	TEXT(name, 0, kernelSig)
	Doc(fmt.Sprintf("%s scans 16 nonces in AVX-512 lanes and %d in one SHA-NI lane, interleaved.", name, seq))
	prologue()
	frame := vecFrame(v)
	h7 := frame.Offset((maxSlots - 1) * v.width)
	g := newVgen(v, frame)
	g.build(0)
	g.initSlots()
	if g.nslot > maxSlots-1 {
		panic("too many slots")
	}
	v.copyConsts(g.t[0])
	var sha stream
	for i := range seq {
		l := &shaLane{abef: X1, cdgh: X2, m: [4]VecPhysical{X3, X4, X5, X6}, tmp: X7, nonceOff: 16 + i, h7: h7.Offset(4 * i)}
		sha = append(sha, shaStream(l)...)
	}
	loopHead("loop")
	TESTL(rLeft.As32(), rLeft.As32())
	JZ(LabelRef("notfound"))
	emit(g.s, sha)
	vecMaskCheck(v, "sha")
	Label("sha")
	checkLanes(h7, 16, 16+seq)
	lanes := 16 + seq
	CMPL(rLeft.As32(), U32(lanes))
	JBE(LabelRef("notfound"))
	ADDL(U32(lanes), rNonce.As32())
	SUBL(U32(lanes), rLeft.As32())
	JMP(LabelRef("loop"))
	epilogues(true)
	v.genTables()
}
