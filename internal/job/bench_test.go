package job

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// mainnetLikeTemplate is a template with a mainnet difficulty (no share
// can solve it) and ntxs synthetic transactions, so the merkle branch has
// mainnet depth (4000 txs: 12 levels).
func mainnetLikeTemplate(b testing.TB, ntxs int) *chain.Template {
	tpl := *fixtureTemplate(b, "btcd_gbt_mixed_txs")
	tpl.Bits = 0x17034219
	target, err := btc.CompactToTarget(tpl.Bits)
	if err != nil {
		b.Fatal(err)
	}
	tpl.Target = target
	tpl.Txs = make([]chain.TemplateTx, ntxs)
	for i := range tpl.Txs {
		var seed [8]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		id := sha256.Sum256(seed[:])
		tpl.Txs[i] = chain.TemplateTx{TxID: id, WTxID: id, Data: seed[:]}
	}
	return &tpl
}

// BenchmarkSubmit measures full share validation through Manager.Submit
// (job lookup, header build with a 12-level merkle branch, SHA-256d,
// duplicate set, share target) on one goroutine: shares/s per core.
func BenchmarkSubmit(b *testing.B) {
	tpl := mainnetLikeTemplate(b, 4000)
	m := newTestManager(b, newFakeNode(tpl), nil)
	j := applyTemplate(b, m, tpl)
	if len(j.Branch) != 12 {
		b.Fatalf("branch: got %d levels, want 12", len(j.Branch))
	}
	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget}
	ctx := context.Background()
	var i uint64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		i++
		binary.LittleEndian.PutUint64(sh.Extranonce2, i)
		if _, err := m.Submit(ctx, sh); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "shares/s")
}

// BenchmarkSubmitParallel is BenchmarkSubmit from GOMAXPROCS goroutines
// (many pool sessions at once).
func BenchmarkSubmitParallel(b *testing.B) {
	tpl := mainnetLikeTemplate(b, 4000)
	m := newTestManager(b, newFakeNode(tpl), nil)
	j := applyTemplate(b, m, tpl)
	ctx := context.Background()
	var conn atomic.Uint32
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		en1 := make([]byte, 4)
		binary.BigEndian.PutUint32(en1, conn.Add(1))
		sh := Share{JobID: j.ID, Extranonce1: en1, Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget}
		var i uint64
		for pb.Next() {
			i++
			binary.LittleEndian.PutUint64(sh.Extranonce2, i)
			if _, err := m.Submit(ctx, sh); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "shares/s")
}

// BenchmarkCheck is the pure per-share work (no duplicate set).
func BenchmarkCheck(b *testing.B) {
	tpl := mainnetLikeTemplate(b, 4000)
	j, err := NewJob("b", tpl, testParams, true, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	sh := Share{JobID: j.ID, Extranonce1: make([]byte, 4), Extranonce2: make([]byte, 8), NTime: j.Time}
	b.ReportAllocs()
	for b.Loop() {
		sh.Nonce++
		_ = Check(j, false, &sh, j.Time)
	}
}

// BenchmarkNewJob is template -> job for a 4000-tx template.
func BenchmarkNewJob(b *testing.B) {
	tpl := mainnetLikeTemplate(b, 4000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewJob("b", tpl, testParams, true, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
