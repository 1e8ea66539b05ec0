package job

import (
	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// MaxNTimeAhead is how far (seconds) a share's ntime may run ahead of
// max(job ntime, now): the 2-hour consensus limit (mining-protocols.md §1.7).
const MaxNTimeAhead = 7200

// Verdict is the pure outcome of checking one share against one job.
type Verdict struct {
	// Hashed is true when the header could be built (the job is known and
	// the extranonce sizes are right); Header and Hash are then set.
	Hashed bool
	Header [80]byte
	Hash   [32]byte
	// Version is the full header version used.
	Version uint32
	// Solves is true when Hash meets the job's network target: the block
	// must be submitted even if the share is rejected (stale, ntime...).
	Solves bool
	// Reject is the first rule the share broke, in the order of
	// mining-protocols.md §1.7, before duplicate detection; nil if none.
	// The caller then checks duplicates (keyed on Header) and the share
	// target, in that order (see CheckTarget).
	Reject *stratum.RejectError
}

// Check runs the stateless checks of a share against job j (nil for an
// unknown job): job lookup and staleness, extranonce sizes, ntime window
// (j.Time <= ntime <= max(j.Time, now) + MaxNTimeAhead), version-rolling
// mask, then hashes the header and tests it against the network target.
// stale says that j is from an earlier tip. Check is pure and allocates
// nothing for normal coinbases.
func Check(j *Job, stale bool, sh *Share, now uint32) Verdict {
	var v Verdict
	if j == nil {
		v.Reject = errUnknownJob
		return v
	}
	if len(sh.Extranonce1) != j.Extranonce1Size || len(sh.Extranonce2) != j.Extranonce2Size {
		// The header cannot be built; staleness is reported first (§1.7).
		switch {
		case stale:
			v.Reject = errStaleJob
		case len(sh.Extranonce1) != j.Extranonce1Size:
			v.Reject = errEn1Size
		default:
			v.Reject = errEn2Size
		}
		return v
	}
	version := sh.Version
	if version == 0 {
		version = j.Version
	}
	v.Version = version
	w := j.Work()
	v.Header = w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, sh.Nonce, version)
	v.Hash = btc.BlockHash(&v.Header)
	v.Hashed = true
	v.Solves = btc.MeetsTarget(&v.Hash, &j.NetworkTarget)
	switch {
	case stale:
		v.Reject = errStaleJob
	case sh.NTime < j.Time || uint64(sh.NTime) > uint64(max(j.Time, now))+MaxNTimeAhead:
		v.Reject = errNTime
	case (version^j.Version)&^sh.VersionMask != 0:
		v.Reject = errVersion
	}
	return v
}

// CheckTarget returns errLowDiff unless hash meets the share target.
func CheckTarget(hash, target *[32]byte) *stratum.RejectError {
	if !btc.MeetsTarget(hash, target) {
		return errLowDiff
	}
	return nil
}
