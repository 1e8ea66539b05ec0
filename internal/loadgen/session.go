package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/netpoll"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Request ids a session uses; shares count up from firstShareID.
const (
	idSubscribe = 1
	idSuggest   = 2
	idAuthorize = 3

	firstShareID = 100
	// maxHashes bounds the search for one share, so an absurd difficulty
	// from the pool costs a bounded amount of CPU here.
	maxHashes = 1 << 22
	// clientMaxLine is the longest line a simulated client reads.
	clientMaxLine = 8 << 10
)

// session is one simulated miner. It holds no goroutine while it waits
// for a line (the submitters have their submit loop): its connection's
// readiness callback reads what came (readAvailable).
type session struct {
	r      *run
	i      int
	nc     netpoll.Conn
	rd     *stratum.Reader // owned by the running readAvailable
	w      *stratum.Writer
	opened time.Time

	mu        sync.Mutex
	en1       []byte
	en2Size   int
	en2Next   uint64
	target    [32]byte // share target
	haveDiff  bool
	work      *btc.Work
	jobID     string
	netTarget [32]byte
	lastPrev  string // prevhash of the last notify, as sent
	gotJob    bool
	nextID    uint64
	pending   map[uint64]time.Time // submitted shares; nil until the first
}

func newSession(r *run, i int, nc net.Conn, opened time.Time) *session {
	pc := netpoll.Wrap(nc)
	// 8 KiB lines are plenty for a notify (32 branches and a coinbase are
	// under 4 KiB) and keep the simulated client small next to the pool.
	return &session{r: r, i: i, nc: pc, rd: stratum.NewPollReader(pc, clientMaxLine),
		w: stratum.NewWriter(nc), opened: opened, nextID: firstShareID}
}

func (s *session) worker() string { return s.r.cfg.User + "." + strconv.Itoa(s.i) }

// handshake sends subscribe, suggest_difficulty and authorize, pipelined.
func (s *session) handshake() error {
	msgs := []struct {
		id     uint64
		method string
		params any
	}{
		{idSubscribe, "mining.subscribe", stratum.Subscribe{UserAgent: "hashfleet-loadgen"}},
		{idSuggest, "mining.suggest_difficulty", stratum.SuggestDifficulty{Difficulty: s.r.cfg.Difficulty}},
		{idAuthorize, "mining.authorize", stratum.Authorize{User: s.worker(), Password: s.r.cfg.Password}},
	}
	for _, m := range msgs {
		req, err := stratum.NewRequest(m.id, m.method, m.params)
		if err != nil {
			return err
		}
		if err := s.w.Write(req); err != nil {
			return fmt.Errorf("%s: %v", m.method, trimAddr(err))
		}
	}
	return nil
}

func (s *session) close() { s.nc.Close() }

// serve reads until the connection ends (r.readers counts it until
// then); a submitter also submits.
func (s *session) serve(ctx context.Context) {
	if s.submitter() {
		go s.submitLoop(ctx)
	}
	s.nc.OnReadable(s.onReadable)
}

func (s *session) submitter() bool { return s.i < s.r.cfg.Submitters }

// onReadable is the connection's readiness callback; it runs on the
// poller's goroutine (TCP) or the pool's writer (in memory). A session
// that never submits only notes each notify's prevhash: cheap enough to
// do right there, so 100,000 of them cost no goroutines; a submitter
// decodes its jobs and answers on a goroutine of its own.
func (s *session) onReadable() {
	if s.submitter() {
		go s.readAvailable()
		return
	}
	s.readAvailable()
}

// readAvailable handles the lines that have arrived, then waits for more;
// at the connection's end it counts the session's reading done.
func (s *session) readAvailable() {
	ctx := s.r.ctx
	for {
		line, err := s.rd.ReadLine()
		if errors.Is(err, stratum.ErrWouldBlock) {
			s.nc.OnReadable(s.onReadable)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.r.errorf("read: %v", trimAddr(err))
			}
			s.r.readers.Done()
			return
		}
		now := time.Now() // before parsing: the arrival, not our decoding, is timed
		prev, isNotify := notifyPrevHash(line)
		if isNotify && !s.submitter() {
			// A session that never submits needs only the prevhash: at
			// 100,000 sessions, decoding every notify here would be most
			// of the machine's work and the fan-out would time the client.
			s.seeTip(prev, now)
			continue
		}
		msg, err := stratum.ParseMessage(line)
		if err == nil {
			err = s.handle(msg, now)
		}
		if err != nil {
			if ctx.Err() == nil { // else the end of the run cut a line
				s.r.errorf("%v", err)
			}
			s.close()
			s.r.readers.Done()
			return
		}
	}
}

func (s *session) handle(m *stratum.Message, now time.Time) error {
	switch m.Kind() {
	case stratum.KindResponse:
		return s.response(m.Response(), now)
	case stratum.KindNotification:
		return s.notification(m.Request(), now)
	default:
		// A request from the pool (client.get_version, ...): not modelled.
		s.r.count("pool_requests")
		return nil
	}
}

func (s *session) response(resp *stratum.Response, now time.Time) error {
	id, ok := resp.IDUint()
	if !ok {
		return fmt.Errorf("response with a non-numeric id")
	}
	switch {
	case id == idSubscribe:
		var res stratum.SubscribeResult
		if err := resp.Decode(&res); err != nil {
			return fmt.Errorf("subscribe: %v", err)
		}
		s.mu.Lock()
		s.en1, s.en2Size = res.Extranonce1, res.Extranonce2Size
		s.mu.Unlock()
	case id == idSuggest:
		// Pools may ignore it; the set_difficulty that follows counts.
	case id == idAuthorize:
		if err := resp.Bool(); err != nil {
			return fmt.Errorf("authorize: %v", err)
		}
	case id >= firstShareID:
		s.mu.Lock()
		sent, ok := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("answer to share %d that was not sent", id)
		}
		err := resp.Bool()
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		s.r.shareDone(now.Sub(sent), err == nil, reason)
	}
	return nil
}

func (s *session) notification(req *stratum.Request, now time.Time) error {
	switch req.Method {
	case "mining.set_difficulty":
		var p stratum.SetDifficulty
		if err := req.Decode(&p); err != nil {
			return fmt.Errorf("set_difficulty: %v", err)
		}
		t, err := btc.DifficultyToTarget(p.Difficulty)
		if err != nil {
			return fmt.Errorf("set_difficulty: %v", err)
		}
		s.mu.Lock()
		s.target, s.haveDiff = t, true
		s.mu.Unlock()
	case "mining.notify":
		return s.notify(req, now)
	}
	return nil
}

func (s *session) notify(req *stratum.Request, now time.Time) error {
	var n stratum.Notify
	if err := req.Decode(&n); err != nil {
		return fmt.Errorf("notify: %v", err)
	}
	netTarget, err := btc.CompactToTarget(n.NBits)
	if err != nil {
		return fmt.Errorf("notify: nbits: %v", err)
	}
	s.mu.Lock()
	s.jobID, s.netTarget = n.JobID, netTarget
	s.work = &btc.Work{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2,
		Branch: n.Branch, Version: n.Version, Bits: n.NBits, Time: n.NTime}
	s.mu.Unlock()
	s.seeTip([]byte(btc.StratumPrevHash(n.PrevHash)), now)
	return nil
}

// seeTip records a notify on prev (the prevhash as the pool sent it): the
// session's first job, or a new tip.
func (s *session) seeTip(prev []byte, now time.Time) {
	s.mu.Lock()
	first := !s.gotJob
	newTip := s.gotJob && string(prev) != s.lastPrev
	if first || newTip {
		s.lastPrev = string(prev)
	}
	s.gotJob = true
	s.mu.Unlock()
	switch {
	case first:
		s.r.sessionUp(s, now)
	case newTip:
		s.r.newTip(prev, now)
	}
}

// notifyPrevHash finds a mining.notify's prevhash (its second parameter)
// without decoding the line: ok is false for any other line, or a notify
// not in the usual shape (then it is decoded in full).
func notifyPrevHash(line []byte) (prev []byte, ok bool) {
	if !bytes.Contains(line, []byte(`"mining.notify"`)) {
		return nil, false
	}
	_, rest, found := bytes.Cut(line, []byte(`"params":["`))
	if !found {
		return nil, false
	}
	_, rest, found = bytes.Cut(rest, []byte(`","`)) // after the job id
	if !found || len(rest) < 65 || rest[64] != '"' {
		return nil, false
	}
	return rest[:64], true
}

// submitLoop submits a share about every ShareInterval once the hold
// phase starts, from a random offset so submitters do not march in step.
func (s *session) submitLoop(ctx context.Context) {
	select {
	case <-s.r.submitGo:
	case <-ctx.Done():
		return
	}
	iv := s.r.cfg.ShareInterval
	if !sleepUntil(ctx, time.Now().Add(rand.N(iv))) {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if err := s.submit(); err != nil {
			if ctx.Err() == nil { // not the end of the run closing the session
				s.r.errorf("submit: %v", err)
			}
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// submit finds one share for the current job and sends it.
func (s *session) submit() error {
	s.mu.Lock()
	if s.work == nil || !s.haveDiff || s.en2Size <= 0 {
		s.mu.Unlock()
		s.r.count("submit_not_ready") // no job, difficulty or extranonce yet
		return nil
	}
	w, jobID, en1, target, netTarget := s.work, s.jobID, s.en1, s.target, s.netTarget
	en2 := make([]byte, s.en2Size)
	base := s.en2Next
	s.en2Next++
	s.mu.Unlock()
	putCounter(en2, base)
	nonce, ok := findShare(w, en1, en2, &target, &netTarget)
	if !ok {
		s.r.count("share_search_gave_up")
		return nil
	}
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	if s.pending == nil {
		s.pending = map[uint64]time.Time{}
	}
	s.pending[id] = time.Now()
	s.mu.Unlock()
	req, err := stratum.NewRequest(id, "mining.submit", stratum.Submit{
		Worker: s.worker(), JobID: jobID, Extranonce2: en2, NTime: w.Time, Nonce: nonce})
	if err != nil {
		return err
	}
	s.r.count("sent")
	if err := s.w.Write(req); err != nil {
		return fmt.Errorf("%v", trimAddr(err))
	}
	return nil
}

// putCounter writes v big-endian into the low bytes of en2.
func putCounter(en2 []byte, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	n := min(len(en2), 8)
	copy(en2[len(en2)-n:], b[8-n:])
}

// findShare searches nonces for a header meeting target but not netTarget
// (a block would move the chain, which the load must not do).
func findShare(w *btc.Work, en1, en2 []byte, target, netTarget *[32]byte) (uint32, bool) {
	root := w.MerkleRoot(en1, en2)
	for nonce := uint32(0); nonce < maxHashes; nonce++ {
		h := btc.NewHeader(w.Version, w.PrevHash, root, w.Time, w.Bits, nonce)
		hash := btc.BlockHash(&h)
		if btc.MeetsTarget(&hash, target) && !btc.MeetsTarget(&hash, netTarget) {
			return nonce, true
		}
	}
	return 0, false
}
