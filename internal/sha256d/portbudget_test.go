package sha256d

// The distance to the hardware limit, counted from the generated assembly:
// TestPortBudget reads scan_amd64.s, takes each kernel's loop (the path a
// nonce group takes when no lane is a candidate), counts its instructions
// by the pipe class they need on AMD Zen 5 and derives three bounds, in
// cycles per nonce: the busiest pipe class, the longest dependency chain of
// one loop iteration, and a small in-order-retire simulation that combines
// both with Zen 5's 448-entry reorder window. BENCHMARKS.md ("Distance to
// the limit") turns them into MH/s with the clock measured by
// BenchmarkCoreClock and sets them against the measured rates.
//
// The machine figures are AMD's Software Optimization Guide for Zen 5
// (pub. 58455) as transcribed in LLVM's X86ScheduleZnver5.td, except that
// 512-bit operations take one slot, not two: Zen 5 server cores execute
// them at full width (numberworld.org, "Zen5's AVX512 Teardown", 2024).

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
)

// pipe is the execution resource class an instruction needs.
type pipe int

const (
	pVec    pipe = iota // vector add/logic: FP pipes 0-3
	pShift              // vector shift, rotate, shuffle: FP pipes 1-2 (also a vector slot)
	pSHA                // SHA-NI: SHA unit, also one vector slot
	pLoad               // vector or scalar load (also counted for memory operands)
	pStore              // store
	pScalar             // integer ALU, branches
	pMove               // vector register copy, eliminated at rename
	nPipes
)

var pipeNames = [nPipes]string{"vector ALU", "shift/rotate/shuffle", "SHA unit", "loads", "stores", "scalar", "eliminated moves"}

// opInfo is what the model knows of one mnemonic: its class, its result
// latency in cycles and, for the SHA unit, the cycles it keeps it busy.
type opInfo struct {
	class   pipe
	lat     int
	busy    int
	move    bool // writes its last operand without reading it
	readDst bool // reads its last operand (two-operand SSE forms, VPTERNLOGD)
}

// zen5 per mnemonic. Vector integer ops have 2-cycle latency on Zen 5
// (LLVM WriteVecALUX/Y/Z, WriteVecLogic*, WriteVecShift*; VPTERNLOGD is
// taken as a logical op); SHA256RNDS2 has latency 4 and holds the SHA
// unit 2 cycles (LLVM: 8 pipe-cycles over 4 pipes; measured here, one
// dependent chain 1.35 ns per instruction, independent ones 0.65 ns);
// SHA256MSG1/MSG2 (latency 4/6) take a vector slot but not the SHA unit:
// if they held it too (LLVM: 1 and 2 cycles) the shani bound would be 193
// cycles per nonce, slower than the kernel is measured to run. Vector
// loads 7+1 cycles.
var zen5 = map[string]opInfo{
	"VPADDD": {class: pVec, lat: 2}, "VPSUBD": {class: pVec, lat: 2}, "VPXOR": {class: pVec, lat: 2},
	"VPAND": {class: pVec, lat: 2}, "VPOR": {class: pVec, lat: 2},
	"VPTERNLOGD": {class: pVec, lat: 2, readDst: true},
	"VPMINUD":    {class: pVec, lat: 2}, "VPCMPEQD": {class: pVec, lat: 2},
	"VPCMPUD": {class: pVec, lat: 3}, "VMOVMSKPS": {class: pVec, lat: 1, move: true},
	"PADDD": {class: pVec, lat: 2, readDst: true}, "PXOR": {class: pVec, lat: 2, readDst: true},
	"PBLENDW": {class: pVec, lat: 2, readDst: true},
	"VPSRLD":  {class: pShift, lat: 2}, "VPSLLD": {class: pShift, lat: 2},
	"VPRORD": {class: pShift, lat: 2}, "VPSHUFB": {class: pShift, lat: 2},
	"PSHUFD": {class: pShift, lat: 2}, "PALIGNR": {class: pShift, lat: 2, readDst: true},
	"PINSRD":       {class: pShift, lat: 2, readDst: true},
	"VPBROADCASTD": {class: pShift, lat: 2, move: true},
	"SHA256RNDS2":  {class: pSHA, lat: 4, busy: 2, readDst: true},
	"SHA256MSG1":   {class: pSHA, lat: 4, readDst: true},
	"SHA256MSG2":   {class: pSHA, lat: 6, readDst: true},
	"VMOVDQU":      {class: pLoad, lat: 8, move: true}, "VMOVDQU32": {class: pLoad, lat: 8, move: true},
	"VMOVDQA64": {class: pLoad, lat: 8, move: true}, "MOVOU": {class: pLoad, lat: 8, move: true},
	"MOVD": {class: pScalar, lat: 2, move: true}, "KMOVW": {class: pScalar, lat: 1, move: true},
	"MOVL": {class: pScalar, lat: 1, move: true}, "ADDL": {class: pScalar, lat: 1, readDst: true},
	"SUBL": {class: pScalar, lat: 1, readDst: true}, "BSWAPL": {class: pScalar, lat: 1, readDst: true},
	"BSFL": {class: pScalar, lat: 1, move: true}, "CMPL": {class: pScalar, lat: 1},
	"TESTL": {class: pScalar, lat: 1}, "JMP": {class: pScalar}, "JZ": {class: pScalar},
	"JA": {class: pScalar}, "JAE": {class: pScalar}, "JBE": {class: pScalar},
}

// Per-cycle capacities (SOG 58455 via LLVM): 4 vector pipes, 2 of them
// for shifts and shuffles, vector loads 2 and stores 1 per cycle,
// 6 register moves eliminated per cycle, 8 macro-ops dispatched per
// cycle, a 448-entry reorder buffer.
var zen5Cap = [nPipes]int{pVec: 4, pShift: 2, pSHA: 1, pLoad: 2, pStore: 1, pScalar: 6, pMove: 6}

const (
	zen5Dispatch = 8
	zen5Window   = 448
	zen5FPQueue  = 3*38 + 96 // FP scheduler entries + non-scheduling queue
	zen5LoadLat  = 8
)

// asmInst is one instruction of a loop: mnemonic, operands in Go order
// (sources first, destination last).
type asmInst struct {
	op   string
	args []string
}

// kernelLoop returns the instructions of fn's loop in scan_amd64.s that
// the no-candidate path executes: from "loop:" to "JMP loop", without the
// blocks that end in "JMP found" (taken only for a candidate).
func kernelLoop(src, fn string) ([]asmInst, error) {
	start := strings.Index(src, "TEXT ·"+fn+"(SB)")
	if start < 0 {
		return nil, fmt.Errorf("%s not in scan_amd64.s", fn)
	}
	body := src[start:]
	if next := strings.Index(body[1:], "\nTEXT "); next >= 0 {
		body = body[:next+1]
	}
	var out []asmInst
	in, lastBranch := false, 0
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "loop:":
			in = true
			continue
		case !in || line == "" || strings.HasSuffix(line, ":"):
			continue
		}
		f := strings.Fields(line)
		ins := asmInst{op: f[0]}
		if len(f) > 1 {
			for _, a := range strings.Split(strings.Join(f[1:], " "), ",") {
				ins.args = append(ins.args, strings.TrimSpace(a))
			}
		}
		switch {
		case ins.op == "JMP" && ins.args[0] == "loop":
			return append(out, ins), nil
		case ins.op == "JMP" && ins.args[0] == "found":
			out = out[:lastBranch] // the candidate block
			continue
		case ins.op[0] == 'J' && ins.args[0] != "notfound" && ins.args[0] != "found":
			lastBranch = len(out) + 1
		}
		out = append(out, ins)
	}
	return nil, fmt.Errorf("%s: no loop ... JMP loop", fn)
}

// classOf is the class and latency of in: a vector move is a load, a
// store, or (register to register) a move eliminated at rename.
func classOf(in asmInst, info opInfo) (pipe, int) {
	if info.class != pLoad {
		return info.class, info.lat
	}
	switch {
	case isMem(in.args[len(in.args)-1]):
		return pStore, 1
	case hasMem(in.args):
		return pLoad, info.lat
	}
	return pMove, 0
}

// portCounts counts the instructions of a loop per class; a memory source
// operand counts as a load besides its instruction.
func portCounts(loop []asmInst) (c [nPipes]int, shaBusy int, err error) {
	for _, in := range loop {
		info, ok := zen5[in.op]
		if !ok {
			return c, 0, fmt.Errorf("mnemonic %s has no Zen 5 class in the model", in.op)
		}
		cls, _ := classOf(in, info)
		srcs, dst := operands(in, info)
		if info.class != pLoad && hasMem(srcs) {
			c[pLoad]++
		}
		if info.class == pScalar && isMem(dst) {
			c[pStore]++
		}
		c[cls]++
		shaBusy += info.busy
	}
	return c, shaBusy, nil
}

func isMem(a string) bool { return strings.Contains(a, "(") }

func hasMem(as []string) bool {
	for _, a := range as {
		if isMem(a) {
			return true
		}
	}
	return false
}

// regKey names the architectural register an operand is (X3, Y3 and Z3
// are one register), the memory location it names, or "" for immediates.
func regKey(a string) string {
	switch {
	case a == "" || a[0] == '$':
		return ""
	case isMem(a):
		return "mem:" + a
	case len(a) > 1 && (a[0] == 'X' || a[0] == 'Y' || a[0] == 'Z') && a[1] >= '0' && a[1] <= '9':
		return "V" + a[1:]
	}
	return a
}

// issue schedules one instruction at the first cycle at or after ready
// where its pipe classes have room, and returns that cycle. A SHA
// instruction takes a vector slot and holds the SHA unit for busy cycles.
func issue(used map[int]*[nPipes]int, cls pipe, busy, ready int) int {
	at := func(c int) *[nPipes]int {
		if used[c] == nil {
			used[c] = new([nPipes]int)
		}
		return used[c]
	}
	vecSlot := cls == pShift || cls == pSHA
	for c := ready; ; c++ {
		u := at(c)
		if cls != pSHA && u[cls] >= zen5Cap[cls] || vecSlot && u[pVec] >= zen5Cap[pVec] || !shaFree(at, c, busy) {
			continue
		}
		if cls != pSHA {
			u[cls]++
		}
		if vecSlot {
			u[pVec]++
		}
		for i := range busy {
			at(c + i)[pSHA]++
		}
		return c
	}
}

// shaFree reports whether the SHA unit is idle for busy cycles from c.
func shaFree(at func(int) *[nPipes]int, c, busy int) bool {
	for i := range busy {
		if at(c + i)[pSHA] > 0 {
			return false
		}
	}
	return true
}

// simulate runs iters copies of the loop through a model of the Zen 5
// back end: dispatch 8 per cycle into a 448-entry window retired in order,
// each instruction issued when its operands are ready and its pipe has
// room. It returns the cycles the last iteration took (steady state) and
// the dependency chain of one iteration with unlimited pipes.
func simulate(loop []asmInst, iters int) (perIter, chain int) {
	ready := map[string]int{}
	used := map[int]*[nPipes]int{}
	retire := make([]int, 0, len(loop)*iters)
	var fpIssued []int // issue cycle of every vector instruction so far
	iterStart := 0
	for it := 0; it < iters; it++ {
		iterStart = 0
		if len(retire) > 0 {
			iterStart = retire[len(retire)-1]
		}
		for _, in := range loop {
			k := len(retire)
			t := k / zen5Dispatch
			if k >= zen5Window {
				t = max(t, retire[k-zen5Window])
			}
			cls, _ := classOf(in, zen5[in.op])
			fp := cls == pVec || cls == pShift || cls == pSHA
			if n := len(fpIssued); fp && n >= zen5FPQueue {
				t = max(t, fpIssued[n-zen5FPQueue])
			}
			done, issued := schedule(in, ready, used, t)
			if fp {
				fpIssued = append(fpIssued, issued)
			}
			if k > 0 {
				done = max(done, retire[k-1])
			}
			retire = append(retire, done)
		}
	}
	perIter = retire[len(retire)-1] - iterStart
	return perIter, dependencyChain(loop)
}

// schedule issues in no earlier than t and when its sources are ready,
// records when its result is ready, and returns that cycle and the issue
// cycle.
func schedule(in asmInst, ready map[string]int, used map[int]*[nPipes]int, t int) (done, issued int) {
	info := zen5[in.op]
	srcs, dst := operands(in, info)
	t = sourcesReady(srcs, ready, t)
	cls, lat := classOf(in, info)
	c := issue(used, cls, info.busy, t)
	if dst != "" {
		ready[regKey(dst)] = c + lat
	}
	return c + lat, c
}

// sourcesReady is the first cycle at or after t when every one of srcs
// is available; a memory operand adds the load-to-use latency.
func sourcesReady(srcs []string, ready map[string]int, t int) int {
	for _, s := range srcs {
		r := ready[regKey(s)]
		if isMem(s) {
			r += zen5LoadLat
		}
		t = max(t, r)
	}
	return t
}

// operands splits an instruction's operands into the ones it reads and
// the one it writes ("" when none).
func operands(in asmInst, info opInfo) (srcs []string, dst string) {
	if len(in.args) == 0 || info.lat == 0 || in.op == "CMPL" || in.op == "TESTL" {
		return in.args, ""
	}
	n := len(in.args)
	srcs, dst = in.args[:n-1], in.args[n-1]
	if info.readDst && !info.move {
		srcs = in.args
	}
	return srcs, dst
}

// splitVecPipe is the vector-pipe bound of loop on a core that executes a
// 512-bit operation as two 256-bit halves (Zen 4; BenchmarkVectorWidth
// tells which kind of core a measurement ran on): every vector, shift or
// SHA instruction with a Z register takes two of the 4 pipe slots.
func splitVecPipe(loop []asmInst) float64 {
	slots := 0
	for _, in := range loop {
		cls, _ := classOf(in, zen5[in.op])
		if cls != pVec && cls != pShift && cls != pSHA {
			continue
		}
		slots++
		for _, a := range in.args {
			if len(a) > 1 && a[0] == 'Z' && a[1] >= '0' && a[1] <= '9' {
				slots++
				break
			}
		}
	}
	return float64(slots) / 4
}

// dependencyChain is the longest chain of results through one iteration
// when every operand from before the loop is ready at cycle 0.
func dependencyChain(loop []asmInst) int {
	ready, longest := map[string]int{}, 0
	for _, in := range loop {
		info := zen5[in.op]
		srcs, dst := operands(in, info)
		_, lat := classOf(in, info)
		done := sourcesReady(srcs, ready, 0) + lat
		if dst != "" {
			ready[regKey(dst)] = done
		}
		longest = max(longest, done)
	}
	return longest
}

// amd64Kernels are the generated kernels and the nonces one loop does.
var amd64Kernels = []struct {
	name, fn string
	lanes    int
	sha      bool // uses SHA-NI
}{
	{"hybrid", "kernelHybrid", 18, true},
	{"avx512", "kernelAVX512", 16, false},
	{"shani", "kernelSHANI", 2, true},
	{"avx2", "kernelAVX2", 8, false},
}

// TestPortBudget prints, per kernel and per nonce, the instruction counts
// by class and the cycles each Zen 5 bound allows. It fails when the loop
// cannot be found or uses a mnemonic the model has no class for, so a
// regenerated kernel cannot silently drop out of the analysis.
func TestPortBudget(t *testing.T) {
	src, err := os.ReadFile("scan_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-7s %6s %6s %6s %6s %6s %6s %6s %6s | %7s %7s %7s %7s %7s %7s | %7s | %8s", "kernel", "instr",
		"vec", "shift", "sha", "load", "store", "scalar", "moves", "vecpipe", "shpipe", "shaunit", "ldst", "chain", "sim", "MH/GHz", "split512")
	for _, k := range amd64Kernels {
		loop, err := kernelLoop(string(src), k.fn)
		if err != nil {
			t.Fatal(err)
		}
		c, busy, err := portCounts(loop)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		perIter, chain := simulate(loop, 3)
		n := float64(k.lanes)
		per := func(x int) float64 { return float64(x) / n }
		vecPipe := float64(c[pVec]+c[pShift]+c[pSHA]) / 4 / n
		shPipe := float64(c[pShift]) / 2 / n
		ldst := math.Max(float64(c[pLoad])/2, float64(c[pStore])) / n
		if (c[pSHA] > 0) != k.sha || perIter <= 0 || chain <= 0 {
			t.Errorf("%s: implausible loop: %v, sim %d, chain %d", k.name, c, perIter, chain)
		}
		t.Logf("%-7s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f | %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f | %7.2f | %8.1f", k.name,
			per(len(loop)), per(c[pVec]), per(c[pShift]), per(c[pSHA]), per(c[pLoad]), per(c[pStore]), per(c[pScalar]), per(c[pMove]),
			vecPipe, shPipe, per(busy), ldst, per(chain), per(perIter), 1000/per(perIter), splitVecPipe(loop)/n)
	}
	t.Logf("classes: %v; bounds in cycles per nonce; MH/GHz = 1000 / sim; split512: the vector-pipe bound where a 512-bit operation takes 2 slots (Zen 4)", pipeNames)
}

// BenchmarkCoreClock measures the core clock as this thread sees it: a
// chain of dependent one-cycle integer operations, per second of thread
// CPU time ("GHz"), so that cycles per nonce can be set against H/cpu-s.
func BenchmarkCoreClock(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	x := uint64(b.N)
	for b.Loop() {
		x = clockChain(x, 1_000_000, 3, 5)
	}
	if cpu := threadCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)*16e6/cpu.Seconds()/1e9, "GHz")
	}
	if x == 42 {
		b.Log(x)
	}
}

// clockChain runs 16 dependent one-cycle operations per iteration.
//
//go:noinline
func clockChain(x uint64, n int, a, c uint64) uint64 {
	for range n {
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
		x = (x + a) ^ c
	}
	return x
}
