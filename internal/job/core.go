package job

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/store"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// core is what node mode (Manager) and proxy mode (Proxy) share: the job
// table and its publication, the subscribers, extranonce1 allocation, the
// duplicate set and the mode-independent share checks. Each mode's Run
// has one owner goroutine that is the only caller of publish; the other
// methods are safe for concurrent use.
type core struct {
	log     *slog.Logger
	met     *metrics
	en1Size int
	maxJobs int
	idBase  uint32
	en1Next atomic.Uint64
	running atomic.Bool

	table atomic.Pointer[jobTable] // written only by the owner goroutine
	dups  dupSet
	book  *book // every block found

	// subMu guards subs, blockSubs, blocksEnded and nextSub.
	subMu       sync.Mutex
	subs        map[uint64]chan *Job
	blockSubs   map[uint64]chan Block
	blocksEnded bool // Run has returned: block streams are closed
	nextSub     uint64

	templates   atomic.Uint64
	blocksFound atomic.Uint64
	lastErr     atomic.Pointer[string]
}

// jobTable is an immutable snapshot of the known jobs.
type jobTable struct {
	byID    map[string]*Job
	order   []string // oldest first
	current *Job
	tpl     *chain.Template // node mode: the template of current
	tipSeq  uint64          // node mode: fetch sequence of the template that set the tip
}

// init sets c up, loading the block records of st (nil: none, kept in
// memory only); New and NewProxy call it once, before any use.
func (c *core) init(log *slog.Logger, reg prometheus.Registerer, st *store.DB, en1Size, maxJobs, maxDups int) error {
	var loaded []BlockRecord
	if st != nil {
		var err error
		if loaded, err = loadBlocks(st); err != nil {
			return err
		}
	}
	c.book = newBook(st, loaded, log)
	var seed [12]byte
	_, _ = rand.Read(seed[:])
	c.log, c.met = log, newMetrics(reg)
	c.en1Size, c.maxJobs = en1Size, maxJobs
	c.idBase = binary.BigEndian.Uint32(seed[:4])
	c.subs = make(map[uint64]chan *Job)
	c.blockSubs = make(map[uint64]chan Block)
	c.en1Next.Store(binary.BigEndian.Uint64(seed[4:]))
	c.dups.max = maxDups
	c.table.Store(&jobTable{byID: map[string]*Job{}})
	return nil
}

// Blocks returns every block found (loaded from the state file and found
// since), oldest first, each as last written. Safe for concurrent use.
func (c *core) Blocks() []BlockRecord { return c.book.snapshot() }

// recordFound records the report of block b, found by a share or settled,
// and reports whether it changed the record (a replay changes nothing).
func (c *core) recordFound(b Block) bool {
	rec := BlockRecord{Height: b.Height, Hash: btc.HashString(b.Hash), Worker: b.Worker, Time: time.Now(),
		Accepted: b.Accepted, Pending: b.Pending, NodeResult: b.NodeResult}
	_, changed := c.book.found(rec)
	return changed
}

// jobID names the seq-th job of this process.
func (c *core) jobID(seq uint64) string { return fmt.Sprintf("%08x%x", c.idBase, seq) }

// recordErr counts a template (or upstream work) that did not become a job.
func (c *core) recordErr(err error) {
	c.met.templateErrors.Inc()
	s := err.Error()
	c.lastErr.Store(&s)
}

// Extranonce1Size is the size of the values NewExtranonce1 returns.
func (c *core) Extranonce1Size() int { return c.en1Size }

// NewExtranonce1 returns an extranonce1 unique among all values this
// source has returned (a counter from a random start, so 2^(8·size)
// connections get distinct values). Safe for concurrent use.
func (c *core) NewExtranonce1() []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.en1Next.Add(1))
	return append([]byte(nil), b[8-c.en1Size:]...)
}

// Current returns the newest job, or nil before the first one.
func (c *core) Current() *Job { return c.table.Load().current }

// Subscribe returns a channel that receives each new job (buffer 1,
// newest wins: a slow reader skips intermediate jobs, but a skipped clean
// job turns the next delivered one into a clean copy), starting with the
// current job if any, and a func that unsubscribes and closes the channel.
func (c *core) Subscribe() (<-chan *Job, func()) {
	ch := make(chan *Job, 1)
	c.subMu.Lock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = ch
	if cur := c.Current(); cur != nil {
		ch <- cur
	}
	c.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.subMu.Lock()
			delete(c.subs, id)
			close(ch)
			c.subMu.Unlock()
		})
	}
}

// blockStreamLen is each block subscriber's buffer: outcomes waiting to be
// read. Blocks are rare; an outcome that finds a buffer full is dropped,
// counted and logged (the pool then settles its record from the node).
const blockStreamLen = 64

// SubscribeBlocks returns a channel that receives the final outcome of
// every block settled from now on (node mode; proxy mode sends none) and
// a func that unsubscribes. The channel is closed by that func or when Run
// has returned, after the last outcome (so a reader that drains it until
// it is closed has seen every block settled during shutdown).
func (c *core) SubscribeBlocks() (<-chan Block, func()) {
	ch := make(chan Block, blockStreamLen)
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.blocksEnded {
		close(ch)
		return ch, func() {}
	}
	id := c.nextSub
	c.nextSub++
	c.blockSubs[id] = ch
	return ch, func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		if _, ok := c.blockSubs[id]; ok {
			delete(c.blockSubs, id)
			close(ch)
		}
	}
}

// endBlocks closes every block stream; Run calls it last.
func (c *core) endBlocks() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.blocksEnded = true
	for id, ch := range c.blockSubs {
		delete(c.blockSubs, id)
		close(ch)
	}
}

// publishBlock sends a settled block's outcome to every block subscriber,
// never waiting for one.
func (c *core) publishBlock(b Block) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for _, ch := range c.blockSubs {
		select {
		case ch <- b:
		default:
			c.met.outcomesDropped.Inc()
			c.log.Error("block outcome dropped: subscriber not reading", "hash", btc.HashString(b.Hash))
		}
	}
}

func (c *core) broadcast(j *Job) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for _, ch := range c.subs {
		send := j
		select {
		case old := <-ch:
			if old.Clean && !send.Clean {
				cp := *send
				cp.Clean = true
				send = &cp
			}
		default:
		}
		select {
		case ch <- send:
		default: // cannot happen: only broadcast sends, under subMu
		}
	}
}

// publish stores a new job table with j as the current job (dropping every
// older job when dropOld) and broadcasts j. Only the owner goroutine calls
// it.
func (c *core) publish(old *jobTable, j *Job, tpl *chain.Template, tipSeq uint64, dropOld bool) {
	t := &jobTable{byID: make(map[string]*Job, len(old.byID)+1), current: j, tpl: tpl, tipSeq: tipSeq}
	if !dropOld {
		t.order = append(t.order, old.order...)
		for k, v := range old.byID {
			t.byID[k] = v
		}
	}
	t.order = append(t.order, j.ID)
	t.byID[j.ID] = j
	for len(t.order) > c.maxJobs {
		delete(t.byID, t.order[0])
		t.order = t.order[1:]
	}
	newTip := old.current == nil || old.current.gen != j.gen
	if newTip {
		c.dups.reset(j.gen)
		c.met.height.Set(float64(j.Height))
	}
	c.table.Store(t)
	c.met.jobs.WithLabelValues(map[bool]string{true: "clean", false: "update"}[newTip]).Inc()
	c.broadcast(j)
}

// verdict looks the share's job up and runs the pure Check (§1.7 order up
// to, not including, duplicates). j is nil for an unknown job.
func (c *core) verdict(sh *Share) (j *Job, v Verdict, res Result) {
	t := c.table.Load()
	j = t.byID[sh.JobID]
	stale := j != nil && t.current != nil && j.gen != t.current.gen
	v = Check(j, stale, sh, uint32(time.Now().Unix()))
	if v.Hashed {
		res.Hash = v.Hash
		res.Difficulty = btc.HashDifficulty(v.Hash)
		res.Stale = stale
	}
	return j, v, res
}

// count records the share's outcome under its rejection kind's label (or
// accepted) and returns the Submit answer.
func (c *core) count(res Result, rej *stratum.RejectError) (Result, error) {
	if rej != nil {
		c.met.shares.WithLabelValues(rej.Kind.String()).Inc()
		return res, rej
	}
	c.met.sharesAccepted.Inc()
	return res, nil
}

// Status is a snapshot for the dashboard and /api/stats.
type Status struct {
	Height         int64   `json:"height"`
	PrevHash       string  `json:"prev_hash"` // display order
	JobID          string  `json:"job_id"`
	Txs            int     `json:"txs"`
	Bits           string  `json:"bits"`
	NetworkDiff    float64 `json:"network_difficulty"`
	Jobs           int     `json:"jobs"`
	Templates      uint64  `json:"templates"`
	BlocksFound    uint64  `json:"blocks_found"`
	BlocksAccepted uint64  `json:"blocks_accepted"`
	// Forwarded counts shares queued for the upstream pool (proxy mode),
	// counted before Submit returns.
	Forwarded uint64    `json:"forwarded,omitempty"`
	LastJob   time.Time `json:"last_job"`
	LastError string    `json:"last_error,omitempty"`
}

// status is the mode-independent part of Status.
func (c *core) status() Status {
	t := c.table.Load()
	s := Status{
		Jobs:        len(t.byID),
		Templates:   c.templates.Load(),
		BlocksFound: c.blocksFound.Load(),
	}
	if p := c.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	if j := t.current; j != nil {
		s.Height, s.PrevHash, s.JobID, s.Txs = j.Height, btc.HashString(j.PrevHash), j.ID, len(j.Txs)
		s.Bits = btc.HexUint32(j.Bits)
		s.NetworkDiff = btc.TargetToDifficulty(j.NetworkTarget)
		s.LastJob = j.Created
	}
	return s
}

// dupSet remembers share hashes (SHA-256d of the full 80-byte header, so
// the version, ntime, nonce and both extranonces are all part of the key)
// for the current tip. Memory is bounded by rotating two generations.
type dupSet struct {
	max int
	// mu guards the fields below.
	mu   sync.Mutex
	tip  uint64 // tip generation
	cur  map[[32]byte]struct{}
	prev map[[32]byte]struct{}
}

func (d *dupSet) reset(tip uint64) {
	d.mu.Lock()
	d.tip, d.cur, d.prev = tip, make(map[[32]byte]struct{}), nil
	d.mu.Unlock()
}

// add records h for tip and reports whether it was new. Hashes for another
// tip (a race with a tip change) are not recorded and count as new.
func (d *dupSet) add(tip uint64, h [32]byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tip != d.tip || d.cur == nil {
		return true
	}
	if _, ok := d.cur[h]; ok {
		return false
	}
	if _, ok := d.prev[h]; ok {
		return false
	}
	if len(d.cur) >= d.max/2 {
		d.prev, d.cur = d.cur, make(map[[32]byte]struct{}, len(d.cur))
	}
	d.cur[h] = struct{}{}
	return true
}
