package main

import (
	"fmt"
	"math/bits"

	"github.com/mmcloughlin/avo/attr"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// visa is a vector instruction set: 8 lanes of AVX2 or 16 of AVX-512.
type visa struct {
	name  string
	width int // bytes per vector
	lanes int
	evex  bool // AVX-512: rotates, ternary logic, memory operands everywhere
	regs  []VecPhysical

	consts []uint32 // broadcast constants used, in table order
	index  map[uint32]int
	// cframe, when set (AVX-512), is where the kernel's prologue copies the
	// constants to (copyConsts): its aligned frame, reached with 1-byte
	// displacements (7-byte instructions instead of 10 with RIP-relative
	// addresses), on 64-byte boundaries wherever the linker puts the tables.
	cframe *Mem
}

// Constant slots in cframe: the two vspecial vectors, then the broadcasts.
const maxConsts = 96

var avx2 = &visa{name: "avx2", width: 32, lanes: 8,
	regs: []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}}

var avx512 = &visa{name: "avx512", width: 64, lanes: 16, evex: true,
	regs: []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}}

// vconst returns a memory operand holding v in every lane.
func (v *visa) vconst(x uint32) Mem {
	if v.index == nil {
		v.index = map[uint32]int{}
	}
	i, ok := v.index[x]
	if !ok {
		i = len(v.consts)
		v.index[x] = i
		v.consts = append(v.consts, x)
	}
	if v.cframe != nil {
		if i+2 >= maxConsts {
			panic("too many constants for the frame")
		}
		return v.cframe.Offset((i + 2) * v.width)
	}
	return NewDataAddr(NewStaticSymbol("vc_"+v.name), i*v.width)
}

// vspecial returns the lane-offset vector (0, 1, ..., lanes-1) (i=0) or the
// per-word byte-swap shuffle mask (i=1).
func (v *visa) vspecial(i int) Mem {
	if v.cframe != nil {
		return v.cframe.Offset(i * v.width)
	}
	return NewDataAddr(NewStaticSymbol("vx_"+v.name), i*v.width)
}

// copyConsts emits the copy of every constant the kernel refers to into
// cframe, through tmp; it comes after the kernel's stream is built.
func (v *visa) copyConsts(tmp VecPhysical) {
	for i := range 2 {
		VMOVDQU32(NewDataAddr(NewStaticSymbol("vx_"+v.name), i*v.width), tmp)
		VMOVDQA32(tmp, v.cframe.Offset(i*v.width))
	}
	for i := range v.consts {
		VPBROADCASTD(NewDataAddr(NewStaticSymbol("vc_"+v.name), 4*i), tmp)
		VMOVDQA32(tmp, v.cframe.Offset((i+2)*v.width))
	}
}

// genTables emits the constant tables a kernel of v referred to.
func (v *visa) genTables() {
	switch {
	case len(v.consts) > 0 && v.cframe != nil:
		u32Table("vc_"+v.name, v.consts)
	case len(v.consts) > 0:
		vecTable("vc_"+v.name, v.width, v.consts)
	}
	v.consts, v.index, v.cframe = nil, nil, nil
	GLOBL("vx_"+v.name, attr.RODATA|attr.NOPTR)
	for j := 0; j < v.lanes; j++ {
		DATA(4*j, U32(uint32(j)))
	}
	for j := 0; j < v.lanes; j++ {
		DATA(v.width+4*j, U32(0x00010203+uint32(j%4)*0x04040404))
	}
}

// wloc is where a message word lives: a register, a stack slot, or (for
// words that are the same in every lane) nowhere: val/job say what it is.
type wkind int

const (
	wZero  wkind = iota
	wConst       // the same known constant in every lane
	wJob         // the same per-call value in every lane (prep.jw)
	wVec         // differs per lane
)

type wloc struct {
	kind  wkind
	c     uint32 // wConst
	reg   VecPhysical
	mem   Mem
	inReg bool
	live  bool
}

func (w *wloc) op() Op {
	if w.inReg {
		return w.reg
	}
	return w.mem
}

// vgen builds one vector kernel's instruction stream.
type vgen struct {
	v     *visa
	s     stream
	t     [3]VecPhysical // temporaries
	tacc  VecPhysical    // accumulator for a word that is spilled
	free  []VecPhysical
	frame Mem
	slot  map[string]Mem // per-call broadcast values and spill slots
	nslot int

	w       [64]wloc
	lastUse [64]int // op sequence number after which w[i] is dead
	st      [8]VecPhysical
	kmask   Op // AVX-512: opmask receiving the candidates (default K1)
}

func (g *vgen) add(f func()) { g.s.add(f) }

func (g *vgen) getSlot(name string) Mem {
	if m, ok := g.slot[name]; ok {
		return m
	}
	m := g.frame.Offset(g.nslot * g.v.width)
	g.nslot++
	g.slot[name] = m
	return m
}

func (g *vgen) alloc() (VecPhysical, bool) {
	if len(g.free) == 0 {
		return nil, false
	}
	r := g.free[len(g.free)-1]
	g.free = g.free[:len(g.free)-1]
	return r, true
}

func (g *vgen) release(r VecPhysical) { g.free = append(g.free, r) }

// Vector primitives; each records one instruction or a short sequence.

func (g *vgen) mov(src Op, dst VecPhysical) {
	if g.v.evex {
		g.add(func() { VMOVDQU32(src, dst) })
	} else {
		g.add(func() { VMOVDQU(src, dst) })
	}
}

func (g *vgen) store(src VecPhysical, dst Mem) {
	if g.v.evex {
		g.add(func() { VMOVDQU32(src, dst) })
	} else {
		g.add(func() { VMOVDQU(src, dst) })
	}
}

func (g *vgen) addv(src Op, dst VecPhysical) { g.add(func() { VPADDD(src, dst, dst) }) }

// asReg returns x as a register, loading it into tmp if it is in memory
// and the instruction set cannot take a memory source for shifts.
func (g *vgen) asReg(x Op, tmp VecPhysical) Op {
	if g.v.evex {
		return x
	}
	if _, ok := x.(Mem); ok {
		g.mov(x, tmp)
		return tmp
	}
	return x
}

// sigma computes dst = ror(x,r1) ^ ror(x,r2) ^ (shift ? x>>r3 : ror(x,r3)).
// It uses t[1], t[2] (AVX-512) or t[1] (AVX2); dst may be t[0] or any free
// register but not x.
func (g *vgen) sigma(x Op, r1, r2, r3 int, shift bool, dst VecPhysical) {
	if g.v.evex {
		t1, t2 := g.t[1], g.t[2]
		g.add(func() { VPRORD(U8(r1), x, dst) })
		g.add(func() { VPRORD(U8(r2), x, t1) })
		if shift {
			g.add(func() { VPSRLD(U8(r3), x, t2) })
		} else {
			g.add(func() { VPRORD(U8(r3), x, t2) })
		}
		g.add(func() { VPTERNLOGD(U8(0x96), t2, t1, dst) })
		return
	}
	t1 := g.t[1]
	x = g.asReg(x, g.t[2])
	g.add(func() { VPSRLD(U8(r1), x, dst) })
	g.add(func() { VPSLLD(U8(32-r1), x, t1) })
	g.add(func() { VPXOR(t1, dst, dst) })
	g.add(func() { VPSRLD(U8(r2), x, t1) })
	g.add(func() { VPXOR(t1, dst, dst) })
	g.add(func() { VPSLLD(U8(32-r2), x, t1) })
	g.add(func() { VPXOR(t1, dst, dst) })
	g.add(func() { VPSRLD(U8(r3), x, t1) })
	g.add(func() { VPXOR(t1, dst, dst) })
	if !shift {
		g.add(func() { VPSLLD(U8(32-r3), x, t1) })
		g.add(func() { VPXOR(t1, dst, dst) })
	}
}

// ch computes dst = (e & f) ^ (^e & g).
func (g *vgen) ch(e, f, gg, dst VecPhysical) {
	if g.v.evex {
		g.add(func() { VMOVDQA64(e, dst) })
		g.add(func() { VPTERNLOGD(U8(0xca), gg, f, dst) })
		return
	}
	g.add(func() { VPXOR(gg, f, dst) })
	g.add(func() { VPAND(e, dst, dst) })
	g.add(func() { VPXOR(gg, dst, dst) })
}

// maj computes dst = majority(a, b, c); AVX2 also uses t[2].
func (g *vgen) maj(a, b, c, dst VecPhysical) {
	if g.v.evex {
		g.add(func() { VMOVDQA64(a, dst) })
		g.add(func() { VPTERNLOGD(U8(0xe8), c, b, dst) })
		return
	}
	t1 := g.t[2]
	g.add(func() { VPOR(b, a, dst) })
	g.add(func() { VPAND(c, dst, dst) })
	g.add(func() { VPAND(b, a, t1) })
	g.add(func() { VPOR(t1, dst, dst) })
}

// round emits SHA-256 round t. kw adds K[t]+W[t] into the given register.
// With full unset only the e chain is computed (the last rounds of hash 2).
// The additions are associated to keep the dependency chains 3 operations
// deep per round (Σ is 2: rotates, then one ternary logic), with no more
// additions than the textbook order: e' = ((h+K+W + d) + Ch) + Σ1(e) is
// built in h's register, leaving d as it was, and a' = T1 + T2 =
// ((e' - d) + Maj) + Σ0(a) in d's. The e chain is e → Ch → +, Σ1 → +; a'
// follows e' by 3 and a by 3. (The former order, Σ1+Ch first, then into d
// and h, was 4 deep.)
func (g *vgen) round(kw func(h VecPhysical), full bool) {
	a, b, c, d, e, f, gg, h := g.st[0], g.st[1], g.st[2], g.st[3], g.st[4], g.st[5], g.st[6], g.st[7]
	t0, t1 := g.t[0], g.t[1]
	kw(h)
	g.addv(d, h)
	g.sigma(e, 6, 11, 25, false, t0) // uses t[1] and t[2]: before Ch
	g.ch(e, f, gg, t1)
	g.addv(t1, h)
	g.addv(t0, h) // e'
	if full {
		g.add(func() { VPSUBD(d, h, d) }) // T1 = e' - d
		g.sigma(a, 2, 13, 22, false, t0)
		g.maj(a, b, c, t1)
		g.addv(t1, d)
		g.addv(t0, d) // a'
	}
	g.st = [8]VecPhysical{d, a, b, c, h, e, f, gg}
}

// kwAdder returns the kw function for round t of a hash whose words are g.w.
func (g *vgen) kwAdder(t int) func(h VecPhysical) {
	w := &g.w[t]
	return func(h VecPhysical) {
		switch w.kind {
		case wZero:
			g.addv(g.v.vconst(k[t]), h)
		case wConst:
			g.addv(g.v.vconst(k[t]+w.c), h)
		case wJob:
			g.addv(g.v.vconst(k[t]), h)
			g.addv(g.getSlot(fmt.Sprintf("jw%d", t)), h)
		case wVec:
			g.addv(g.v.vconst(k[t]), h)
			g.addv(w.op(), h)
			g.use(t, 2*t+1)
		}
	}
}

// use notes that word i was read at step seq and frees it after its last use.
func (g *vgen) use(i, seq int) {
	if g.lastUse[i] == seq && g.w[i].live {
		g.w[i].live = false
		if g.w[i].inReg {
			g.release(g.w[i].reg)
		}
	}
}

// hashPlan describes one of the two compressions: which words are per-lane
// vectors and what the others are.
type hashPlan struct {
	dep   func(i int) bool // W[i] is a per-lane vector
	known func(i int) (uint32, bool)
	upTo  int // last round computed
}

// terms of W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16].
var termIdx = [4]int{2, 7, 15, 16}

// computeLastUse fills g.lastUse: step 2*t is the computation of W[t], step
// 2*t+1 is round t.
func (g *vgen) computeLastUse(p hashPlan, first int) {
	for i := range g.lastUse {
		g.lastUse[i] = -1
	}
	for t := first; t <= p.upTo; t++ {
		if p.dep(t) {
			g.lastUse[t] = max(g.lastUse[t], 2*t+1)
		}
		if t >= 16 && p.dep(t) {
			for _, d := range termIdx {
				if x := t - d; p.dep(x) {
					g.lastUse[x] = max(g.lastUse[x], 2*t)
				}
			}
		}
	}
}

// computeW emits W[t] (t >= 16, a vector word).
func (g *vgen) computeW(t int, p hashPlan) {
	seq := 2 * t
	// The nonce-free part: a known constant, or a per-call value (prep.jw).
	var c uint32
	job := false
	for _, d := range termIdx {
		x := t - d
		if p.dep(x) {
			continue
		}
		v, ok := p.known(x)
		if !ok {
			job = true
			continue
		}
		switch d {
		case 2:
			c += s1(v)
		case 15:
			c += s0(v)
		default:
			c += v
		}
	}
	// The destination: W[t-16]'s register when this is its last use, a free
	// register, or the spill accumulator.
	var acc VecPhysical
	init, reused := false, false
	if w16 := &g.w[t-16]; p.dep(t-16) && w16.live && w16.inReg && g.lastUse[t-16] == seq {
		acc, init, reused = w16.reg, true, true
		w16.live = false // the register now belongs to W[t]
	} else if r, ok := g.alloc(); ok {
		acc = r
	}
	spill := acc == nil
	if spill {
		acc = g.tacc
	}
	for _, d := range termIdx {
		x := t - d
		if !p.dep(x) || (d == 16 && reused) {
			continue
		}
		src := g.w[x].op()
		switch d {
		case 2, 15:
			r1, r2, r3 := 17, 19, 10
			if d == 15 {
				r1, r2, r3 = 7, 18, 3
			}
			if !init {
				g.sigma(src, r1, r2, r3, true, acc)
				init = true
			} else {
				g.sigma(src, r1, r2, r3, true, g.t[0])
				g.addv(g.t[0], acc)
			}
		default:
			if !init {
				g.mov(src, acc)
				init = true
			} else {
				g.addv(src, acc)
			}
		}
		g.use(x, seq)
	}
	if !init {
		panic(fmt.Sprintf("W[%d] has no vector term", t))
	}
	if job {
		// prep.jw[t] holds every nonce-free term, constants included.
		g.addv(g.getSlot(fmt.Sprintf("jw%d", t)), acc)
	} else if c != 0 {
		g.addv(g.v.vconst(c), acc)
	}
	w := &g.w[t]
	*w = wloc{kind: wVec, live: true}
	if spill {
		w.mem = g.getSlot(fmt.Sprintf("w%d", t))
		g.store(acc, w.mem)
	} else {
		w.reg, w.inReg = acc, true
	}
}

// plans returns the word plans of hash 1 (block 2 of the header, whose W3
// is the nonce) and hash 2 (the padded 32-byte digest).
func plans() (h1, h2 hashPlan) {
	h1 = hashPlan{
		dep: func(i int) bool { return i == 3 || i >= 18 },
		known: func(i int) (uint32, bool) {
			switch {
			case i == 4:
				return 0x80000000, true
			case i == 15:
				return 640, true
			case i > 4 && i < 15:
				return 0, true
			}
			return 0, false
		},
		upTo: 63,
	}
	h2 = hashPlan{
		dep: func(i int) bool { return i < 8 || i >= 16 },
		known: func(i int) (uint32, bool) {
			switch {
			case i == 8:
				return 0x80000000, true
			case i == 15:
				return 256, true
			case i > 8 && i < 15:
				return 0, true
			}
			return 0, false
		},
		upTo: 60,
	}
	return h1, h2
}

func ror(x uint32, n int) uint32 { return bits.RotateLeft32(x, -n) }
func bigS0(x uint32) uint32      { return ror(x, 2) ^ ror(x, 13) ^ ror(x, 22) }
func bigS1(x uint32) uint32      { return ror(x, 6) ^ ror(x, 11) ^ ror(x, 25) }
func chS(e, f, g uint32) uint32  { return g ^ e&(f^g) }
func majS(a, b, c uint32) uint32 { return a&b | c&(a|b) }
