package pool

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

func TestLedgerFlushAndBlocks(t *testing.T) {
	l := newLedger(t0, map[string]WorkerTotals{"old": {Accepted: 5}, "junk": {Rejected: 3}}, 10)
	l.accept("old", t0.Add(time.Second), 2)
	l.reject("new", stratum.RejectLowDifficulty) // never authorized name: pool total only
	l.connect("new", t0, 1)
	l.reject("new", stratum.RejectDuplicate)

	dirty := l.takeDirty()
	if got := dirty["old"]; got.Accepted != 6 || got.DiffSum != 2 {
		t.Errorf("old totals: got %+v, want Accepted 6, DiffSum 2", got)
	}
	if got, ok := dirty["new"]; ok {
		t.Errorf("new totals: got %+v written, want a name without an accepted share never written", got)
	}
	if again := l.takeDirty(); len(again) != 0 {
		t.Errorf("second takeDirty: got %d entries, want 0", len(again))
	}
	// The block records are the job source's; the worker's block count
	// is its credited records, and a name credited only with a block
	// gets a row.
	blocks := []job.BlockRecord{
		{Height: 1, Hash: "h1", Worker: "old", Accepted: true, State: job.BlockAccepted},
		{Height: 2, Hash: "h2", Worker: "old", Accepted: true, State: job.BlockOrphaned},
		{Height: 3, Hash: "h3", Worker: "finder", Accepted: true, State: job.BlockConfirmed},
		{Height: 4, Hash: "h4", Worker: "finder", Pending: true, State: job.BlockPending},
	}
	var st Stats
	l.fill(&st, t0.Add(time.Minute), blocks)
	if st.SharesAccepted != 1 || st.SharesRejected != 2 || st.RejectReasons["low_difficulty"] != 1 {
		t.Errorf("stats: got accepted %d rejected %d reasons %v", st.SharesAccepted, st.SharesRejected, st.RejectReasons)
	}
	if len(st.Blocks) != 4 {
		t.Errorf("blocks: got %+v, want the 4 records", st.Blocks)
	}
	if len(st.Workers) != 3 || st.Workers[0].Name != "finder" || st.Workers[0].Blocks != 1 ||
		st.Workers[1].Name != "new" || st.Workers[1].Rejected != 1 ||
		st.Workers[2].Name != "old" || st.Workers[2].Connections != 0 || st.Workers[2].Blocks != 1 {
		t.Errorf("workers: got %+v, want finder (1 block), new (live, 1 rejected) and old (1 block), and no junk loaded", st.Workers)
	}
}

// TestLedgerNamesWithoutCredit: names without an accepted share are
// capped (least recently used dropped), forgotten with their last
// connection, and a credited name is never dropped.
func TestLedgerNamesWithoutCredit(t *testing.T) {
	l := newLedger(t0, nil, 3)
	l.connect("honest", t0, 1)
	for i := range 5 {
		l.connect(fmt.Sprint("junk", i), t0, 1)
	}
	names := func() []string {
		var st Stats
		l.fill(&st, t0, nil)
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
