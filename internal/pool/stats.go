package pool

import (
	"container/list"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Stats is a value snapshot of the pool, safe to keep and read from any
// goroutine (the dashboard and /api/stats read it). Hash rates are estimated
// from accepted share difficulty over the last five minutes.
type Stats struct {
	Time        time.Time `json:"time"`
	Started     time.Time `json:"started"`
	StratumAddr string    `json:"stratum_addr"`

	Job *JobInfo `json:"job"` // nil before the first template

	Connections int     `json:"connections"` // open TCP connections
	Sessions    int     `json:"sessions"`    // authorized sessions
	HashrateHs  float64 `json:"hashrate_hs"` // whole pool, hashes per second

	SharesAccepted uint64            `json:"shares_accepted"`
	SharesRejected uint64            `json:"shares_rejected"`
	RejectReasons  map[string]uint64 `json:"reject_reasons"` // reason → count, since start
	Disconnects    map[string]uint64 `json:"disconnects"`    // reason → count, since start (e.g. slow_client)

	Workers []WorkerStats     `json:"workers"` // sorted by name
	Blocks  []job.BlockRecord `json:"blocks"`  // every block found (the job source's records), newest last
}

// JobInfo describes the job currently broadcast.
type JobInfo struct {
	ID       string    `json:"id"`
	Height   int64     `json:"height"`
	PrevHash string    `json:"prev_hash"` // display order
	Bits     string    `json:"bits"`
	NetDiff  float64   `json:"network_difficulty"`
	Txs      int       `json:"txs"` // non-coinbase transactions
	Since    time.Time `json:"since"`
}

// WorkerStats is one worker name's view: totals survive restarts (with a
// data dir), the hash rate and connection count are live.
type WorkerStats struct {
	Name        string    `json:"name"`
	Connections int       `json:"connections"`
	Difficulty  float64   `json:"difficulty"` // current share difficulty of its newest session
	HashrateHs  float64   `json:"hashrate_hs"`
	Accepted    uint64    `json:"accepted"`
	Rejected    uint64    `json:"rejected"`
	DiffSum     float64   `json:"diff_sum"`
	Blocks      uint64    `json:"blocks"` // its accepted or confirmed blocks
	LastShare   time.Time `json:"last_share,omitzero"`
}

// maxCreditedWorkers is a memory safety net on names with credit (an
// accepted share). Each costs an accepted share at the minimum
// difficulty, so the table reaching it means years of shares; beyond it, a
// new name's shares count in the pool totals only.
const maxCreditedWorkers = 1_000_000

// ledger holds the pool's share accounting. All methods are safe for
// concurrent use; critical sections are short and never block.
//
// Worker names come in two kinds. A name with credit (an accepted share)
// is kept, persisted and never dropped. A name without is only
// tracked while it has a connection, in a list capped at maxFresh whose
// least recently used entry is dropped for a new name; it is never
// persisted. So a client that authorizes names by the thousand can neither
// fill the table nor the data dir, and cannot make an honest miner's
// shares go uncredited: an honest name pushed out before its first share
// comes back with that share.
type ledger struct {
	mu       sync.Mutex
	workers  map[string]*workerState
	fresh    *list.List // names without credit, least recently used first
	maxFresh int
	dirty    map[string]bool // credited workers whose totals changed since the last flush
	total    rateMeter
	accepted uint64
	rejected uint64
	reasons  map[string]uint64
	discon   map[string]uint64
}

type workerState struct {
	totals WorkerTotals
	rate   rateMeter
	conns  int
	diff   float64
	fresh  *list.Element // in ledger.fresh while the name has no credit, else nil
}

// hasCredit reports whether t holds anything worth keeping.
func (t WorkerTotals) hasCredit() bool { return t.Accepted > 0 }

// newLedger loads the persisted totals; names without credit (written by
// versions that persisted every name) are left out.
func newLedger(now time.Time, totals map[string]WorkerTotals, maxFresh int) *ledger {
	l := &ledger{
		workers:  make(map[string]*workerState, len(totals)),
		fresh:    list.New(),
		maxFresh: maxFresh,
		dirty:    make(map[string]bool),
		reasons:  make(map[string]uint64),
		discon:   make(map[string]uint64),
	}
	l.total.begin(now)
	for name, t := range totals {
		if t.hasCredit() {
			l.workers[name] = &workerState{totals: t}
		}
	}
	return l
}

// worker returns the state for name, creating it (as a name without
// credit, dropping the least recently used such name when there are
// maxFresh) when it is new; nil only past maxCreditedWorkers. l.mu must be
// held.
func (l *ledger) worker(name string) *workerState {
	if w, ok := l.workers[name]; ok {
		if w.fresh != nil {
			l.fresh.MoveToBack(w.fresh)
		}
		return w
	}
	if len(l.workers)-l.fresh.Len() >= maxCreditedWorkers {
		return nil
	}
	if l.fresh.Len() >= l.maxFresh {
		old := l.fresh.Remove(l.fresh.Front()).(string)
		delete(l.workers, old)
	}
	w := &workerState{}
	w.fresh = l.fresh.PushBack(name)
	l.workers[name] = w
	return w
}

// credit marks w as holding credit: kept and persisted from now on.
// l.mu must be held.
func (l *ledger) credit(name string, w *workerState) {
	if w.fresh != nil {
		l.fresh.Remove(w.fresh)
		w.fresh = nil
	}
	l.dirty[name] = true
}

func (l *ledger) connect(name string, now time.Time, diff float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.worker(name); w != nil {
		w.conns++
		w.diff = diff
		w.rate.begin(now)
	}
}

func (l *ledger) disconnect(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workers[name]
	if w == nil || w.conns == 0 {
		return
	}
	w.conns--
	if w.conns == 0 && w.fresh != nil {
		l.fresh.Remove(w.fresh) // a name without credit is forgotten with its last connection
		delete(l.workers, name)
	}
}

func (l *ledger) setDiff(name string, diff float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.workers[name]; w != nil {
		w.diff = diff
	}
}

func (l *ledger) accept(name string, now time.Time, diff float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted++
	l.total.add(now, diff)
	if w := l.worker(name); w != nil {
		w.totals.Accepted++
		w.totals.DiffSum += diff
		w.totals.LastShare = now
		w.rate.add(now, diff)
		l.credit(name, w)
	}
}

// reject counts a rejected share; name may be "" for sessions that never
// authorized.
func (l *ledger) reject(name string, kind stratum.RejectKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rejected++
	l.reasons[kind.String()]++
	if name == "" {
		return
	}
	if w := l.workers[name]; w != nil {
		w.totals.Rejected++
		if w.fresh == nil {
			l.dirty[name] = true
		}
	}
}

func (l *ledger) disconnected(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.discon[reason]++
}

// takeDirty returns the totals changed since the last call.
func (l *ledger) takeDirty() map[string]WorkerTotals {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]WorkerTotals, len(l.dirty))
	for name := range l.dirty {
		if w := l.workers[name]; w != nil && w.fresh == nil {
			out[name] = w.totals
		}
	}
	clear(l.dirty)
	return out
}

// markDirty puts back totals whose flush failed.
func (l *ledger) markDirty(names map[string]WorkerTotals) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name := range names {
		l.dirty[name] = true
	}
}

// fill copies the accounting and the block records into st; each
// worker's Blocks counts its credited records, and a name credited only
// with blocks gets a row too.
func (l *ledger) fill(st *Stats, now time.Time, blocks []job.BlockRecord) {
	credits := make(map[string]uint64)
	for _, b := range blocks {
		if b.Credited() {
			credits[b.Worker]++
		}
	}
	st.Blocks = blocks
	l.mu.Lock()
	defer l.mu.Unlock()
	st.HashrateHs = l.total.rate(now)
	st.SharesAccepted = l.accepted
	st.SharesRejected = l.rejected
	st.RejectReasons = maps.Clone(l.reasons)
	st.Disconnects = maps.Clone(l.discon)
	st.Workers = make([]WorkerStats, 0, len(l.workers))
	for name, w := range l.workers {
		st.Workers = append(st.Workers, WorkerStats{
			Name:        name,
			Connections: w.conns,
			Difficulty:  w.diff,
			HashrateHs:  w.rate.rate(now),
			Accepted:    w.totals.Accepted,
			Rejected:    w.totals.Rejected,
			DiffSum:     w.totals.DiffSum,
			Blocks:      credits[name],
			LastShare:   w.totals.LastShare,
		})
	}
	for name, n := range credits {
		if _, ok := l.workers[name]; !ok {
			st.Workers = append(st.Workers, WorkerStats{Name: name, Blocks: n})
		}
	}
	slices.SortFunc(st.Workers, func(a, b WorkerStats) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}
