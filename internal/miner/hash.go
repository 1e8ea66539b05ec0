package miner

import (
	"context"
	"math/bits"
	"sync/atomic"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/sha256d"
)

const (
	defaultBatch     = 1 << 18 // ~50-100 ms per Scan call on one core
	defaultNonceSpan = 1 << 32
	// maxVersionRolls bounds how many version values a thread tries per
	// extranonce2 before taking a new extranonce2.
	maxVersionRolls = 1 << 16
)

// work is one job as the hashing threads see it. It is immutable after
// publication except for en2Next, which threads advance atomically.
type work struct {
	sess      uint64 // session that received the job
	jobID     string
	bw        btc.Work
	en1       []byte
	en2Size   int
	diff      float64
	target    [32]byte // share target in force when the job arrived
	netTarget [32]byte // from nbits; zero if nbits is invalid
	vmask     uint32   // negotiated version-rolling mask; 0 = no rolling
	clean     bool

	batch     uint32
	nonceSpan uint64

	en2Next atomic.Uint64
}

// nextExtranonce2 returns a fresh extranonce2, a little-endian counter of
// en2Size bytes (cpuminer's order). Values wrap after 2^(8*en2Size).
func (w *work) nextExtranonce2() []byte {
	v := w.en2Next.Add(1) - 1
	en2 := make([]byte, w.en2Size)
	for i := 0; i < len(en2) && i < 8; i++ {
		en2[i] = byte(v >> (8 * i))
	}
	return en2
}

// versionRolls is how many versions to try per extranonce2.
func (w *work) versionRolls() uint64 {
	if w.vmask == 0 {
		return 1
	}
	n := bits.OnesCount32(w.vmask)
	if n >= 16 {
		return maxVersionRolls
	}
	return 1 << n
}

// rolledVersion returns the i-th version: the job version with the i-th
// combination of mask bits flipped (i = 0 is the job version itself).
func (w *work) rolledVersion(i uint64) uint32 {
	if w.vmask == 0 {
		return w.bw.Version
	}
	return btc.RollVersion(w.bw.Version, (w.bw.Version&w.vmask)^deposit(uint32(i), w.vmask), w.vmask)
}

// deposit spreads the low bits of v over the set bits of mask (PDEP).
func deposit(v, mask uint32) uint32 {
	var out uint32
	for m := mask; m != 0 && v != 0; m &= m - 1 {
		if v&1 != 0 {
			out |= m & -m
		}
		v >>= 1
	}
	return out
}

// found is a nonce a thread found below the share target.
type found struct {
	w       *work
	en2     []byte
	version uint32
	nonce   uint32
	thread  int
}

// thread is one hashing goroutine's counters, read by the stats sampler.
type thread struct {
	hashes atomic.Uint64
}

// hashLoop runs one hashing thread until ctx is cancelled.
func (m *Miner) hashLoop(ctx context.Context, idx int) {
	for ctx.Err() == nil {
		w := m.cur.Load()
		if w == nil {
			m.waitWork(ctx)
			continue
		}
		m.mine(ctx, idx, w)
	}
}

// waitWork blocks until work is published or ctx is done.
func (m *Miner) waitWork(ctx context.Context) {
	m.wakeMu.Lock()
	wake := m.wake
	m.wakeMu.Unlock()
	if m.cur.Load() != nil {
		return
	}
	select {
	case <-wake:
	case <-ctx.Done():
	}
}

// mine hashes w until it is superseded or ctx is done: for each fresh
// extranonce2, for each rolled version, the midstate is computed once and
// the nonce space is scanned in bounded batches; between batches the thread
// checks for cancellation and new work (STYLE R11).
func (m *Miner) mine(ctx context.Context, idx int, w *work) {
	ctr := &m.threads[idx].hashes
	scan := m.impl.Scan
	for {
		en2 := w.nextExtranonce2()
		rolls := w.versionRolls()
		for vi := uint64(0); vi < rolls; vi++ {
			version := w.rolledVersion(vi)
			hdr := w.bw.Header(w.en1, en2, w.bw.Time, 0, version)
			ms := sha256d.NewMidstate((*[64]byte)(hdr[:64]))
			tail := [16]byte(hdr[64:80])
			for base := uint64(0); base < w.nonceSpan; {
				n := min(uint64(w.batch), w.nonceSpan-base)
				start, left := uint32(base), uint32(n)
				for left > 0 {
					nonce, ok := scan(&ms, &tail, &w.target, start, left)
					if !ok {
						break
					}
					m.emit(found{w: w, en2: en2, version: version, nonce: nonce, thread: idx})
					done := nonce - start + 1
					start += done
					left -= done
				}
				ctr.Add(n)
				base += n
				if ctx.Err() != nil || m.cur.Load() != w {
					return
				}
			}
		}
	}
}

// emit hands a found share to the session without ever blocking a thread;
// when the queue is full the share is dropped and counted.
func (m *Miner) emit(f found) {
	select {
	case m.found <- f:
	default:
		m.met.dropped.Inc()
		m.stats.dropped.Add(1)
	}
}

// publish makes w the work every thread hashes (nil: stop hashing).
func (m *Miner) publish(w *work) {
	m.cur.Store(w)
	m.wakeMu.Lock()
	close(m.wake)
	m.wake = make(chan struct{})
	m.wakeMu.Unlock()
}
