package pool

import (
	"testing"
	"time"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(dir)
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	blocks := []BlockRecord{
		{Height: 102, Hash: "bb", Worker: "w1", Time: t0, Accepted: true, NodeResult: ""},
		{Height: 101, Hash: "aa", Worker: "w2", Time: t0, Accepted: false, NodeResult: "bad-cb-height"},
	}
	for _, b := range blocks {
		if err := st.putBlock(b); err != nil {
			t.Fatalf("putBlock: %v", err)
		}
	}
	totals := map[string]WorkerTotals{
		"w1": {Accepted: 10, Rejected: 2, DiffSum: 12.5, Blocks: 1, LastShare: t0},
		"w2": {Accepted: 1},
	}
	if err := st.putWorkers(totals); err != nil {
		t.Fatalf("putWorkers: %v", err)
	}
	if err := st.close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	st, err = openStore(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.close()
	gotBlocks, err := st.blocks()
	if err != nil {
		t.Fatalf("blocks: %v", err)
	}
	if len(gotBlocks) != 2 || gotBlocks[0].Height != 101 || gotBlocks[1].Hash != "bb" || gotBlocks[0].NodeResult != "bad-cb-height" {
		t.Errorf("blocks after reopen: got %+v, want heights 101, 102 in order", gotBlocks)
	}
	gotTotals, err := st.workers()
	if err != nil {
		t.Fatalf("workers: %v", err)
	}
	if got, want := gotTotals["w1"], totals["w1"]; got.Accepted != want.Accepted || got.DiffSum != want.DiffSum || !got.LastShare.Equal(want.LastShare) {
		t.Errorf("w1 totals: got %+v, want %+v", got, want)
	}
	if len(gotTotals) != 2 {
		t.Errorf("workers: got %d, want 2", len(gotTotals))
	}
}

func TestStoreLockedFailsFast(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(dir)
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	defer st.close()
	if _, err := openStore(dir); err == nil {
		t.Fatalf("second open of a held store: got nil error, want a lock error")
	}
}

func TestLedgerFlushAndBlocks(t *testing.T) {
	l := newLedger(t0, map[string]WorkerTotals{"old": {Accepted: 5}}, nil)
	l.accept("old", t0.Add(time.Second), 2)
	l.reject("new", rejectLowDiff) // never authorized name: pool total only
	l.connect("new", t0, 1)
	l.reject("new", rejectDuplicate)
	l.block(BlockRecord{Height: 1, Hash: "h1", Worker: "old"})
	l.block(BlockRecord{Height: 1, Hash: "h1", Worker: "old", Accepted: true}) // result update, not a second block

	dirty := l.takeDirty()
	if got := dirty["old"]; got.Accepted != 6 || got.Blocks != 1 || got.DiffSum != 2 {
		t.Errorf("old totals: got %+v, want Accepted 6, Blocks 1, DiffSum 2", got)
	}
	if got := dirty["new"]; got.Rejected != 1 {
		t.Errorf("new totals: got %+v, want Rejected 1", got)
	}
	if again := l.takeDirty(); len(again) != 0 {
		t.Errorf("second takeDirty: got %d entries, want 0", len(again))
	}
	var st Stats
	l.fill(&st, t0.Add(time.Minute))
	if st.SharesAccepted != 1 || st.SharesRejected != 2 || st.RejectReasons[rejectLowDiff] != 1 {
		t.Errorf("stats: got accepted %d rejected %d reasons %v", st.SharesAccepted, st.SharesRejected, st.RejectReasons)
	}
	if len(st.Blocks) != 1 || !st.Blocks[0].Accepted {
		t.Errorf("blocks: got %+v, want one accepted block", st.Blocks)
	}
	if len(st.Workers) != 2 || st.Workers[0].Name != "new" || st.Workers[1].Connections != 0 {
		t.Errorf("workers: got %+v", st.Workers)
	}
}
