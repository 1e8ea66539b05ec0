package job

import (
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

func testJob(t testing.TB) *Job {
	t.Helper()
	j, err := NewJob("j1", fixtureTemplate(t, "btcd_gbt_mixed_txs"), testParams, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// maxTarget is met by every hash.
var maxTarget = func() (t [32]byte) {
	for i := range t {
		t[i] = 0xff
	}
	return t
}()

func TestCheck(t *testing.T) {
	j := testJob(t)
	en1 := []byte{0, 0, 0, 1}
	en2 := make([]byte, 8)
	base := Share{JobID: j.ID, Extranonce1: en1, Extranonce2: en2, NTime: j.Time, Nonce: 1, Target: maxTarget}
	const mask = 0x1fffe000
	now := j.Time + 100
	tests := []struct {
		name       string
		job        *Job
		stale      bool
		now        uint32
		mod        func(s *Share)
		wantReject *stratum.RejectError
		wantHashed bool
	}{
		{name: "valid", job: j, now: now, wantHashed: true},
		{name: "unknown job", job: nil, now: now, wantReject: errUnknownJob},
		{name: "stale job is hashed (block check) but rejected 21", job: j, stale: true, now: now, wantReject: errStaleJob, wantHashed: true},
		{name: "stale wins over bad ntime", job: j, stale: true, now: now, mod: func(s *Share) { s.NTime = j.Time - 1 }, wantReject: errStaleJob, wantHashed: true},
		{name: "stale wins over bad extranonce2 size (not hashed)", job: j, stale: true, now: now, mod: func(s *Share) { s.Extranonce2 = en2[:4] }, wantReject: errStaleJob},
		{name: "short extranonce1", job: j, now: now, mod: func(s *Share) { s.Extranonce1 = en1[:3] }, wantReject: errEn1Size},
		{name: "short extranonce2", job: j, now: now, mod: func(s *Share) { s.Extranonce2 = en2[:4] }, wantReject: errEn2Size},
		{name: "long extranonce2", job: j, now: now, mod: func(s *Share) { s.Extranonce2 = make([]byte, 9) }, wantReject: errEn2Size},
		{name: "ntime before job", job: j, now: now, mod: func(s *Share) { s.NTime = j.Time - 1 }, wantReject: errNTime, wantHashed: true},
		{name: "ntime at now+7200", job: j, now: now, mod: func(s *Share) { s.NTime = now + MaxNTimeAhead }, wantHashed: true},
		{name: "ntime past now+7200", job: j, now: now, mod: func(s *Share) { s.NTime = now + MaxNTimeAhead + 1 }, wantReject: errNTime, wantHashed: true},
		{name: "clock behind job: window from job time", job: j, now: j.Time - 5000, mod: func(s *Share) { s.NTime = j.Time + MaxNTimeAhead }, wantHashed: true},
		{name: "clock behind job: past job time+7200", job: j, now: j.Time - 5000, mod: func(s *Share) { s.NTime = j.Time + MaxNTimeAhead + 1 }, wantReject: errNTime, wantHashed: true},
		{name: "version 0 means job version", job: j, now: now, mod: func(s *Share) { s.Version = 0 }, wantHashed: true},
		{name: "rolled bits inside mask", job: j, now: now, mod: func(s *Share) { s.Version = btc.RollVersion(j.Version, 0x0000e000, mask); s.VersionMask = mask }, wantHashed: true},
		{name: "rolled bits without negotiation", job: j, now: now, mod: func(s *Share) { s.Version = j.Version | 0x2000 }, wantReject: errVersion, wantHashed: true},
		{name: "rolled bit outside mask", job: j, now: now, mod: func(s *Share) { s.Version = j.Version | 0x40000000; s.VersionMask = mask }, wantReject: errVersion, wantHashed: true},
		{name: "cleared a job bit outside mask", job: j, now: now, mod: func(s *Share) { s.Version = (j.Version &^ 0x20000000) | 0x2000; s.VersionMask = mask }, wantReject: errVersion, wantHashed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sh := base
			if tc.mod != nil {
				tc.mod(&sh)
			}
			v := Check(tc.job, tc.stale, &sh, tc.now)
			if v.Reject != tc.wantReject {
				t.Errorf("reject: got %v, want %v", v.Reject, tc.wantReject)
			}
			if v.Hashed != tc.wantHashed {
				t.Fatalf("hashed: got %v, want %v", v.Hashed, tc.wantHashed)
			}
			if !v.Hashed {
				return
			}
			wantVersion := sh.Version
			if wantVersion == 0 {
				wantVersion = j.Version
			}
			w := j.Work()
			hdr := w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, sh.Nonce, wantVersion)
			if v.Header != hdr || v.Hash != btc.BlockHash(&hdr) {
				t.Errorf("header/hash not the one built from the share")
			}
			if v.Solves != btc.MeetsTarget(&v.Hash, &j.NetworkTarget) {
				t.Errorf("solves: got %v", v.Solves)
			}
		})
	}
}

func TestRejectCodes(t *testing.T) {
	tests := []struct {
		err   *stratum.RejectError
		code  int
		label string
	}{
		{errUnknownJob, 21, "job_not_found"}, {errStaleJob, 21, "stale"}, {errDuplicate, 22, "duplicate"}, {errLowDiff, 23, "low_difficulty"},
		{errNTime, 20, "bad_ntime"}, {errVersion, 20, "bad_version"}, {errUpstreamVersion, 20, "bad_version"},
		{errEn1Size, 20, "other"}, {errEn2Size, 20, "bad_extranonce2"},
	}
	for _, tc := range tests {
		if got := tc.err.Kind.Code(); got != tc.code {
			t.Errorf("%q: got code %d, want %d", tc.err.Message(), got, tc.code)
		}
		if got := tc.err.Kind.String(); got != tc.label {
			t.Errorf("%q: got label %q, want %q", tc.err.Message(), got, tc.label)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	h := [32]byte{31: 0x01}
	if CheckTarget(&h, &maxTarget) != nil {
		t.Error("max target: got reject")
	}
	if got := CheckTarget(&h, &btc.Diff1Target); got != errLowDiff {
		t.Errorf("diff 1: got %v, want low difficulty", got)
	}
}
