// Package minertest provides an in-process Stratum v1 pool for tests of
// Stratum clients (the miner, the worker command, proxies). It serves real
// jobs built with internal/btc at a low share difficulty and verifies every
// submitted share byte for byte from first principles (crypto/sha256).
package minertest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Server is an in-process Stratum v1 pool for tests. It serves real jobs
// built with internal/btc (BIP34 coinbase, witness commitment, merkle
// branch over random txids) at a low share difficulty, and checks every
// submitted share byte for byte with crypto/sha256: it rebuilds the
// coinbase and header from the notify it sent and requires hash <= the
// share target in force when that job was sent to that connection.
type Server struct {
	t    testing.TB
	ln   net.Listener
	addr string
	cfg  Config

	mu     sync.Mutex
	conns  map[*session]struct{}
	jobs   map[string]*job
	cur    *job
	seq    int
	en1Seq uint32
	shares []Share
	nconns int
	resps  []*stratum.Response
	closed bool
	wg     sync.WaitGroup
	dups   map[[80]byte]bool
}

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	Extranonce2Size int         // sent in subscribe (out-of-range values allowed, to test clients); default 4
	Difficulty      float64     // initial share difficulty; default 1e-5
	Bits            uint32      // nbits of the jobs; default regtest 0x207fffff
	VersionMask     uint32      // version-rolling mask granted; 0 refuses mining.configure
	Password        string      // required password; "" accepts any
	TLS             *tls.Config // serve stratum+ssl with this config
	Addr            string      // listen address; default 127.0.0.1:0
	SilentConfigure bool        // never answer mining.configure (like ckpool)
	// RejectError, if set, answers every valid share with this error
	// ([code, msg, null] shape) instead of true.
	RejectError *stratum.Error
	// RejectReason, if set, answers every valid share ckpool-style:
	// result false, error null, "reject-reason": RejectReason.
	RejectReason string
}

type job struct {
	n     stratum.Notify
	en2sz int
}

type session struct {
	f          *Server
	conn       net.Conn
	w          *stratum.Writer
	mu         sync.Mutex
	en1        []byte            // extranonce1 for jobs sent from now on
	jobEN1     map[string][]byte // extranonce1 in force when each job was sent
	authorized bool
	diff       float64            // difficulty for jobs sent from now on
	jobDiff    map[string]float64 // difficulty in force when each job was sent
	mask       uint32             // negotiated version mask
	user       string
}

// Share is one mining.submit the Server received, with its verdict.
type Share struct {
	JobID   string
	En1     []byte
	En2     []byte
	NTime   uint32
	Nonce   uint32
	Version uint32
	Hash    [32]byte
	Diff    float64 // job difficulty at issue
	Valid   bool
	Reason  string               // why it is invalid, for test messages
	Reject  *stratum.RejectError // what the pool answers for it; nil when valid
}

// NewServer starts a Server on loopback; it is closed when the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Extranonce2Size == 0 {
		cfg.Extranonce2Size = 4
	}
	if cfg.Difficulty == 0 {
		cfg.Difficulty = 1e-5
	}
	if cfg.Bits == 0 {
		cfg.Bits = 0x207fffff
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // a restarted Server may need the port to be released
		ln, err = net.Listen("tcp", cfg.Addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Server listen: %v", err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	f := &Server{t: t, ln: ln, addr: ln.Addr().String(), cfg: cfg, conns: map[*session]struct{}{},
		jobs: map[string]*job{}, dups: map[[80]byte]bool{}}
	f.mu.Lock()
	f.cur = f.makeJobLocked(true)
	f.mu.Unlock()
	f.wg.Go(f.acceptLoop)
	t.Cleanup(f.Close)
	return f
}

// Addr returns the listen address (host:port).
func (f *Server) Addr() string { return f.addr }

// URL returns stratum+tcp://addr (stratum+ssl with TLS).
func (f *Server) URL() string {
	if f.cfg.TLS != nil {
		return "stratum+ssl://" + f.addr
	}
	return "stratum+tcp://" + f.addr
}

// Close stops the listener and drops every connection (a server crash).
func (f *Server) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.conn.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *Server) acceptLoop() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		c := &session{f: f, conn: conn, w: stratum.NewWriter(conn), jobDiff: map[string]float64{}, jobEN1: map[string][]byte{}}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			conn.Close()
			return
		}
		f.conns[c] = struct{}{}
		f.nconns++
		c.diff = f.cfg.Difficulty
		f.mu.Unlock()
		f.wg.Go(func() {
			c.serve()
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
			conn.Close()
		})
	}
}

func randHash() [32]byte {
	var h [32]byte
	_, _ = rand.Read(h[:])
	return h
}

// makeJobLocked builds a real job with internal/btc. f.mu must be held.
func (f *Server) makeJobLocked(clean bool) *job {
	f.seq++
	txids := [][32]byte{randHash(), randHash(), randHash()}
	wtxids := [][32]byte{randHash(), randHash(), randHash()}
	payout := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0xab}, 20)...)
	cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{
		Height: int64(200 + f.seq), ValueSats: 50_0000_0000, PayoutScript: payout,
		WitnessCommitment: btc.WitnessCommitmentScript(wtxids), Tag: []byte("/hashfleet-Server/"),
		Extranonce1Size: 4, Extranonce2Size: f.cfg.Extranonce2Size,
	})
	if err != nil {
		panic(fmt.Sprintf("Server: BuildCoinbase: %v", err))
	}
	j := &job{en2sz: f.cfg.Extranonce2Size, n: stratum.Notify{
		JobID:    strconv.FormatInt(int64(f.seq), 16),
		PrevHash: randHash(),
		Coinb1:   cb.Coinb1,
		Coinb2:   cb.Coinb2,
		Branch:   btc.MerkleBranch(txids),
		Version:  0x20000000,
		NBits:    f.cfg.Bits,
		NTime:    uint32(time.Now().Unix()),
		Clean:    clean,
	}}
	f.jobs[j.n.JobID] = j
	return j
}

// NewJob builds a job and sends it to every authorized connection.
func (f *Server) NewJob(clean bool) string {
	f.mu.Lock()
	j := f.makeJobLocked(clean)
	f.cur = j
	conns := f.connList()
	f.mu.Unlock()
	for _, c := range conns {
		c.sendJob(j)
	}
	return j.n.JobID
}

// SetDifficulty sends mining.set_difficulty; the Server applies it to
// jobs sent afterwards, as the miner must.
func (f *Server) SetDifficulty(d float64) {
	f.mu.Lock()
	f.cfg.Difficulty = d
	conns := f.connList()
	f.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		c.diff = d
		c.mu.Unlock()
		c.notify(stratum.MethodSetDifficulty, stratum.SetDifficulty{Difficulty: d})
	}
}

// SetExtranonce sends mining.set_extranonce (as a request with id
// "set_extranonce") with a new extranonce1 for every connection; the size
// of extranonce2 is unchanged. It applies to jobs sent afterwards.
func (f *Server) SetExtranonce(en1 []byte) {
	f.mu.Lock()
	conns := f.connList()
	size := f.cfg.Extranonce2Size
	f.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		c.en1 = en1
		c.mu.Unlock()
		req, err := stratum.NewNotification(stratum.MethodSetExtranonce, stratum.SetExtranonce{Extranonce1: en1, Extranonce2Size: size})
		if err != nil {
			panic(err)
		}
		req.ID = json.RawMessage(`"set_extranonce"`)
		_ = c.w.Write(req)
	}
}

// SendRaw writes a raw line (a newline is appended) to every connection.
func (f *Server) SendRaw(line string) {
	f.mu.Lock()
	conns := f.connList()
	f.mu.Unlock()
	for _, c := range conns {
		_, _ = c.conn.Write([]byte(line + "\n"))
	}
}

func (f *Server) connList() []*session {
	out := make([]*session, 0, len(f.conns))
	for c := range f.conns {
		out = append(out, c)
	}
	return out
}

// Shares returns every share received so far.
func (f *Server) Shares() []Share {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Share(nil), f.shares...)
}

// Responses returns the responses clients sent (to requests injected
// with SendRaw).
func (f *Server) Responses() []*stratum.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*stratum.Response(nil), f.resps...)
}

// Connections returns how many connections were accepted.
func (f *Server) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nconns
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ValidShares counts valid shares matching pred (nil: all).
func (f *Server) ValidShares(pred func(Share) bool) int {
	n := 0
	for _, s := range f.Shares() {
		if s.Valid && (pred == nil || pred(s)) {
			n++
		}
	}
	return n
}

func (c *session) notify(method string, params any) {
	n, err := stratum.NewNotification(method, params)
	if err != nil {
		panic(err)
	}
	_ = c.w.Write(n)
}

func (c *session) sendJob(j *job) {
	c.mu.Lock()
	if !c.authorized {
		c.mu.Unlock()
		return
	}
	c.jobDiff[j.n.JobID] = c.diff
	c.jobEN1[j.n.JobID] = c.en1
	c.mu.Unlock()
	c.notify(stratum.MethodNotify, j.n)
}

func (c *session) serve() {
	r := stratum.NewReader(c.conn)
	for {
		msg, err := r.Read()
		if err != nil {
			if errors.Is(err, stratum.ErrMalformed) || errors.Is(err, stratum.ErrLineTooLong) {
				continue
			}
			return
		}
		switch msg.Kind() {
		case stratum.KindRequest:
			c.handle(msg.Request())
		case stratum.KindResponse:
			c.f.mu.Lock()
			c.f.resps = append(c.f.resps, msg.Response())
			c.f.mu.Unlock()
		}
	}
}

func (c *session) reply(id json.RawMessage, result any) {
	resp, err := stratum.NewResponse(id, result)
	if err != nil {
		panic(err)
	}
	_ = c.w.Write(resp)
}

func (c *session) fail(id json.RawMessage, code int, msg string) {
	_ = c.w.Write(stratum.NewErrorResponse(id, stratum.NewError(code, msg)))
}

func (c *session) handle(req *stratum.Request) {
	f := c.f
	switch req.Method {
	case stratum.MethodConfigure:
		if f.cfg.SilentConfigure {
			return
		}
		var p stratum.Configure
		if err := req.Decode(&p); err != nil {
			c.fail(req.ID, stratum.ErrOther, err.Error())
			return
		}
		mask, _, ok, err := p.VersionRolling()
		if err != nil || !ok || f.cfg.VersionMask == 0 {
			c.reply(req.ID, stratum.VersionRollingResult(false, 0))
			return
		}
		c.mu.Lock()
		c.mask = mask & f.cfg.VersionMask
		c.mu.Unlock()
		c.reply(req.ID, stratum.VersionRollingResult(true, mask&f.cfg.VersionMask))
	case stratum.MethodSubscribe:
		f.mu.Lock()
		f.en1Seq++
		en1 := binary.BigEndian.AppendUint32(nil, f.en1Seq)
		f.mu.Unlock()
		c.mu.Lock()
		c.en1 = en1
		c.mu.Unlock()
		// Built by hand so that out-of-range sizes can be served.
		c.reply(req.ID, []any{[][2]string{{stratum.MethodSetDifficulty, "1"}, {stratum.MethodNotify, "1"}}, hex.EncodeToString(en1), f.cfg.Extranonce2Size})
	case stratum.MethodAuthorize:
		var p stratum.Authorize
		if err := req.Decode(&p); err != nil {
			c.fail(req.ID, stratum.ErrOther, err.Error())
			return
		}
		if f.cfg.Password != "" && p.Password != f.cfg.Password {
			c.fail(req.ID, stratum.ErrUnauthorized, "Unauthorized worker")
			return
		}
		c.mu.Lock()
		c.authorized, c.user = true, p.User
		d := c.diff
		c.mu.Unlock()
		c.reply(req.ID, true)
		c.notify(stratum.MethodSetDifficulty, stratum.SetDifficulty{Difficulty: d})
		f.mu.Lock()
		j := f.cur
		f.mu.Unlock()
		c.sendJob(j)
	case stratum.MethodExtranonceSubscribe:
		c.reply(req.ID, true)
	case stratum.MethodSuggestDifficulty:
	case stratum.MethodSubmit:
		var p stratum.Submit
		if err := req.Decode(&p); err != nil {
			c.fail(req.ID, stratum.ErrOther, err.Error())
			return
		}
		rec := c.check(p)
		f.mu.Lock()
		f.shares = append(f.shares, rec)
		f.mu.Unlock()
		if !rec.Valid {
			c.fail(req.ID, rec.Reject.Kind.Code(), rec.Reason)
			return
		}
		switch {
		case f.cfg.RejectError != nil:
			_ = c.w.Write(stratum.NewErrorResponse(req.ID, f.cfg.RejectError))
		case f.cfg.RejectReason != "":
			_ = c.w.Write(&stratum.Response{ID: req.ID, Result: json.RawMessage("false"), RejectReason: f.cfg.RejectReason})
		default:
			c.reply(req.ID, true)
		}
	default:
		c.fail(req.ID, stratum.ErrOther, "unknown method")
	}
}

func dsha(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// check verifies a share from first principles (crypto/sha256 only).
func (c *session) check(p stratum.Submit) Share {
	f := c.f
	c.mu.Lock()
	en1, mask, user := c.jobEN1[p.JobID], c.mask, c.user
	diff, sent := c.jobDiff[p.JobID]
	c.mu.Unlock()
	f.mu.Lock()
	j := f.jobs[p.JobID]
	f.mu.Unlock()
	rec := Share{JobID: p.JobID, En1: en1, En2: p.Extranonce2, NTime: p.NTime, Nonce: p.Nonce, Diff: diff}
	bad := func(kind stratum.RejectKind, reason string) Share {
		rec.Reason, rec.Reject = reason, &stratum.RejectError{Kind: kind, Detail: reason}
		return rec
	}
	if j == nil || !sent {
		return bad(stratum.RejectJobNotFound, "job not found")
	}
	if p.Worker != user {
		return bad(stratum.RejectUnauthorized, "worker mismatch")
	}
	if len(p.Extranonce2) != j.en2sz {
		return bad(stratum.RejectExtranonce, "extranonce2 size")
	}
	if p.NTime != j.n.NTime {
		return bad(stratum.RejectNTime, "ntime changed")
	}
	version := j.n.Version
	if p.HasVersionBits {
		if mask == 0 || p.VersionBits&^mask != 0 {
			return bad(stratum.RejectVersion, "version bits outside mask")
		}
		version = version&^mask | p.VersionBits&mask
	}
	rec.Version = version
	coinbase := bytes.Join([][]byte{j.n.Coinb1, en1, p.Extranonce2, j.n.Coinb2}, nil)
	root := dsha(coinbase)
	for _, b := range j.n.Branch {
		root = dsha(append(root[:], b[:]...))
	}
	var hdr [80]byte
	binary.LittleEndian.PutUint32(hdr[0:], version)
	copy(hdr[4:36], j.n.PrevHash[:])
	copy(hdr[36:68], root[:])
	binary.LittleEndian.PutUint32(hdr[68:], p.NTime)
	binary.LittleEndian.PutUint32(hdr[72:], j.n.NBits)
	binary.LittleEndian.PutUint32(hdr[76:], p.Nonce)
	rec.Hash = dsha(hdr[:])
	target, err := btc.DifficultyToTarget(diff)
	if err != nil {
		return bad(stratum.RejectOther, "bad difficulty")
	}
	if !leq(rec.Hash, target) {
		return bad(stratum.RejectLowDifficulty, "low difficulty")
	}
	f.mu.Lock()
	dup := f.dups[hdr]
	f.dups[hdr] = true
	f.mu.Unlock()
	if dup {
		return bad(stratum.RejectDuplicate, "duplicate")
	}
	rec.Valid = true
	return rec
}

// leq compares little-endian 256-bit numbers.
func leq(h, t [32]byte) bool {
	for i := 31; i >= 0; i-- {
		if h[i] != t[i] {
			return h[i] < t[i]
		}
	}
	return true
}
