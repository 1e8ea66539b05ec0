package pool

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// maxSessionJobs is how many recently sent jobs a session remembers; shares
// for older session job ids are answered 21 (job not found).
const maxSessionJobs = 32

// maxWorkerNames bounds how many names one connection may authorize.
const maxWorkerNames = 16

// session is the Stratum state of one connection. It is guarded by
// conn.mu.
type session struct {
	subscribed, authorized bool
	en1                    []byte
	worker                 string   // first authorized name (stats key)
	names                  []string // the other authorized names; nil for the usual one
	mask                   uint32   // negotiated version-rolling mask; 0: none
	en2Size                int      // extranonce2 size announced to the client
	extranonceSub          bool     // client sent mining.extranonce.subscribe
	reconnecting           bool     // client.reconnect queued; the connection closes after it
	vd                     Vardiff
	diff                   float64  // difficulty last announced
	target                 [32]byte // target of diff
	jobs                   [maxSessionJobs]sessionJob
	nextJob                int // ring index
	seq                    uint64
}

// sessionJob is a job as sent to this session: the session's own job id
// (seq, sent in hex) maps to the job and the difficulty in force when it
// was sent, so a difficulty change never invalidates work issued before it.
type sessionJob struct {
	seq  uint64
	job  *job.Job
	diff float64
}

func (s *session) init(cfg Config, now time.Time) {
	s.vd = *NewVardiff(Vardiff{Target: cfg.ShareInterval, Retarget: cfg.RetargetInterval, Min: cfg.MinDiff, Max: cfg.MaxDiff}, cfg.InitialDiff, now)
	s.setDiff(s.vd.Difficulty())
}

func (s *session) setDiff(d float64) {
	t, err := btc.DifficultyToTarget(d)
	if err != nil {
		return // d is clamped positive by Vardiff; keep the old target
	}
	s.diff, s.target = d, t
}

// addJob registers j under a new session job id at the current difficulty
// and appends that id (lower-case hex) to sid.
func (s *session) addJob(j *job.Job, sid []byte) []byte {
	s.seq++
	s.jobs[s.nextJob] = sessionJob{seq: s.seq, job: j, diff: s.diff}
	s.nextJob = (s.nextJob + 1) % maxSessionJobs
	return strconv.AppendUint(sid, s.seq, 16)
}

func (s *session) lookup(sid string) (sessionJob, bool) {
	seq, ok := parseSessionJobID(sid)
	if !ok {
		return sessionJob{}, false
	}
	for _, sj := range s.jobs {
		if sj.seq == seq && sj.job != nil {
			return sj, true
		}
	}
	return sessionJob{}, false
}

// parseSessionJobID reads a job id as addJob writes it: lower-case hex
// without leading zeros, so that exactly one spelling names a job.
func parseSessionJobID(sid string) (uint64, bool) {
	if sid == "" || len(sid) > 16 || sid[0] == '0' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(sid); i++ {
		ch := sid[i]
		switch {
		case '0' <= ch && ch <= '9':
			v = v<<4 | uint64(ch-'0')
		case 'a' <= ch && ch <= 'f':
			v = v<<4 | uint64(ch-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// handle answers one request or notification from the client. It returns a
// non-nil error only to end the connection at once.
func (c *conn) handle(ctx context.Context, req *stratum.Request, now time.Time) error {
	switch req.Method {
	case stratum.MethodSubscribe:
		c.subscribe(req)
	case stratum.MethodAuthorize:
		c.authorize(req, now)
	case stratum.MethodConfigure:
		c.configure(req)
	case stratum.MethodExtranonceSubscribe:
		c.mu.Lock()
		c.sess.extranonceSub = true
		c.mu.Unlock()
		c.replyResult(req.ID, true)
	case stratum.MethodSuggestDifficulty:
		c.suggestDifficulty(req, now)
	case stratum.MethodSubmit:
		c.submit(ctx, req)
	case stratum.MethodPing:
		c.replyResult(req.ID, stratum.PongResult)
	default:
		c.mu.Lock()
		subscribed := c.sess.subscribed
		c.mu.Unlock()
		if !subscribed && !strings.HasPrefix(req.Method, "mining.") {
			c.fail(req.ID, stratum.ErrNotSubscribed, "not subscribed", &closeError{Reason: reasonProtocol, Err: fmt.Errorf("method %.40q before subscribe", req.Method)})
			return nil
		}
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrOther, "unsupported method"))
	}
	return nil
}

// reply queues a response. A nil id on a notification means no reply is
// wanted, except for errors about undecodable lines.
func (c *conn) reply(id json.RawMessage, result any, e *stratum.Error) {
	var resp *stratum.Response
	if e != nil {
		resp = stratum.NewErrorResponse(id, e)
		resp.Result = json.RawMessage("false")
	} else {
		var err error
		if resp, err = stratum.NewResponse(id, result); err != nil {
			c.logger().Error("encode response", "err", err)
			return
		}
	}
	line, err := stratum.Encode(resp)
	if err != nil {
		c.logger().Error("encode response", "err", err)
		return
	}
	c.mu.Lock()
	c.enqueue(line)
	c.mu.Unlock()
}

func (c *conn) replyResult(id json.RawMessage, result any) {
	if isNullID(id) {
		return
	}
	c.reply(id, result, nil)
}

func isNullID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	return len(id) == 0 || string(id) == "null"
}

func (c *conn) subscribe(req *stratum.Request) {
	en2Size := c.s.cfg.Extranonce2Size
	if bj := c.s.cur.Load(); bj != nil && bj.job.Extranonce2Size > 0 {
		en2Size = bj.job.Extranonce2Size // proxy mode: set by the upstream pool
	}
	c.mu.Lock()
	if c.sess.en1 == nil {
		c.sess.en1 = c.s.cfg.Jobs.NewExtranonce1()
	}
	c.sess.subscribed = true
	c.sess.en2Size = en2Size
	en1 := c.sess.en1
	c.mu.Unlock()
	subID := fmt.Sprintf("%016x", c.id)
	c.replyResult(req.ID, stratum.SubscribeResult{
		Subscriptions:   []stratum.Subscription{{Method: stratum.MethodSetDifficulty, ID: subID}, {Method: stratum.MethodNotify, ID: subID}},
		Extranonce1:     en1,
		Extranonce2Size: en2Size,
	})
	c.maybeStart()
}

func (c *conn) authorize(req *stratum.Request, now time.Time) {
	var a stratum.Authorize
	if err := req.Decode(&a); err != nil {
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrOther, err.Error()))
		return
	}
	name, pass := a.User, a.Password
	if err := checkWorkerName(name, c.s.cfg.Network); err != nil {
		c.logger().Info("authorize refused", "err", err)
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrUnauthorized, err.Error()))
		return
	}
	if want := c.s.cfg.Password; want != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
		c.logger().Info("authorize refused: wrong password", "worker", name)
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrUnauthorized, "wrong password"))
		return
	}
	c.mu.Lock()
	known := c.sess.hasName(name)
	full := !known && 1+len(c.sess.names) >= maxWorkerNames
	first := false
	switch {
	case full:
	case c.sess.worker == "":
		c.sess.worker, first = name, true
	case !known:
		c.sess.names = append(c.sess.names, name)
	}
	if !full {
		c.sess.authorized = true
	}
	diff := c.sess.diff
	c.mu.Unlock()
	if full {
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrUnauthorized, "too many worker names on one connection"))
		return
	}
	if first {
		c.s.ledger.connect(name, now, diff)
		c.logger().Info("worker authorized", "diff", diff)
	}
	c.replyResult(req.ID, true)
	c.maybeStart()
}

// maybeStart sends the first difficulty and job once the session is both
// subscribed and authorized.
func (c *conn) maybeStart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sess.subscribed || !c.sess.authorized || c.isSession.Load() {
		return
	}
	c.isSession.Store(true)
	c.s.m.sessions.Inc()
	c.timer.Reset(c.s.cfg.IdleTimeout) // onTimer now watches the idle deadline
	if !c.enqueue(stratum.AppendSetDifficulty(nil, c.sess.diff)) {
		return
	}
	if bj := c.s.cur.Load(); bj != nil {
		c.notifyLocked(bj, true, nil)
	}
}

// notifyLocked queues bj under a new session job id. When the job's
// extranonce2 size differs from the one the client was told (proxy mode,
// after the upstream changed it), a client that subscribed to extranonce
// changes gets mining.set_extranonce first; any other client is asked to
// reconnect and closed. The line is built in *scratch when given (the
// broadcaster's, reused). c.mu must be held.
func (c *conn) notifyLocked(bj *broadcastJob, clean bool, scratch *[]byte) {
	if c.sess.reconnecting {
		return // told to reconnect: nothing more to send
	}
	if n := bj.job.Extranonce2Size; n > 0 && n != c.sess.en2Size {
		if !c.sess.extranonceSub {
			c.sess.reconnecting = true
			if c.enqueue(reconnectLine) {
				c.closeAfterFlush(&closeError{Reason: reasonExtranonce})
			}
			return
		}
		line, err := stratum.EncodeNotification(stratum.MethodSetExtranonce, stratum.SetExtranonce{Extranonce1: c.sess.en1, Extranonce2Size: n})
		if err != nil || !c.enqueue(line) {
			return // err: cannot happen (hex and an int); no notify without it
		}
		c.sess.en2Size = n
	}
	var idBuf [16]byte
	sid := c.sess.addJob(bj.job, idBuf[:0])
	if scratch == nil {
		c.enqueue(bj.notify.AppendLine(make([]byte, 0, bj.notify.LineLen(len(sid))), string(sid), clean))
		return
	}
	*scratch = bj.notify.AppendLine((*scratch)[:0], string(sid), clean)
	c.send(*scratch, true)
}

// pushJob sends a notify of bj, built in *scratch. Called by the
// broadcaster.
func (c *conn) pushJob(bj *broadcastJob, clean bool, scratch *[]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isSession.Load() {
		return
	}
	c.notifyLocked(bj, clean, scratch)
}

// changeDiff announces a new difficulty and re-sends the current job under
// a new id at that difficulty (miners apply set_difficulty from the next
// notify). c.mu must be held.
func (c *conn) changeDiffLocked(d float64) {
	if d == c.sess.diff {
		return
	}
	c.sess.setDiff(d)
	c.s.m.diffChanges.Inc()
	if !c.isSession.Load() {
		return // sent with the first job
	}
	if !c.enqueue(stratum.AppendSetDifficulty(nil, c.sess.diff)) {
		return
	}
	if bj := c.s.cur.Load(); bj != nil {
		c.notifyLocked(bj, false, nil)
	}
}

// tick lets vardiff lower the difficulty of a session that found no shares.
func (c *conn) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isSession.Load() {
		return
	}
	if d, changed := c.sess.vd.Tick(now); changed {
		c.changeDiffLocked(d)
		c.s.ledger.setDiff(c.sess.worker, d)
	}
}

// configure answers mining.configure (BIP310): version rolling within the
// pool's mask, a minimum difficulty, and false for anything else.
func (c *conn) configure(req *stratum.Request) {
	var p stratum.Configure
	if err := req.Decode(&p); err != nil {
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrOther, err.Error()))
		return
	}
	result := make(stratum.ConfigureResult, len(p.Extensions)+1)
	for _, ext := range p.Extensions {
		switch ext {
		case stratum.ExtensionVersionRolling:
			mask := c.s.cfg.VersionMask
			if clientMask, _, _, err := p.VersionRolling(); err != nil {
				mask = 0 // an unreadable mask is refused
			} else {
				mask &= clientMask
			}
			c.mu.Lock()
			c.sess.mask = mask
			c.mu.Unlock()
			maps.Copy(result, stratum.VersionRollingResult(mask != 0, mask))
		case stratum.MinimumDifficultyExtension:
			d, ok, _ := p.MinimumDifficulty()
			if ok {
				c.mu.Lock()
				c.sess.vd.SetMin(max(d, c.s.cfg.MinDiff))
				c.changeDiffLocked(c.sess.vd.Difficulty())
				c.mu.Unlock()
			}
			result[ext] = json.RawMessage(strconv.FormatBool(ok))
		default:
			if len(ext) <= 64 {
				result[ext] = json.RawMessage("false")
			}
		}
	}
	c.replyResult(req.ID, result)
}

func (c *conn) suggestDifficulty(req *stratum.Request, now time.Time) {
	var p stratum.SuggestDifficulty
	if err := req.Decode(&p); err != nil {
		c.reply(req.ID, nil, stratum.NewError(stratum.ErrOther, err.Error()))
		return
	}
	d := p.Difficulty
	c.mu.Lock()
	c.sess.vd.SetMin(max(d, c.s.cfg.MinDiff)) // the client asked for at least this
	nd := c.sess.vd.Set(d, now)
	c.changeDiffLocked(nd)
	worker := c.sess.worker
	c.mu.Unlock()
	if worker != "" {
		c.s.ledger.setDiff(worker, nd)
	}
	c.replyResult(req.ID, true)
}

func (c *conn) submit(ctx context.Context, req *stratum.Request) {
	sh, sj, worker, rej := c.parseSubmit(req)
	if rej != nil {
		c.rejectShare(req.ID, worker, rej)
		return
	}
	// Submit never waits for the node. A share that solves a block (also
	// a stale or otherwise rejected one) has its block recorded, logged,
	// submitted and followed by the job source, which owns found blocks.
	_, err := c.s.cfg.Jobs.Submit(ctx, sh)
	now := time.Now()
	if err != nil {
		if rej, ok := errors.AsType[*stratum.RejectError](err); ok {
			c.rejectShare(req.ID, worker, rej)
			return
		}
		c.s.m.submitErrors.Inc()
		c.logger().Error("share submission failed", "job", sh.JobID, "err", err)
		c.rejectShare(req.ID, worker, rejInternal)
		return
	}
	c.s.ledger.accept(worker, now, sj.diff)
	c.lastShare.Store(now.UnixNano())
	c.s.m.shares.Inc()
	c.s.m.shareDiff.Add(sj.diff)
	c.replyResult(req.ID, true)

	c.mu.Lock()
	if d, changed := c.sess.vd.Share(now); changed {
		c.changeDiffLocked(d)
		c.s.ledger.setDiff(c.sess.worker, d)
	}
	c.mu.Unlock()
}

// Rejections the pool itself decides (before or beside package job).
var (
	rejInternal      = &stratum.RejectError{Kind: stratum.RejectInternal}
	rejNotSubscribed = &stratum.RejectError{Kind: stratum.RejectNotSubscribed}
	rejUnauthorized  = &stratum.RejectError{Kind: stratum.RejectUnauthorized}
	rejJobNotFound   = &stratum.RejectError{Kind: stratum.RejectJobNotFound}
	rejNoRolling     = &stratum.RejectError{Kind: stratum.RejectVersion, Detail: "version rolling not negotiated (mining.configure)"}
	rejRollingMask   = &stratum.RejectError{Kind: stratum.RejectVersion, Detail: "rolling-version mask violation"}
)

// rejectShare counts rej (ledger and metric, both under its kind's label),
// logs it and sends its code and message to the worker.
func (c *conn) rejectShare(id json.RawMessage, worker string, rej *stratum.RejectError) {
	c.s.ledger.reject(worker, rej.Kind)
	c.s.m.rejects.WithLabelValues(rej.Kind.String()).Inc()
	if c.s.log.Enabled(context.Background(), slog.LevelDebug) {
		c.logger().Debug("share rejected", "reason", rej.Kind, "err", rej)
	}
	c.reply(id, nil, rej.Wire())
}

// parseSubmit checks a mining.submit against the session and turns it into
// a job.Share. worker is the stats name to charge a rejection to.
func (c *conn) parseSubmit(req *stratum.Request) (sh job.Share, sj sessionJob, worker string, rej *stratum.RejectError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	worker = c.sess.worker
	if !c.sess.subscribed {
		return sh, sj, worker, rejNotSubscribed
	}
	var p stratum.Submit
	if err := req.Decode(&p); err != nil {
		return sh, sj, worker, stratum.SubmitReject(err)
	}
	if !c.sess.authorized || !c.sess.hasName(p.Worker) {
		return sh, sj, worker, rejUnauthorized
	}
	sj, ok := c.sess.lookup(p.JobID)
	if !ok {
		return sh, sj, worker, rejJobNotFound
	}
	en2Size := sj.job.Extranonce2Size
	if en2Size == 0 {
		en2Size = c.s.cfg.Extranonce2Size
	}
	if len(p.Extranonce2) != en2Size {
		return sh, sj, worker, &stratum.RejectError{Kind: stratum.RejectExtranonce, Detail: fmt.Sprintf("extranonce2 must be %d bytes of hex", en2Size)}
	}
	version := sj.job.Version
	if p.HasVersionBits {
		mask := c.sess.mask
		if outside := p.VersionBits &^ mask; outside != 0 && outside != sj.job.Version&^mask {
			// Accept both the rolled bits alone (BIP310) and a full
			// version whose fixed bits equal the job's.
			if mask == 0 {
				return sh, sj, worker, rejNoRolling
			}
			return sh, sj, worker, rejRollingMask
		}
		version = btc.RollVersion(sj.job.Version, p.VersionBits, mask)
	}
	// Validate at the easier of the difficulty in force when the job was
	// sent and the current one, so neither a raise nor a drop makes honest
	// work already under way fail.
	target := c.sess.target
	if sj.diff < c.sess.diff {
		t, err := btc.DifficultyToTarget(sj.diff)
		if err != nil {
			return sh, sj, worker, rejInternal // cannot happen: sj.diff was announced
		}
		target = t
	} else {
		sj.diff = c.sess.diff
	}
	sh = job.Share{
		JobID:       sj.job.ID,
		Extranonce1: c.sess.en1,
		Extranonce2: p.Extranonce2,
		NTime:       p.NTime,
		Nonce:       p.Nonce,
		Version:     version,
		VersionMask: c.sess.mask,
		Target:      target,
		Worker:      p.Worker,
	}
	return sh, sj, worker, nil
}

// checkWorkerName accepts a free name or ADDRESS[.suffix]; an address of a
// network other than params is refused.
func checkWorkerName(name string, params *chaincfg.Params) error {
	if name == "" {
		return errors.New("empty worker name")
	}
	if len(name) > 128 {
		return errors.New("worker name longer than 128 bytes")
	}
	for _, r := range name {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' {
			return fmt.Errorf("worker name %.40q: only printable ASCII without spaces, quotes or backslashes", name)
		}
	}
	if params == nil {
		return nil
	}
	addr, _, _ := strings.Cut(name, ".")
	if _, err := btc.PayoutScript(addr, params); err == nil {
		return nil
	}
	for _, other := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.TestNet4Params, &chaincfg.SigNetParams, &chaincfg.RegressionNetParams} {
		if other.Net == params.Net {
			continue
		}
		if _, err := btc.PayoutScript(addr, other); err == nil {
			return fmt.Errorf("worker name: %.70s is a %s address, this pool mines %s", addr, other.Name, params.Name)
		}
	}
	return nil
}

// hasName reports whether name was authorized on this connection.
func (s *session) hasName(name string) bool {
	return name != "" && (name == s.worker || slices.Contains(s.names, name))
}
