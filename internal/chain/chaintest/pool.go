// Package chaintest provides FakePool, an in-memory upstream Stratum pool
// on loopback TCP, for tests of proxy mode (chain.Upstream and job's proxy
// Manager). It speaks the real wire protocol through internal/stratum and
// checks every submitted share against the header it implies.
package chaintest

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// Submitted is one mining.submit the fake pool received.
type Submitted struct {
	Submit   stratum.Submit
	Hash     [32]byte
	Accepted bool
	Reject   *stratum.RejectError // why it was refused; nil when accepted
	Block    bool                 // the hash met the job's network target
}

// FakePool is a minimal Stratum v1 pool: configure (version rolling with
// Mask), subscribe (Extranonce1 per connection: the first 3 bytes fixed,
// the last byte the connection number), authorize (Password must match
// when set), set_difficulty and notify after authorize, and submit
// validated against the job. Safe for concurrent use.
type FakePool struct {
	Addr            string
	Extranonce2Size int
	Mask            uint32 // 0: refuse version rolling
	Password        string

	t  testing.TB
	ln net.Listener
	// mu guards the fields below.
	mu      sync.Mutex
	diff    float64
	current stratum.Notify
	jobs    map[string]stratum.Notify
	conns   map[net.Conn]*fakeConn
	nconn   int
	submits []Submitted
}

type fakeConn struct {
	w          *stratum.Writer
	en1        []byte
	authorized bool
	mask       uint32
}

// NewFakePool listens on loopback and serves until the test ends. job is
// the first mining.notify; diff the share difficulty.
func NewFakePool(t testing.TB, job stratum.Notify, diff float64, en2Size int, mask uint32) *FakePool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FakePool{Addr: ln.Addr().String(), Extranonce2Size: en2Size, Mask: mask, t: t, ln: ln, diff: diff,
		current: job, jobs: map[string]stratum.Notify{job.JobID: job}, conns: map[net.Conn]*fakeConn{}}
	t.Cleanup(func() {
		ln.Close()
		p.DropConnections()
	})
	go p.accept()
	return p
}

func (p *FakePool) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.nconn++
		fc := &fakeConn{w: stratum.NewWriter(c), en1: []byte{0xf0, 0x0d, 0xba, byte(p.nconn)}}
		p.conns[c] = fc
		p.mu.Unlock()
		go p.serve(c, fc)
	}
}

func (p *FakePool) serve(c net.Conn, fc *fakeConn) {
	defer func() {
		c.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	r := stratum.NewReader(c)
	for {
		msg, err := r.Read()
		if err != nil {
			return
		}
		if msg.Kind() != stratum.KindRequest {
			continue
		}
		req := msg.Request()
		reply := func(result any) {
			res, err := stratum.NewResponse(req.ID, result)
			if err == nil {
				_ = fc.w.Write(res)
			}
		}
		fail := func(code int, m string) { _ = fc.w.Write(stratum.NewErrorResponse(req.ID, stratum.NewError(code, m))) }
		switch req.Method {
		case stratum.MethodConfigure:
			fc.mask = p.Mask
			reply(stratum.VersionRollingResult(p.Mask != 0, p.Mask))
		case stratum.MethodSubscribe:
			reply(stratum.SubscribeResult{
				Subscriptions:   []stratum.Subscription{{Method: stratum.MethodSetDifficulty, ID: "1"}, {Method: stratum.MethodNotify, ID: "1"}},
				Extranonce1:     fc.en1,
				Extranonce2Size: p.Extranonce2Size,
			})
		case stratum.MethodAuthorize:
			var a stratum.Authorize
			if req.Decode(&a) != nil || (p.Password != "" && a.Password != p.Password) {
				fail(stratum.ErrUnauthorized, "unauthorized")
				continue
			}
			reply(true)
			p.mu.Lock()
			fc.authorized = true
			diff, job := p.diff, p.current
			p.mu.Unlock()
			p.send(fc, stratum.MethodSetDifficulty, stratum.SetDifficulty{Difficulty: diff})
			p.send(fc, stratum.MethodNotify, job)
		case stratum.MethodSubmit:
			var s stratum.Submit
			if err := req.Decode(&s); err != nil {
				fail(stratum.ErrOther, err.Error())
				continue
			}
			sub := p.check(fc, s)
			p.mu.Lock()
			p.submits = append(p.submits, sub)
			p.mu.Unlock()
			if sub.Accepted {
				reply(true)
			} else {
				fail(sub.Reject.Kind.Code(), sub.Reject.Message())
			}
		default:
			fail(stratum.ErrOther, "unsupported")
		}
	}
}

func (p *FakePool) check(fc *fakeConn, s stratum.Submit) Submitted {
	sub := Submitted{Submit: s}
	p.mu.Lock()
	job, ok := p.jobs[s.JobID]
	diff := p.diff
	var dup bool
	for _, prev := range p.submits {
		if prev.Submit.JobID == s.JobID && bytes.Equal(prev.Submit.Extranonce2, s.Extranonce2) && prev.Submit.Nonce == s.Nonce &&
			prev.Submit.NTime == s.NTime && prev.Submit.VersionBits == s.VersionBits {
			dup = true
		}
	}
	p.mu.Unlock()
	switch {
	case !fc.authorized:
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectUnauthorized}
		return sub
	case !ok:
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectJobNotFound}
		return sub
	case len(s.Extranonce2) != p.Extranonce2Size:
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectExtranonce}
		return sub
	case s.HasVersionBits && s.VersionBits&^fc.mask != 0:
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectVersion}
		return sub
	case dup:
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectDuplicate}
		return sub
	}
	version := job.Version
	if s.HasVersionBits {
		version = btc.RollVersion(job.Version, s.VersionBits, fc.mask)
	}
	w := btc.Work{PrevHash: job.PrevHash, Coinb1: job.Coinb1, Coinb2: job.Coinb2, Branch: job.Branch, Version: job.Version, Bits: job.NBits, Time: job.NTime}
	hdr := w.Header(fc.en1, s.Extranonce2, s.NTime, s.Nonce, version)
	sub.Hash = btc.BlockHash(&hdr)
	target, err := btc.DifficultyToTarget(diff)
	if err != nil {
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectOther, Detail: err.Error()}
		return sub
	}
	if nt, err := btc.CompactToTarget(job.NBits); err == nil {
		sub.Block = btc.MeetsTarget(&sub.Hash, &nt)
	}
	if !btc.MeetsTarget(&sub.Hash, &target) {
		sub.Reject = &stratum.RejectError{Kind: stratum.RejectLowDifficulty}
		return sub
	}
	sub.Accepted = true
	return sub
}

func (p *FakePool) send(fc *fakeConn, method string, params any) {
	n, err := stratum.NewNotification(method, params)
	if err != nil {
		p.t.Errorf("chaintest: %s: %v", method, err)
		return
	}
	_ = fc.w.Write(n)
}

// Notify makes job the current one and sends it to every authorized
// connection.
func (p *FakePool) Notify(job stratum.Notify) {
	p.mu.Lock()
	if job.Clean {
		p.jobs = map[string]stratum.Notify{}
	}
	p.current = job
	p.jobs[job.JobID] = job
	var conns []*fakeConn
	for _, fc := range p.conns {
		if fc.authorized {
			conns = append(conns, fc)
		}
	}
	p.mu.Unlock()
	for _, fc := range conns {
		p.send(fc, stratum.MethodNotify, job)
	}
}

// SetDifficulty changes the share difficulty and announces it.
func (p *FakePool) SetDifficulty(diff float64) {
	p.mu.Lock()
	p.diff = diff
	var conns []*fakeConn
	for _, fc := range p.conns {
		conns = append(conns, fc)
	}
	p.mu.Unlock()
	for _, fc := range conns {
		p.send(fc, stratum.MethodSetDifficulty, stratum.SetDifficulty{Difficulty: diff})
	}
}

// DropConnections closes every client connection (the pool "restarts").
func (p *FakePool) DropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Connections returns how many connections were accepted so far.
func (p *FakePool) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nconn
}

// Submits returns the shares received so far.
func (p *FakePool) Submits() []Submitted {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Submitted(nil), p.submits...)
}

// TestJob builds a realistic mining.notify: a BIP34 coinbase for height
// with an extranonce slot of en1Size+en2Size bytes, a merkle branch over
// ntxs synthetic txids, and the given bits.
func TestJob(t testing.TB, id string, height int64, bits uint32, ntxs int, en1Size, en2Size int, clean bool) stratum.Notify {
	t.Helper()
	cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{
		Height: height, ValueSats: 312_500_000, PayoutScript: append([]byte{0x00, 0x14}, bytes.Repeat([]byte{7}, 20)...),
		Tag: []byte("/upstream/"), Extranonce1Size: en1Size, Extranonce2Size: en2Size,
	})
	if err != nil {
		t.Fatal(err)
	}
	txids := make([][32]byte, ntxs)
	for i := range txids {
		txids[i] = btc.TxID([]byte(fmt.Sprintf("tx %s %d", id, i)))
	}
	prev := btc.TxID([]byte(fmt.Sprintf("prev %d", height)))
	return stratum.Notify{JobID: id, PrevHash: prev, Coinb1: cb.Coinb1, Coinb2: cb.Coinb2, Branch: btc.MerkleBranch(txids),
		Version: 0x20000000, NBits: bits, NTime: 1_800_000_000, Clean: clean}
}
