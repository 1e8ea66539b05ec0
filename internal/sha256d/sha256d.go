package sha256d

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
)

// Midstate is the SHA-256 chaining state after compressing the first 64
// bytes of a block header. It is a plain value: copy it freely.
type Midstate [8]uint32

// MaxBatch is the largest n a caller should pass to [Scan] in one call. A
// call of MaxBatch nonces takes about 25 ms on one core with the AVX-512
// kernel (0.5 s with the generic one), so a miner that checks for
// cancellation or a new job between calls stays responsive.
// Larger n still works: Scan splits it internally into bounded assembly runs.
const MaxBatch = 1 << 20

// asmChunk bounds one assembly call so that a goroutine running Scan reaches
// a preemption point (a Go function call) every few milliseconds.
const asmChunk = 1 << 16

// NewMidstate compresses first64 (header bytes 0..63) and returns the state.
func NewMidstate(first64 *[64]byte) Midstate {
	s := Midstate(iv)
	var w [16]uint32
	for i := range w {
		w[i] = binary.BigEndian.Uint32(first64[4*i:])
	}
	compress((*[8]uint32)(&s), &w)
	return s
}

// ScanFunc is the signature shared by [Scan] and every implementation's scan
// function; see Scan for the contract.
type ScanFunc func(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (nonce uint32, ok bool)

// Impl describes one compiled implementation of Scan.
type Impl struct {
	Name      string   // "hybrid" (AVX-512 + SHA-NI), "avx512", "shani", "avx2", "generic"
	Available bool     // whether this CPU (and OS) can run it
	Scan      ScanFunc // the implementation; only call it when Available
	Lanes     int      // nonces hashed side by side per thread
	// Missing says why this CPU or build cannot run it ("" when Available),
	// e.g. "needs AVX512F+AVX512BW, CPU lacks AVX512BW" or "amd64 only".
	Missing string
	// CPUFlags names the CPU features it needs as Linux's /proc/cpuinfo
	// does ("sha_ni", "avx2", ...), so tests can tell a CPU without them
	// from a detection that misses them.
	CPUFlags []string
}

// kernelArch names every assembly kernel hashfleet has and the GOARCH it is
// written for, so that a build for another architecture can say why it
// lacks one.
var kernelArch = []struct{ name, arch string }{
	{"hybrid", "amd64"}, {"avx512", "amd64"}, {"shani", "amd64"}, {"avx2", "amd64"},
	{"armsha2", "arm64"}, {"neon", "arm64"},
}

// Unavailable lists the kernels this CPU or build cannot run, each with
// Missing set to the reason: compiled ones whose CPU features are absent,
// and the kernels of other architectures (Scan nil), in that order.
func Unavailable() []Impl {
	var out []Impl
	compiled := map[string]bool{}
	for _, im := range impls {
		compiled[im.Name] = true
		if !im.Available {
			out = append(out, im)
		}
	}
	for _, k := range kernelArch {
		if compiled[k.name] {
			continue
		}
		why := k.arch + " only"
		if k.arch == runtime.GOARCH {
			why = "not in this build (purego tag)"
		}
		out = append(out, Impl{Name: k.name, Missing: why})
	}
	return out
}

// Scan hashes the headers first64||tail, where first64 is summarised by ms
// and tail[12:16] is replaced by the little-endian nonce, for the nonces
// base, base+1, ..., base+n-1 (wrapping modulo 2^32), and returns the first
// nonce whose double SHA-256, read as a little-endian 256-bit number, is <=
// target. n should not exceed [MaxBatch]. Scan uses the fastest
// implementation this CPU supports; it is safe for concurrent use and
// allocates nothing.
func Scan(ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (nonce uint32, ok bool) {
	return best(ms, tail, target, base, n)
}

// best is the scan function chosen at start-up.
var best ScanFunc = scanGeneric

func init() {
	for _, im := range impls {
		if im.Available {
			best = im.Scan
			break
		}
	}
}

// impls lists compiled implementations, best first; the generic one is last.
var impls = append(archImpls(), Impl{Name: "generic", Available: true, Scan: scanGeneric, Lanes: 1})

// Impls returns every compiled implementation, best first. The caller may
// modify the returned slice.
func Impls() []Impl {
	return append([]Impl(nil), impls...)
}

// Lookup returns the implementation called name, or for "auto" (or "") the
// best one this CPU can run. It fails when name is unknown, not compiled in,
// or not supported by this CPU; the error names what is supported.
func Lookup(name string) (Impl, error) {
	var avail []string
	for _, im := range impls {
		if im.Available {
			avail = append(avail, im.Name)
		}
	}
	if name == "" || name == "auto" {
		for _, im := range impls {
			if im.Available {
				return im, nil
			}
		}
	}
	for _, im := range impls {
		if im.Name != name {
			continue
		}
		if !im.Available {
			return Impl{}, fmt.Errorf("sha256d: implementation %q is not supported by this CPU: %s (supported: %s; cpu: %s)",
				name, im.Missing, strings.Join(avail, ", "), cpuFeatures())
		}
		return im, nil
	}
	var all []string
	for _, im := range impls {
		all = append(all, im.Name)
	}
	for _, im := range Unavailable() {
		if im.Name == name {
			return Impl{}, fmt.Errorf("sha256d: implementation %q: %s (supported by this CPU: %s)",
				name, im.Missing, strings.Join(avail, ", "))
		}
	}
	return Impl{}, fmt.Errorf("sha256d: unknown implementation %q (compiled: %s; supported by this CPU: %s)",
		name, strings.Join(all, ", "), strings.Join(avail, ", "))
}

// Sum returns the double SHA-256 of b in internal byte order (the raw digest).
func Sum(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// Hash returns the double SHA-256 of the header summarised by ms and tail
// with tail's nonce replaced by nonce. It is the full (slow) reference path
// that Scan uses to confirm candidates.
func Hash(ms *Midstate, tail *[16]byte, nonce uint32) [32]byte {
	s := [8]uint32(*ms)
	var w [16]uint32
	w[0] = binary.BigEndian.Uint32(tail[0:])
	w[1] = binary.BigEndian.Uint32(tail[4:])
	w[2] = binary.BigEndian.Uint32(tail[8:])
	w[3] = swap32(nonce)
	w[4] = 0x80000000
	w[15] = 640
	compress(&s, &w)
	w = [16]uint32{s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], 0x80000000, 0, 0, 0, 0, 0, 0, 256}
	s = iv
	compress(&s, &w)
	var out [32]byte
	for i, v := range s {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// meetsTarget reports whether h <= t, both read as little-endian 256-bit numbers.
func meetsTarget(h, t *[32]byte) bool {
	for i := 31; i >= 0; i-- {
		if h[i] != t[i] {
			return h[i] < t[i]
		}
	}
	return true
}

// confirm does the full check of a candidate nonce.
func confirm(ms *Midstate, tail *[16]byte, target *[32]byte, nonce uint32) bool {
	h := Hash(ms, tail, nonce)
	return meetsTarget(&h, target)
}

// kernel names an early-exit scanner. A kernel returns the first nonce in
// [base, base+n) whose last digest word passes t7 (bswap(H7) <= t7); it may
// report false candidates but never misses a hit. n <= asmChunk. Kernels
// are called through runKernel's switch (not func values) so that the prep
// they are handed stays on the stack.
type kernel int

const (
	kGeneric kernel = iota
	kSHANI
	kAVX2
	kAVX512
	kHybrid
	kARMSHA2
	kNEON
)

func runKernel(k kernel, p *prep, t7, base, n uint32) (uint32, bool) {
	if k == kGeneric {
		return kernelGeneric(p, t7, base, n)
	}
	return archKernel(k, p, t7, base, n)
}

// scanKernel drives k in bounded chunks and confirms its candidates.
func scanKernel(k kernel, ms *Midstate, tail *[16]byte, target *[32]byte, base, n uint32) (uint32, bool) {
	var p prep
	p.init(ms, tail)
	t7 := binary.LittleEndian.Uint32(target[28:])
	for n > 0 {
		c := min(n, asmChunk)
		nonce, ok := runKernel(k, &p, t7, base, c)
		if !ok {
			base += c
			n -= c
			continue
		}
		if confirm(ms, tail, target, nonce) {
			return nonce, true
		}
		done := nonce - base + 1
		base += done
		n -= done
	}
	return 0, false
}

func swap32(x uint32) uint32 {
	return x>>24 | x>>8&0xff00 | x<<8&0xff0000 | x<<24
}

// Features describes the CPU features that decide which implementations are
// available, e.g. "sha_ni avx2 avx512f avx512bw avx512vl".
func Features() string { return cpuFeatures() }
