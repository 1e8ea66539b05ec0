package sha256d

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// report adds H/s (wall clock) and, where the OS reports thread CPU time,
// H/cpu-s: hashes per second of CPU time actually received, which is far
// less sensitive to other processes sharing the cores.
func report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "H/s")
	if cpu := threadCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "H/cpu-s")
	}
}

// BenchmarkScan reports hashes per second (one op = one nonce) for every
// implementation this CPU can run, scanning with an unreachable target.
func BenchmarkScan(b *testing.B) {
	h := mustHeader(b, block125552Hex)
	ms, tail := h.split()
	var target [32]byte // zero: no hash meets it
	for _, im := range Impls() {
		b.Run(im.Name, func(b *testing.B) {
			if !im.Available {
				b.Skipf("%s: not supported by this CPU", im.Name)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			const batch = 1 << 14
			base := uint32(0)
			for left := b.N; left > 0; left -= batch {
				n := uint32(min(left, batch))
				im.Scan(&ms, &tail, &target, base, n)
				base += n
			}
			report(b, cpu0)
		})
	}
}

// BenchmarkCryptoSHA256 is the baseline: crypto/sha256 (which uses SHA-NI
// where present) applied twice to the full 80-byte header per nonce.
func BenchmarkCryptoSHA256(b *testing.B) {
	h := mustHeader(b, block125552Hex)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	var sink byte
	for i := 0; b.Loop(); i++ {
		binary.LittleEndian.PutUint32(h[76:], uint32(i))
		x := sha256.Sum256(h[:])
		x = sha256.Sum256(x[:])
		sink ^= x[31]
	}
	_ = sink
	report(b, cpu0)
}
