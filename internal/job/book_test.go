package job

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/store"
)

// openStore opens a state file in dir, closed when the test ends (after
// the managers using it: cleanups run last-registered first).
func openStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// crashCopy copies dir's state file as it is now, as a kill -9 leaves it,
// into a new dir and returns that dir.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, store.FileName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return crashed
}

func recordOf(t *testing.T, blocks []BlockRecord, hash [32]byte) BlockRecord {
	t.Helper()
	for _, b := range blocks {
		if b.Hash == btc.HashString(hash) {
			return b
		}
	}
	t.Fatalf("no record of block %s in %+v", btc.HashString(hash), blocks)
	return BlockRecord{}
}

// solve submits a share of worker that solves a block on j.
func solve(t *testing.T, m *Manager, j *Job, worker string) Result {
	t.Helper()
	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget, Worker: worker}
	sh.Nonce = findNonce(t, j, sh, true)
	res, _ := m.Submit(context.Background(), sh)
	if res.Block == nil || !res.Block.Pending {
		t.Fatalf("block: got %+v, want it pending", res.Block)
	}
	return res
}

// TestFoundBlockSurvivesKill: a found block's record is on disk before
// Submit answers the share, so a kill -9 while the node is down keeps it
// (pending); the next run follows it and settles it from the node's word.
func TestFoundBlockSurvivesKill(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
	n := newFakeNode(tpl)
	for range 1000 {
		n.submitErrs = append(n.submitErrs, errConnRefused) // the node is down
	}
	dir := t.TempDir()
	st := openStore(t, dir)
	m := newTestManager(t, n, func(c *Config) { c.Store = st; c.ShutdownGrace = time.Millisecond })
	res := solve(t, m, applyTemplate(t, m, tpl), "finder")

	crashed := crashCopy(t, dir) // the process dies here
	n.mu.Lock()
	n.submitErrs = nil // the node is back and took one of the tries
	n.mu.Unlock()
	m2 := newTestManager(t, n, func(c *Config) { c.Store = openStore(t, crashed) })
	rec := recordOf(t, m2.Blocks(), res.Block.Hash)
	if rec.State != BlockPending || rec.Worker != "finder" || rec.Height != tpl.Height {
		t.Fatalf("record after the kill: got %+v, want pending, by finder, at %d", rec, tpl.Height)
	}
	m2.checkBlocks(context.Background())
	if rec = recordOf(t, m2.Blocks(), res.Block.Hash); rec.State != BlockAccepted || !rec.Accepted || !rec.Credited() {
		t.Fatalf("record once followed: got %+v, want accepted and credited", rec)
	}
	// The settled state is on disk too.
	m3 := newTestManager(t, n, func(c *Config) { c.Store = openStore(t, crashCopy(t, crashed)) })
	if rec = recordOf(t, m3.Blocks(), res.Block.Hash); rec.State != BlockAccepted {
		t.Errorf("record after a second kill: got %+v, want accepted", rec)
	}
}

// TestSettledBlockOnDiskBeforeOutcome: when the outcome goes out on
// SubscribeBlocks, the settled record is already on disk.
func TestSettledBlockOnDiskBeforeOutcome(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_mixed_txs")
	n := newFakeNode(tpl)
	dir := t.TempDir()
	m := newTestManager(t, n, func(c *Config) { c.Store = openStore(t, dir) })
	j := applyTemplate(t, m, tpl)
	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, 8), NTime: j.Time, Target: maxTarget, Worker: "w"}
	sh.Nonce = findNonce(t, j, sh, true)
	res, err := submit(t, m, sh) // waits for the outcome
	if err != nil || res.Block == nil || !res.Block.Accepted {
		t.Fatalf("submit: got %+v, %v, want the block accepted", res.Block, err)
	}
	m2 := newTestManager(t, n, func(c *Config) { c.Store = openStore(t, crashCopy(t, dir)) })
	rec := recordOf(t, m2.Blocks(), res.Block.Hash)
	if rec.State != BlockAccepted || rec.Pending || rec.Worker != "w" || rec.Time.IsZero() {
		t.Errorf("record after a kill: got %+v, want accepted, by w, with its time", rec)
	}
	if got := len(m2.Blocks()); got != 1 {
		t.Errorf("records: got %d, want 1", got)
	}
}

// TestDamagedBlockRecord: a block record that does not decode stops New
// with an error naming the file and what to do.
func TestDamagedBlockRecord(t *testing.T) {
	st := openStore(t, t.TempDir())
	if err := st.Put(blocksBucket, store.KV{Key: []byte("k"), Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	n := newFakeNode(fixtureTemplate(t, "btcd_gbt_empty"))
	_, err := New(Config{Source: n, Submitter: n, PayoutScript: p2wpkh, Logger: quiet, Store: st})
	var de *store.DamagedError
	if !errors.As(err, &de) {
		t.Fatalf("New on a damaged record: got %v, want a *store.DamagedError", err)
	}
	for _, w := range []string{st.Path(), "block record", "move it aside"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q: want it to contain %q", err, w)
		}
	}
}

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

// TestBookReplaysAndFollows: a hash is recorded once; a pending record
// settles once; a loaded pending record is followed and settles on the
// node's word; orphaned ones are followed within maturity of the tip.
func TestBookReplaysAndFollows(t *testing.T) {
	b := newBook(nil, []BlockRecord{{Height: 7, Hash: "aa", Worker: "w", Pending: true}}, quiet)
	if _, changed := b.found(BlockRecord{Height: 9, Hash: "bb", Worker: "x", Pending: true}); !changed {
		t.Fatal("new block: not recorded")
	}
	if _, changed := b.found(BlockRecord{Height: 9, Hash: "bb", Worker: "x", Pending: true}); changed {
		t.Error("replayed pending block: recorded twice")
	}
	if rec, changed := b.found(BlockRecord{Height: 9, Hash: "bb", Worker: "y", Accepted: true}); !changed || rec.State != BlockAccepted || rec.Worker != "x" {
		t.Errorf("settled: got %+v changed %v, want accepted, still x's", rec, changed)
	}
	if _, changed := b.found(BlockRecord{Height: 9, Hash: "bb", Worker: "x", NodeResult: "late"}); changed {
		t.Error("a settled record changed again by a share's report")
	}
	if got := b.followed(9, 5); len(got) != 2 {
		t.Fatalf("followed: got %+v, want the loaded pending block and the accepted one", got)
	}
	if rec, changed := b.follow("aa", BlockOrphaned, "gone", -1); !changed || rec.Pending || rec.Credited() {
		t.Fatalf("follow: got %+v changed %v, want orphaned, not credited", rec, changed)
	}
	if got := b.followed(9, 5); len(got) != 2 {
		t.Errorf("followed near the tip: got %d, want 2 (an orphan may come back)", len(got))
	}
	if got := b.followed(20, 5); len(got) != 1 || got[0].Hash != "bb" {
		t.Errorf("followed far past the orphan: got %+v, want only bb", got)
	}
}
