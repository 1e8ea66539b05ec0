package main

import (
	"github.com/mmcloughlin/avo/ir"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// A stream is a recorded instruction sequence. Each element emits one
// indivisible chunk (one or a few instructions that must stay together, for
// example because they share X0). Independent streams are interleaved chunk
// by chunk so that the out-of-order core can overlap them.
type stream []func()

func (s *stream) add(f func()) { *s = append(*s, f) }

// emit writes the streams, interleaved in proportion to their lengths.
func emit(ss ...stream) {
	done := make([]int, len(ss))
	for {
		best := -1
		var bestR float64
		for i, s := range ss {
			if done[i] == len(s) {
				continue
			}
			r := float64(done[i]+1) / float64(len(s))
			if best < 0 || r < bestR {
				best, bestR = i, r
			}
		}
		if best < 0 {
			return
		}
		ss[best][done[best]]()
		done[best]++
	}
}

// genCPUID emits func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32).
func genCPUID() {
	TEXT("cpuid", NOSPLIT, "func(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)")
	Doc("cpuid executes CPUID with the given EAX and ECX inputs.")
	Load(Param("eaxArg"), EAX)
	Load(Param("ecxArg"), ECX)
	CPUID()
	Store(EAX, Return("eax"))
	Store(EBX, Return("ebx"))
	Store(ECX, Return("ecx"))
	Store(EDX, Return("edx"))
	RET()
}

// Registers shared by every kernel.
var (
	pPrep  = RSI // *prep
	rT7    = R8  // t7 (32-bit)
	rNonce = RDX // first nonce of the current group
	rLeft  = RCX // nonces left in [nonce, base+n)
	rTmp   = RAX
	rTmp2  = RBX
	rFrame = R9 // the vector kernels' frame, 64-byte aligned (alignedFrame)
)

const kernelSig = "func(p *[74]uint32, t7, base, n uint32) (nonce uint32, ok bool)"

// prologue loads the kernel arguments.
func prologue() {
	Load(Param("p"), pPrep)
	Load(Param("t7"), rT7.As32())
	Load(Param("base"), rNonce.As32())
	Load(Param("n"), rLeft.As32())
}

// loopHead emits the label of a kernel's loop at a 64-byte boundary, so the
// loop's layout in fetch blocks and cache lines does not depend on where the
// linker puts the function.
func loopHead(name string) {
	Instruction(&ir.Instruction{Opcode: "PCALIGN", Operands: []Op{Imm(64)}})
	Label(name)
}

// alignedFrame reserves size bytes of stack, points rFrame bias bytes into
// it at a 64-byte aligned address and returns the reserved block as seen
// from rFrame. Go only aligns SP to 8 bytes, so a frame addressed from SP
// puts vector slots across cache lines, depending on the caller's stack
// depth (measured: the hybrid kernel 8% slower with SP at 8, 16, 24, 40,
// 48 or 56 mod 64 than at 0 or 32, under load).
func alignedFrame(size, bias int) Mem {
	local := AllocLocal(size + 64)
	LEAQ(local.Offset(63), rFrame)
	ANDQ(I32(-64), rFrame)
	if bias != 0 {
		ADDQ(U32(bias), rFrame)
	}
	return Mem{Base: rFrame, Disp: -bias}
}

// epilogues emits the found/notfound exits; found expects the nonce in rTmp.
func epilogues(vzero bool) {
	Label("notfound")
	if vzero {
		VZEROUPPER()
	}
	XORL(rTmp.As32(), rTmp.As32())
	Store(rTmp.As32(), ReturnIndex(0))
	Store(rTmp.As8(), ReturnIndex(1))
	RET()
	Label("found")
	if vzero {
		VZEROUPPER()
	}
	Store(rTmp.As32(), ReturnIndex(0))
	MOVB(U8(1), rTmp2.As8())
	Store(rTmp2.As8(), ReturnIndex(1))
	RET()
}

// genWidthProbe emits name(n int): n iterations of 16 independent VPADDD on
// regs[1:] (regs[0] is the addend), for BenchmarkVectorWidth: how many
// 512-bit against 256-bit integer additions the core retires per cycle,
// which tells a full-width AVX-512 core (Zen 5 server) from one that splits
// 512-bit operations in two (Zen 4); the kernels' rates differ by about 2x
// between the two.
func genWidthProbe(name string, regs []VecPhysical) {
	TEXT(name, NOSPLIT, "func(n int)")
	Doc(name + " runs n iterations of 16 independent vector additions.")
	Load(Param("n"), RCX)
	loopHead("probe")
	for i := range 16 {
		r := regs[1+i%(len(regs)-1)]
		VPADDD(regs[0], r, r)
	}
	DECQ(RCX)
	JNZ(LabelRef("probe"))
	VZEROUPPER()
	RET()
}
