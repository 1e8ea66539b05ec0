package btc

import (
	"testing"
)

func benchWork(tb testing.TB, ntx int) (*Work, []byte, []byte) {
	tb.Helper()
	txids := seqHashes(ntx, 3)
	wtxids := seqHashes(ntx, 4)
	cb, err := BuildCoinbase(CoinbaseConfig{
		Height: 900000, ValueSats: 312500000, PayoutScript: p2wpkhScript,
		WitnessCommitment: WitnessCommitmentScript(wtxids), Tag: []byte("/hashfleet/"),
		Extranonce1Size: 4, Extranonce2Size: 8,
	})
	if err != nil {
		tb.Fatal(err)
	}
	w := &Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2, Branch: MerkleBranch(txids), Version: 0x20000000, Bits: 0x17034219, Time: 1700000000}
	return w, []byte{1, 2, 3, 4}, make([]byte, 8)
}

// TestHotPathsDoNotAllocate pins the per-share and per-extranonce2 paths
// at zero allocations.
func TestHotPathsDoNotAllocate(t *testing.T) {
	w, en1, en2 := benchWork(t, 3000)
	h := TxID([]byte("x"))
	tgt := Diff1Target
	tests := []struct {
		name string
		fn   func()
	}{
		{name: "Work.Header", fn: func() { _ = w.Header(en1, en2, w.Time, 7, RollVersion(w.Version, 0x2000, 0x1fffe000)) }},
		{name: "Work.CoinbaseTxID", fn: func() { _ = w.CoinbaseTxID(en1, en2) }},
		{name: "MerkleRoot", fn: func() { _ = MerkleRoot(h, w.Branch) }},
		{name: "HashDifficulty", fn: func() { _ = HashDifficulty(h) }},
		{name: "MeetsTarget", fn: func() { _ = MeetsTarget(&h, &tgt) }},
		{name: "TargetToDifficulty", fn: func() { _ = TargetToDifficulty(tgt) }},
		{name: "CompactToTarget", fn: func() { _, _ = CompactToTarget(0x17034219) }},
		{name: "TxID", fn: func() { _ = TxID(w.Coinb1) }},
		{name: "ParseStratumPrevHash", fn: func() { _, _ = ParseStratumPrevHash(vaPrevStr) }},
		{name: "ParseHexUint32", fn: func() { _, _ = ParseHexUint32("ntime", "64b3f3ec") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tt.fn); got != 0 {
				t.Errorf("got %v allocs/op, want 0", got)
			}
		})
	}
}

func BenchmarkBuildCoinbase(b *testing.B) {
	commit := WitnessCommitmentScript(nil)
	cfg := CoinbaseConfig{Height: 900000, ValueSats: 312500000, PayoutScript: p2wpkhScript,
		WitnessCommitment: commit, Tag: []byte("/hashfleet/"), Extranonce1Size: 4, Extranonce2Size: 8}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildCoinbase(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorkHeader is the per-share cost in the pool (3000-tx block,
// 12-level branch): coinbase hash, merkle fold, header.
func BenchmarkWorkHeader(b *testing.B) {
	w, en1, en2 := benchWork(b, 3000)
	b.ReportAllocs()
	var n uint32
	for b.Loop() {
		n++
		_ = w.Header(en1, en2, w.Time, n, w.Version)
	}
}

func BenchmarkMerkleRoot(b *testing.B) {
	branch := MerkleBranch(seqHashes(3000, 1))
	cb := TxID([]byte("cb"))
	b.ReportAllocs()
	for b.Loop() {
		cb = MerkleRoot(cb, branch)
	}
}

func BenchmarkMerkleBranch3000(b *testing.B) {
	txids := seqHashes(3000, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = MerkleBranch(txids)
	}
}

func BenchmarkWitnessCommitment3000(b *testing.B) {
	wtxids := seqHashes(3000, 2)
	b.ReportAllocs()
	for b.Loop() {
		_ = WitnessCommitmentScript(wtxids)
	}
}

func BenchmarkHashDifficulty(b *testing.B) {
	h := TxID([]byte("h"))
	b.ReportAllocs()
	var s float64
	for b.Loop() {
		s += HashDifficulty(h)
	}
	_ = s
}

func BenchmarkDifficultyToTarget(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DifficultyToTarget(1234.5)
	}
}

func BenchmarkSerializeBlock(b *testing.B) {
	w, en1, en2 := benchWork(b, 1)
	txs := make([][]byte, 3000)
	for i := range txs {
		txs[i] = make([]byte, 250)
	}
	cb := w.Coinbase(en1, en2)
	hdr := w.Header(en1, en2, w.Time, 1, w.Version)
	b.ReportAllocs()
	for b.Loop() {
		_ = SerializeBlock(hdr, cb, txs, true)
	}
}
