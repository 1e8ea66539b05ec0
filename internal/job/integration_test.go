package job

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/sha256d"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// mine scans nonces with the sha256d kernel until the header built from
// the share fields on j meets the network target, like a worker would.
func mine(t *testing.T, j *Job, sh *Share) {
	t.Helper()
	w := j.Work()
	version := sh.Version
	if version == 0 {
		version = j.Version
	}
	hdr := w.Header(sh.Extranonce1, sh.Extranonce2, sh.NTime, 0, version)
	var first [64]byte
	var tail [16]byte
	copy(first[:], hdr[:64])
	copy(tail[:], hdr[64:])
	ms := sha256d.NewMidstate(&first)
	nonce, ok := sha256d.Scan(&ms, &tail, &j.NetworkTarget, 0, 1<<16)
	if !ok {
		t.Fatal("no solving nonce in 65536 tries on regtest")
	}
	sh.Nonce = nonce
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationBtcd runs the Manager against a real btcd --regtest:
// a template with witness and legacy transactions becomes a job, a share
// found by scanning nonces is submitted, and btcd accepts the block. A
// stale share that also solves is still submitted and lands on a side
// chain.
func TestIntegrationBtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a btcd build")
	}
	n := nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	sent := w.SendTxs(t, 5)

	reg := prometheus.NewRegistry()
	client, err := chain.New(chain.Config{URL: n.URL, User: n.User, Password: n.Password, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.GetBlockChainInfo(context.Background())
	if err != nil || info.Chain != "regtest" {
		t.Fatalf("getblockchaininfo: got %+v, %v", info, err)
	}
	m, err := New(Config{Source: client, Submitter: client, Checker: client, PayoutScript: w.PkScript, Tag: []byte("/hashfleet-test/"),
		Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)

	waitFor(t, "a job with the mempool's transactions", func() bool {
		j := m.Current()
		return j != nil && len(j.Txs) == len(sent)
	})
	j := m.Current()
	height := n.BlockCount(t)
	if j.Height != height+1 || !j.Witness {
		t.Fatalf("job: got height %d witness %v, want %d true", j.Height, j.Witness, height+1)
	}

	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()),
		NTime: j.Time, Target: btc.Diff1Target, Worker: "itest"}
	mine(t, j, &sh)
	res, err := submit(t, m, sh)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if res.Block == nil || !res.Block.Accepted {
		t.Fatalf("block: got %+v, want accepted", res.Block)
	}
	if got, want := n.BestBlockHash(t), btc.HashString(res.Block.Hash); got != want {
		t.Fatalf("best block: got %s, want %s", got, want)
	}
	var blk struct {
		Tx []string `json:"tx"`
	}
	n.MustDecode(t, &blk, "getblock", btc.HashString(res.Block.Hash), 1)
	if len(blk.Tx) != len(sent)+1 {
		t.Errorf("block txs: got %d, want %d", len(blk.Tx), len(sent)+1)
	}
	if mp := n.Mempool(t); len(mp) != 0 {
		t.Errorf("mempool after block: got %d txs, want 0", len(mp))
	}

	// The accepted block triggers a refresh: a clean job on the new tip.
	waitFor(t, "a clean job on the new tip", func() bool {
		c := m.Current()
		return c.Height == j.Height+1 && c.PrevHash == res.Block.Hash
	})

	// A share on the old job is stale (21) but still solves a block: it
	// is submitted, and btcd files it on a side chain.
	stale := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()),
		NTime: j.Time, Target: btc.Diff1Target, Worker: "itest"}
	mine(t, j, &stale)
	res2, err := submit(t, m, stale)
	if rej, ok := errors.AsType[*stratum.RejectError](err); !ok || rej.Kind != stratum.RejectStale {
		t.Fatalf("stale share: got %v, want reject 21", err)
	}
	if res2.Block == nil || res2.Block.Accepted || res2.Block.NodeResult != "side-chain" {
		t.Fatalf("stale block: got %+v, want submitted, side-chain", res2.Block)
	}
	var tips []struct {
		Hash   string `json:"hash"`
		Status string `json:"status"`
	}
	n.MustDecode(t, &tips, "getchaintips")
	found := false
	for _, tip := range tips {
		found = found || tip.Hash == btc.HashString(res2.Block.Hash)
	}
	if !found {
		raw, _ := json.Marshal(tips)
		t.Errorf("stale block not among chain tips: %s", raw)
	}
	if st := m.Status(); st.BlocksFound != 2 || st.BlocksAccepted != 1 {
		t.Errorf("status: got found %d accepted %d, want 2 1", st.BlocksFound, st.BlocksAccepted)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hashfleet_job_blocks_total" {
			for _, mt := range mf.GetMetric() {
				if mt.GetLabel()[0].GetValue() == "accepted" && mt.GetCounter().GetValue() != 1 {
					t.Errorf("blocks_total{accepted}: got %v, want 1", mt.GetCounter().GetValue())
				}
			}
		}
	}
}

// watchedNode is the chain client, counting the longpolls the Manager
// starts and the block submissions that fail.
type watchedNode struct {
	*chain.Client
	longpolls  atomic.Int64
	submitErrs atomic.Int64
}

func (w *watchedNode) GetBlockTemplate(ctx context.Context, longPollID string) (*chain.Template, error) {
	if longPollID != "" {
		w.longpolls.Add(1)
	}
	return w.Client.GetBlockTemplate(ctx, longPollID)
}

func (w *watchedNode) SubmitBlock(ctx context.Context, block []byte) error {
	err := w.Client.SubmitBlock(ctx, block)
	if _, known := errors.AsType[*chain.BlockKnownError](err); err != nil && !known {
		if _, rejected := errors.AsType[*chain.BlockRejectedError](err); !rejected {
			w.submitErrs.Add(1) // no answer from the node
		}
	}
	return err
}

// outageProxy forwards TCP to a node and can drop every connection and
// refuse new ones for a while, like a node that restarts.
type outageProxy struct {
	t        *testing.T
	addr     string
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
}

func newOutageProxy(t *testing.T, upstream string) *outageProxy {
	p := &outageProxy{t: t, upstream: upstream, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *outageProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// down closes the listener and every open connection.
func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// up listens again on the same address.
func (p *outageProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestIntegrationBtcdOutage: the node becomes unreachable (open
// connections reset, new ones refused) while a longpoll is outstanding;
// a block found during the outage is retried until the node is back and
// is accepted, and the template loop recovers on its own.
func TestIntegrationBtcdOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a btcd build")
	}
	n := nodetest.StartBtcd(t)
	u, err := url.Parse(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newOutageProxy(t, u.Host)
	client, err := chain.New(chain.Config{URL: "http://" + proxy.addr, User: n.User, Password: n.Password, Logger: quiet,
		Retries: 1, BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := nodetest.NewWallet(t, n)
	watch := &watchedNode{Client: client}
	m, err := New(Config{Source: watch, Submitter: watch, Checker: watch, PayoutScript: w.PkScript, Logger: quiet,
		PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := runManager(t, m)
	waitFor(t, "the first job", func() bool { return m.Current() != nil })
	j := m.Current()
	waitFor(t, "a longpoll under way", func() bool { return watch.longpolls.Load() > 0 })

	proxy.down()
	sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()), NTime: j.Time, Target: btc.Diff1Target}
	mine(t, j, &sh)
	res, err := m.Submit(ctx, sh)
	if err != nil {
		t.Fatal(err)
	}
	if res.Block == nil || !res.Block.Pending {
		t.Fatalf("block during outage: got %+v, want pending", res.Block)
	}
	// The submission is retried during the outage: wait for a retry to
	// fail too, then check the node has not got the block.
	waitFor(t, "two failed submissions during the outage", func() bool { return watch.submitErrs.Load() >= 2 })
	if got := n.BlockCount(t); got != j.Height-1 {
		t.Fatalf("height during outage: got %d, want %d", got, j.Height-1)
	}
	proxy.up()

	waitFor(t, "the block to be accepted after the outage", func() bool { return m.Status().BlocksAccepted == 1 })
	if got, want := n.BestBlockHash(t), btc.HashString(res.Block.Hash); got != want {
		t.Errorf("best block: got %s, want %s", got, want)
	}
	waitFor(t, "a job on the new tip", func() bool { return m.Current().Height == j.Height+1 })
}

// TestIntegrationEmbeddedNodeRestart runs the Manager against hashfleet's
// embedded node, restarts the node (same data directory and port) while a
// longpoll is outstanding, and checks that mining carries on: a new job
// arrives and a block found after the restart is accepted on top of the
// chain that survived it.
func TestIntegrationEmbeddedNodeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	client, err := chain.New(chain.Config{URL: n.URL, User: n.User, Password: n.Password, Logger: quiet,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Source: client, Submitter: client, Checker: client, PayoutScript: w.PkScript, Logger: quiet, PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	mineOne := func() *Block {
		t.Helper()
		j := m.Current()
		sh := Share{JobID: j.ID, Extranonce1: m.NewExtranonce1(), Extranonce2: make([]byte, m.Extranonce2Size()), NTime: j.Time, Target: btc.Diff1Target}
		mine(t, j, &sh)
		res, err := submit(t, m, sh)
		if err != nil {
			t.Fatal(err)
		}
		if res.Block == nil || !res.Block.Accepted {
			t.Fatalf("block at height %d: got %+v, want accepted", j.Height, res.Block)
		}
		waitFor(t, "the next job", func() bool { return m.Current().Height == j.Height+1 })
		return res.Block
	}
	waitFor(t, "the first job", func() bool { return m.Current() != nil })
	for range 3 {
		mineOne()
	}
	before := n.BlockCount(t)
	waitFor(t, "a longpoll waiting at the node", func() bool { return n.LongPolls() == 1 })
	n.Restart(t)
	if got := n.BlockCount(t); got != before {
		t.Fatalf("height after restart: got %d, want %d", got, before)
	}
	b := mineOne()
	if b.Height != before+1 {
		t.Errorf("block after restart: got height %d, want %d", b.Height, before+1)
	}
	if got, want := n.BestBlockHash(t), btc.HashString(b.Hash); got != want {
		t.Errorf("best block: got %s, want %s", got, want)
	}
}
