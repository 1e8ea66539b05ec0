package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// TestBadInput sends unauthenticated, malformed and invalid calls: each gets
// a clear error and the chain does not move.
func TestBadInput(t *testing.T) {
	forEachNode(t, func(t *testing.T, n *nodetest.RPCNode) {
		n.Generate(t, 3, "")
		tip := n.BestBlockHash(t)
		tmpl := template(t, n)
		valid, err := nodetest.NewBlock(tmpl, []byte{0x51}, 1)
		if err != nil {
			t.Fatal(err)
		}
		validHex := nodetest.BlockHex(valid)
		unsolved := *valid
		nodetest.Unsolve(&unsolved.Header)
		noCoinbase := &wire.MsgBlock{Header: valid.Header, Transactions: valid.Transactions[1:]}
		noCoinbase.AddTransaction(valid.Transactions[0].Copy())
		noCoinbase.Transactions[0].TxIn[0].PreviousOutPoint.Index = 0 // not a coinbase any more

		cases := []struct {
			name       string
			user, pass string
			body       string
			status     int // 0: any
			code       int // JSON-RPC error code; 0: none expected
			want       string
			embedded   bool // check only on the embedded node (Core behaviour btcd lacks)
		}{
			{name: "no auth", body: `{"jsonrpc":"1.0","method":"getblockcount","id":1}`, status: 401},
			{name: "wrong password", user: n.User, pass: "nope", body: `{"jsonrpc":"1.0","method":"getblockcount","id":1}`, status: 401},
			{name: "wrong user", user: "x" + n.User, pass: n.Password, body: `{"jsonrpc":"1.0","method":"getblockcount","id":1}`, status: 401},
			{name: "malformed json", body: `{"jsonrpc":"1.0","method":"getblockcount",`, code: -32700, embedded: true}, // btcd drops the connection
			{name: "malformed json status", body: `{]`, status: 500, code: -32700, embedded: true},
			{name: "unknown method", body: `{"jsonrpc":"1.0","method":"nosuchmethod","params":[],"id":1}`, code: -32601},
			{name: "unknown method status", body: `{"jsonrpc":"1.0","method":"nosuchmethod","params":[],"id":1}`, status: 404, code: -32601, embedded: true},
			{name: "method not a string", body: `{"jsonrpc":"1.0","method":7,"id":1}`, status: 400, code: -32600, embedded: true},
			{name: "bad hex block", body: `{"jsonrpc":"1.0","method":"submitblock","params":["zz"],"id":1}`, code: -22},
			{name: "truncated block", body: `{"jsonrpc":"1.0","method":"submitblock","params":["` + validHex[:200] + `"],"id":1}`, code: -22},
			{name: "no coinbase", body: `{"jsonrpc":"1.0","method":"submitblock","params":["` + nodetest.BlockHex(noCoinbase) + `"],"id":1}`, code: -22, embedded: true},
			{name: "unsolved block", body: `{"jsonrpc":"1.0","method":"submitblock","params":["` + nodetest.BlockHex(&unsolved) + `"],"id":1}`, want: `"high-hash"`, embedded: true},
			{name: "gbt without segwit rule", body: `{"jsonrpc":"1.0","method":"getblocktemplate","params":[{}],"id":1}`, code: -8, embedded: true},
			{name: "gbt without params", body: `{"jsonrpc":"1.0","method":"getblocktemplate","params":[],"id":1}`, code: -8, embedded: true},
			{name: "gbt bad mode", body: `{"jsonrpc":"1.0","method":"getblocktemplate","params":[{"mode":"x","rules":["segwit"]}],"id":1}`, code: -8},
			{name: "height out of range", body: `{"jsonrpc":"1.0","method":"getblockhash","params":[99],"id":1}`, code: -8, embedded: true},
			{name: "unknown block", body: `{"jsonrpc":"1.0","method":"getblock","params":["` + strings.Repeat("ab", 32) + `"],"id":1}`, code: -5},
			{name: "short hash", body: `{"jsonrpc":"1.0","method":"getblock","params":["abcd"],"id":1}`, code: -8, embedded: true},
			{name: "missing param", body: `{"jsonrpc":"1.0","method":"getblockhash","params":[],"id":1}`, code: -1, embedded: true},
			{name: "wrong param type", body: `{"jsonrpc":"1.0","method":"getblockhash","params":["one"],"id":1}`, code: -3, embedded: true},
			{name: "unknown named param", body: `{"jsonrpc":"1.0","method":"getblockhash","params":{"hieght":1},"id":1}`, code: -8, embedded: true},
			{name: "bad tx hex", body: `{"jsonrpc":"1.0","method":"sendrawtransaction","params":["00zz"],"id":1}`, code: -22},
			{name: "invalid address", body: `{"jsonrpc":"1.0","method":"generatetoaddress","params":[1,"bc1qnotanaddress"],"id":1}`, code: -5, embedded: true},
			{name: "mainnet address", body: `{"jsonrpc":"1.0","method":"generatetoaddress","params":[1,"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"],"id":1}`, code: -5, embedded: true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.embedded && n.Kind != nodetest.KindEmbedded {
					t.Skipf("%s: Core behaviour checked on the embedded node only", n.Kind)
				}
				user, pass := tc.user, tc.pass
				if tc.status != 401 {
					user, pass = n.User, n.Password
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				status, body, err := n.Post(ctx, []byte(tc.body), user, pass)
				if err != nil {
					t.Fatal(err)
				}
				if tc.status != 0 && status != tc.status {
					t.Errorf("status: got %d, want %d (body %s)", status, tc.status, body)
				}
				if tc.status == 401 {
					return
				}
				var r struct {
					Result json.RawMessage
					Error  *nodetest.RPCError
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("reply is not JSON-RPC: %q", body)
				}
				switch {
				case tc.code != 0 && (r.Error == nil || r.Error.Code != tc.code):
					t.Errorf("error: got %+v (result %s), want code %d", r.Error, r.Result, tc.code)
				case tc.code == 0 && r.Error != nil:
					t.Errorf("error: got %+v, want result %s", r.Error, tc.want)
				case tc.want != "" && string(r.Result) != tc.want:
					t.Errorf("result: got %s, want %s", r.Result, tc.want)
				}
				if r.Error != nil && r.Error.Message == "" {
					t.Errorf("error %d has no message", r.Error.Code)
				}
			})
		}
		if got := n.BestBlockHash(t); got != tip {
			t.Errorf("tip moved: got %s, want %s", got, tip)
		}
		if got := n.BlockCount(t); got != 3 {
			t.Errorf("height: got %d, want 3", got)
		}
	})
}

// TestLongPoll: a longpoll returns when a block arrives (both nodes) and,
// on the embedded node, after the tx wait when the mempool changed.
func TestLongPoll(t *testing.T) {
	forEachNode(t, func(t *testing.T, n *nodetest.RPCNode) {
		w := nodetest.NewWallet(t, n)
		w.Mine(t, 2)
		first := template(t, n)
		got := make(chan *nodetest.Template, 1)
		errc := make(chan error, 1)
		go func() {
			tmpl, err := n.GetBlockTemplate(context.Background(), first.LongPollID)
			if err != nil {
				errc <- err
				return
			}
			got <- tmpl
		}()
		select {
		case tmpl := <-got:
			t.Fatalf("longpoll returned before any change (prev %s)", tmpl.PrevHash)
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(300 * time.Millisecond):
		}
		b := w.MineBlock(t)
		select {
		case tmpl := <-got:
			if tmpl.PrevHash != b.BlockHash() || tmpl.Height != first.Height+1 {
				t.Errorf("longpoll template: prev %s height %d, want %s %d", tmpl.PrevHash, tmpl.Height, b.BlockHash(), first.Height+1)
			}
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(30 * time.Second):
			t.Fatal("longpoll did not return after a new block")
		}
	})
	t.Run("embedded mempool change", func(t *testing.T) {
		n := nodetest.StartEmbeddedConfig(t, node.Config{LongPollTxWait: 200 * time.Millisecond, LongPollTxRecheck: 50 * time.Millisecond})
		w := nodetest.NewWallet(t, n)
		w.Fund(t)
		first := template(t, n)
		done := make(chan *nodetest.Template, 1)
		go func() {
			tmpl, err := n.GetBlockTemplate(context.Background(), first.LongPollID)
			if err != nil {
				t.Error(err)
			}
			done <- tmpl
		}()
		tx := w.SendTo(t, w.PkScript, 100_000)
		select {
		case tmpl := <-done:
			if tmpl == nil || len(tmpl.Txs) != 1 || tmpl.Txs[0].TxHash() != tx.TxHash() {
				t.Fatalf("longpoll template after a tx: got %+v", tmpl)
			}
			if tmpl.LongPollID == first.LongPollID {
				t.Errorf("longpollid did not change: %s", tmpl.LongPollID)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("longpoll did not return after a mempool change")
		}
	})
}

// TestRestartPersistence restarts the embedded node on its datadir: it
// continues at the same tip with its UTXO set.
func TestRestartPersistence(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	w.SendTxs(t, 2)
	w.MineBlock(t)
	tip, height := n.BestBlockHash(t), n.BlockCount(t)
	n.Restart(t)
	if got := n.BlockCount(t); got != height {
		t.Fatalf("height after restart: got %d, want %d", got, height)
	}
	if got := n.BestBlockHash(t); got != tip {
		t.Fatalf("tip after restart: got %s, want %s", got, tip)
	}
	// The coinbases and change outputs are still spendable.
	w.SendTxs(t, 3)
	if b := w.MineBlock(t); len(b.Transactions) != 4 {
		t.Fatalf("block after restart: got %d txs, want 4", len(b.Transactions))
	}
	n.Restart(t)
	if got := n.BlockCount(t); got != height+1 {
		t.Fatalf("height after second restart: got %d, want %d", got, height+1)
	}
}

// TestLibraryLifecycle runs the node as `hashfleet demo` does: ephemeral,
// cookie auth, port 0; after Run returns the cookie and datadir are gone.
func TestLibraryLifecycle(t *testing.T) {
	nd, err := node.New(node.Config{Ephemeral: true, RPCListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	user, pass := nd.Credentials()
	cookie, err := readFile(nd.CookieFile())
	if err != nil {
		t.Fatal(err)
	}
	if want := user + ":" + pass; cookie != want || user != "__cookie__" || len(pass) != 64 {
		t.Errorf("cookie: got %q, want %q with user __cookie__", cookie, want)
	}
	if mode := fileMode(t, nd.CookieFile()); mode != 0o600 {
		t.Errorf("cookie mode: got %o, want 600", mode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nd.Run(ctx) }()
	rpc := &nodetest.RPCNode{URL: nd.URL(), User: user, Password: pass, Kind: nodetest.KindEmbedded}
	hashes := rpc.Generate(t, 5, "")
	if got := rpc.BestBlockHash(t); got != hashes[4] {
		t.Errorf("best: got %s, want %s", got, hashes[4])
	}
	if got := nd.Height(); got != 5 {
		t.Errorf("Height: got %d, want 5", got)
	}
	// A pending longpoll ends when the node stops.
	tmpl := template(t, rpc)
	lp := make(chan error, 1)
	go func() { _, err := rpc.GetBlockTemplate(context.Background(), tmpl.LongPollID); lp <- err }()
	waitUntil(t, "the longpoll waiting at the node", func() bool { return nd.LongPolls() == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := <-lp; err == nil {
		t.Errorf("longpoll during shutdown: got a template, want an error")
	}
	for _, p := range []string{nd.CookieFile(), nd.DataDir()} {
		if exists(p) {
			t.Errorf("%s still exists after shutdown", p)
		}
	}
}

// TestJSONRPCForms covers JSON-RPC 2.0, batches and named parameters.
func TestJSONRPCForms(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	genesis := n.MustCall(t, "getblockhash", 0)
	cases := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{name: "2.0", body: `{"jsonrpc":"2.0","method":"getblockhash","params":[0],"id":"a"}`, status: 200,
			want: `{"jsonrpc":"2.0","result":` + string(genesis) + `,"id":"a"}`},
		{name: "2.0 error", body: `{"jsonrpc":"2.0","method":"nope","id":2}`, status: 200,
			want: `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}`},
		{name: "2.0 notification", body: `{"jsonrpc":"2.0","method":"getblockcount"}`, status: 204},
		{name: "1.0", body: `{"method":"getblockcount","params":[],"id":7}`, status: 200, want: `{"result":0,"error":null,"id":7}`},
		{name: "named params", body: `{"method":"getblockhash","params":{"height":0},"id":1}`, status: 200,
			want: `{"result":` + string(genesis) + `,"error":null,"id":1}`},
		{name: "batch", body: `[{"method":"getblockcount","id":1},{"method":"nope","id":2}]`, status: 200,
			want: `[{"result":0,"error":null,"id":1},{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":2}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := n.Post(context.Background(), []byte(tc.body), n.User, n.Password)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status {
				t.Errorf("status: got %d, want %d", status, tc.status)
			}
			if got := strings.TrimSpace(string(body)); got != tc.want {
				t.Errorf("body:\ngot  %s\nwant %s", got, tc.want)
			}
		})
	}
	status, _, err := n.Post(context.Background(), nil, n.User, n.Password)
	if err != nil || status != http.StatusInternalServerError {
		t.Errorf("empty body: got status %d (%v), want 500 parse error", status, err)
	}
}

// waitUntil polls cond until it holds, failing the test after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
