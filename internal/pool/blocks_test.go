package pool

import "testing"

func TestBlockState(t *testing.T) {
	accepted := BlockRecord{Accepted: true, State: BlockAccepted}
	orphaned := BlockRecord{Accepted: true, State: BlockOrphaned}
	pending := BlockRecord{Pending: true}
	cases := []struct {
		name  string
		rec   BlockRecord
		conf  int64
		want  string
		cause bool // a reason is given
	}{
		{name: "one deep", rec: accepted, conf: 1, want: BlockAccepted},
		{name: "buried", rec: accepted, conf: 5, want: BlockConfirmed},
		{name: "reorged out", rec: accepted, conf: -1, want: BlockOrphaned, cause: true},
		{name: "node lost it", rec: accepted, conf: 0, want: BlockOrphaned, cause: true},
		{name: "back after a reorg", rec: orphaned, conf: 2, want: BlockAccepted},
		{name: "pending from a dead run, in the chain", rec: pending, conf: 1, want: BlockAccepted},
		{name: "pending from a dead run, never submitted", rec: pending, conf: 0, want: BlockRejected, cause: true},
		{name: "pending from a dead run, side chain", rec: pending, conf: -1, want: BlockOrphaned, cause: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := blockState(tc.rec, tc.conf, 5)
			if got != tc.want || (reason != "") != tc.cause {
				t.Errorf("blockState(conf %d): got %q %q, want %q (reason: %v)", tc.conf, got, reason, tc.want, tc.cause)
			}
		})
	}
}

// TestLedgerStalePendingFollowed: a block loaded as pending (its
// submission died with the last run) is followed, settles on the node's
// word, and credits its worker once.
func TestLedgerStalePendingFollowed(t *testing.T) {
	l := newLedger(t0, nil, []BlockRecord{{Height: 7, Hash: "aa", Worker: "w", Pending: true}}, 10)
	if got := l.followed(7, 5); len(got) != 1 {
		t.Fatalf("followed: got %d, want the stale pending block", len(got))
	}
	rec, changed := l.follow("aa", BlockAccepted, "", 1)
	if !changed || rec.Pending || !rec.Accepted {
		t.Fatalf("follow: got %+v changed %v, want accepted", rec, changed)
	}
	var st Stats
	l.fill(&st, t0)
	if len(st.Workers) != 1 || st.Workers[0].Blocks != 1 {
		t.Errorf("workers: got %+v, want w with 1 block", st.Workers)
	}
}
