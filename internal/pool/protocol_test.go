package pool_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// lowDiff makes about 57% of hashes valid shares and 50% blocks on regtest,
// so tests can pick nonces that are shares but not blocks, and the reverse.
const lowDiff = 4e-10

func protocolConfig() pool.Config {
	return pool.Config{MinDiff: 1e-12, InitialDiff: 1}
}

// TestRejectCodesOverTheWire provokes every Stratum reject code on purpose
// and checks the answers, the accounting, and that a block is submitted
// once and announced to every session as clean_jobs.
func TestRejectCodesOverTheWire(t *testing.T) {
	node := newFakeNode()
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: protocolConfig()})

	a := dial(t, h.addr)
	r := a.call(stratum.MethodConfigure, []any{[]string{"version-rolling"}, map[string]any{"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2}})
	var conf map[string]any
	if err := json.Unmarshal(r.Result, &conf); err != nil || conf["version-rolling"] != true || conf["version-rolling.mask"] != "1fffe000" {
		t.Fatalf("configure: got %s, want version-rolling true with mask 1fffe000", r.Result)
	}
	const worker = "rig-a"
	a.handshake(worker)
	if a.diff != 1 {
		t.Errorf("initial difficulty: got %g, want 1", a.diff)
	}
	// suggest_difficulty as a string (cpuminer-opt) is honoured and applies
	// from a new job.
	if err := a.call(stratum.MethodSuggestDifficulty, []any{"0.0000000004"}).Bool(); err != nil {
		t.Fatalf("suggest_difficulty: %v", err)
	}
	j := a.nextJob(5 * time.Second)
	if a.diff != lowDiff || j.clean {
		t.Fatalf("after suggest: got diff %g clean %v, want %g and clean false", a.diff, j.clean, lowDiff)
	}
	shareT, netT := targets(t, lowDiff)
	shareNotBlock := func(h [32]byte) bool { return btc.MeetsTarget(&h, &shareT) && !btc.MeetsTarget(&h, &netT) }

	b := dial(t, h.addr)
	b.handshake("rig-b")
	c := dial(t, h.addr)
	c.handshake("rig-c")

	good := a.find(j, 0x2000, shareNotBlock)
	weak := a.find(j, 0, func(h [32]byte) bool { return !btc.MeetsTarget(&h, &shareT) })
	tests := []struct {
		name   string
		params []any
		want   int
	}{
		{name: "valid share with version rolling", params: good.params(worker, j.id), want: 0},
		{name: "duplicate", params: good.params(worker, j.id), want: stratum.ErrDuplicate},
		{name: "low difficulty", params: weak.params(worker, j.id), want: stratum.ErrLowDifficulty},
		{name: "forged job id", params: good.params(worker, "f0f0f0"), want: stratum.ErrJobNotFound},
		{name: "unauthorized worker", params: good.params("someone-else", j.id), want: stratum.ErrUnauthorized},
		{name: "extranonce2 too short", params: []any{worker, j.id, "00", "00000000", "00000000"}, want: stratum.ErrOther},
		{name: "version bits outside mask", params: []any{worker, j.id, "0000000000000000", "00000000", "00000000", "00000001"}, want: stratum.ErrOther},
		{name: "ntime not hex", params: []any{worker, j.id, "0000000000000000", "zz", "00000000"}, want: stratum.ErrOther},
		{name: "too few params", params: []any{worker, j.id}, want: stratum.ErrOther},
	}
	for _, tc := range tests {
		if got := errCode(a.call(stratum.MethodSubmit, tc.params)); got != tc.want {
			t.Errorf("%s: got code %d, want %d", tc.name, got, tc.want)
		}
	}
	// Not subscribed (25): a fresh connection submitting straight away.
	d := dial(t, h.addr)
	if got := errCode(d.call(stratum.MethodSubmit, good.params(worker, j.id))); got != stratum.ErrNotSubscribed {
		t.Errorf("submit before subscribe: got code %d, want %d", got, stratum.ErrNotSubscribed)
	}

	// A block: accepted, submitted once, and every session gets the new
	// tip as clean_jobs.
	blk := a.find(j, 0, func(h [32]byte) bool { return btc.MeetsTarget(&h, &netT) })
	if got := errCode(a.call(stratum.MethodSubmit, blk.params(worker, j.id))); got != 0 {
		t.Fatalf("block share: got code %d, want accepted", got)
	}
	for _, cl := range []*stratumClient{a, b, c} {
		for {
			nj := cl.nextJob(5 * time.Second)
			if nj.clean {
				if nj.work.PrevHash == j.work.PrevHash {
					t.Errorf("clean job has the old prevhash")
				}
				break
			}
		}
	}
	if got := len(node.blocks()); got != 1 {
		t.Errorf("blocks submitted to the node: got %d, want 1", got)
	}
	// Resubmitting the block share: stale now, never submitted again.
	if got := errCode(a.call(stratum.MethodSubmit, blk.params(worker, j.id))); got != stratum.ErrJobNotFound {
		t.Errorf("stale resubmission: got code %d, want %d", got, stratum.ErrJobNotFound)
	}
	if got := len(node.blocks()); got != 1 {
		t.Errorf("blocks submitted after resubmission: got %d, want 1", got)
	}

	// The share was answered before the node's verdict; the outcome comes
	// on the job source's block stream.
	waitFor(t, 10*time.Second, "the block's outcome recorded", func() bool {
		bs := h.pool.Stats().Blocks
		return len(bs) == 1 && bs[0].Accepted
	})
	st := h.pool.Stats()
	if len(st.Blocks) != 1 || !st.Blocks[0].Accepted || st.Blocks[0].Worker != worker {
		t.Errorf("Stats().Blocks: got %+v, want one accepted block by %s", st.Blocks, worker)
	}
	if want := btc.HashString(blk.hash); len(st.Blocks) == 1 && st.Blocks[0].Hash != want {
		t.Errorf("block hash: got %s, want %s", st.Blocks[0].Hash, want)
	}
	if st.SharesAccepted != 2 {
		t.Errorf("accepted shares: got %d, want 2", st.SharesAccepted)
	}
	wantReasons := map[string]uint64{"duplicate": 1, "low_difficulty": 1, "job_not_found": 1, "unauthorized": 1, "bad_extranonce2": 1, "bad_version": 1, "invalid_params": 2, "not_subscribed": 1, "stale": 1}
	for reason, n := range wantReasons {
		if got := st.RejectReasons[reason]; got != n {
			t.Errorf("rejects[%s]: got %d, want %d (all: %v)", reason, got, n, st.RejectReasons)
		}
	}
	if st.Sessions != 3 || st.Connections != 4 {
		t.Errorf("sessions/connections: got %d/%d, want 3/4", st.Sessions, st.Connections)
	}
	if st.Job == nil || st.Job.Height != 102 {
		t.Errorf("current job: got %+v, want height 102", st.Job)
	}
}

// TestSuggestDifficultyForms checks numbers and strings, and that bad values
// get a clear error without closing the session.
func TestSuggestDifficultyForms(t *testing.T) {
	node := newFakeNode()
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: pool.Config{MinDiff: 0.001, MaxDiff: 1000}})
	c := dial(t, h.addr)
	c.handshake("w")
	tests := []struct {
		name     string
		param    any
		wantErr  bool
		wantDiff float64
	}{
		{name: "integer", param: 8, wantDiff: 8},
		{name: "fraction", param: 0.5, wantDiff: 0.5},
		{name: "string", param: "16.000000", wantDiff: 16},
		{name: "below min clamps", param: 0.0001, wantDiff: 0.001},
		{name: "above max clamps", param: "1e9", wantDiff: 1000},
		{name: "zero", param: 0, wantErr: true},
		{name: "garbage string", param: "lots", wantErr: true},
		{name: "object", param: map[string]int{"d": 1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.call(stratum.MethodSuggestDifficulty, []any{tc.param}).Bool()
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if c.diff != tc.wantDiff {
				c.nextJob(5 * time.Second)
			}
			if c.diff != tc.wantDiff {
				t.Errorf("got difficulty %g, want %g", c.diff, tc.wantDiff)
			}
		})
	}
}

// TestExtranonceSubscribeAndUnknown covers the small methods.
func TestExtranonceSubscribeAndUnknown(t *testing.T) {
	node := newFakeNode()
	h := startHarness(t, harnessOpts{src: node, sub: node, cfg: pool.Config{}})
	c := dial(t, h.addr)
	c.handshake("w")
	if err := c.call(stratum.MethodExtranonceSubscribe, []any{}).Bool(); err != nil {
		t.Errorf("extranonce.subscribe: got %v, want true", err)
	}
	if got := errCode(c.call("mining.frobnicate", []any{})); got != stratum.ErrOther {
		t.Errorf("unknown method: got code %d, want %d", got, stratum.ErrOther)
	}
	r := c.call(stratum.MethodConfigure, []any{[]string{"version-rolling", "made-up"}, map[string]any{"version-rolling.mask": "00ffe000"}})
	var conf map[string]any
	json.Unmarshal(r.Result, &conf)
	if conf["version-rolling.mask"] != "00ffe000" || conf["made-up"] != false {
		t.Errorf("configure with a narrower mask: got %s, want mask 00ffe000 and made-up false", r.Result)
	}
	if err := c.call(stratum.MethodAuthorize, []any{"bad name", ""}).Bool(); err == nil {
		t.Errorf("authorize with a space in the name: got true, want an error")
	}
}
