package pool

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/stratum"
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
	l := newLedger(t0, map[string]WorkerTotals{"old": {Accepted: 5}, "junk": {Rejected: 3}}, nil, 10)
	l.accept("old", t0.Add(time.Second), 2)
	l.reject("new", stratum.RejectLowDifficulty) // never authorized name: pool total only
	l.connect("new", t0, 1)
	l.reject("new", stratum.RejectDuplicate)
	l.found(BlockRecord{Height: 1, Hash: "h1", Worker: "old", Pending: true})
	l.found(BlockRecord{Height: 1, Hash: "h1", Worker: "old", Accepted: true}) // result update, not a second block
	l.found(BlockRecord{Height: 1, Hash: "h1", Worker: "old", Accepted: true}) // replay: nothing

	dirty := l.takeDirty()
	if got := dirty["old"]; got.Accepted != 6 || got.Blocks != 1 || got.DiffSum != 2 {
		t.Errorf("old totals: got %+v, want Accepted 6, Blocks 1, DiffSum 2", got)
	}
	if got, ok := dirty["new"]; ok {
		t.Errorf("new totals: got %+v written, want a name without an accepted share never written", got)
	}
	if again := l.takeDirty(); len(again) != 0 {
		t.Errorf("second takeDirty: got %d entries, want 0", len(again))
	}
	var st Stats
	l.fill(&st, t0.Add(time.Minute))
	if st.SharesAccepted != 1 || st.SharesRejected != 2 || st.RejectReasons["low_difficulty"] != 1 {
		t.Errorf("stats: got accepted %d rejected %d reasons %v", st.SharesAccepted, st.SharesRejected, st.RejectReasons)
	}
	if len(st.Blocks) != 1 || !st.Blocks[0].Accepted {
		t.Errorf("blocks: got %+v, want one accepted block", st.Blocks)
	}
	if len(st.Workers) != 2 || st.Workers[0].Name != "new" || st.Workers[0].Rejected != 1 || st.Workers[1].Connections != 0 {
		t.Errorf("workers: got %+v, want new (live, 1 rejected) and old, and no junk loaded", st.Workers)
	}
}

// TestLedgerNamesWithoutCredit: names without an accepted share are
// capped (least recently used dropped), forgotten with their last
// connection, and a credited name is never dropped.
func TestLedgerNamesWithoutCredit(t *testing.T) {
	l := newLedger(t0, nil, nil, 3)
	l.connect("honest", t0, 1)
	for i := range 5 {
		l.connect(fmt.Sprint("junk", i), t0, 1)
	}
	names := func() []string {
		var st Stats
		l.fill(&st, t0)
		return workerNames(st)
	}
	if got := names(); !slices.Equal(got, []string{"junk2", "junk3", "junk4"}) {
		t.Fatalf("after 6 names in a table of 3: got %v, want the 3 newest", got)
	}
	l.accept("honest", t0, 1) // its entry was dropped: the share brings it back
	for i := range 5 {
		l.connect(fmt.Sprint("more", i), t0, 1)
	}
	if got := names(); !slices.Contains(got, "honest") || len(got) != 4 {
		t.Fatalf("after the share and 5 more names: got %v, want honest and 3 others", got)
	}
	l.disconnect("more4")
	l.disconnect("honest") // not counted as connected any more, but credited
	if got := names(); !slices.Equal(got, []string{"honest", "more2", "more3"}) {
		t.Fatalf("after disconnects: got %v, want honest, more2, more3", got)
	}
	if d := l.takeDirty(); len(d) != 1 || d["honest"].Accepted != 1 {
		t.Fatalf("dirty: got %v, want only honest", d)
	}
}

func workerNames(st Stats) []string {
	var out []string
	for _, w := range st.Workers {
		out = append(out, w.Name)
	}
	return out
}
