package chain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
)

// fixture is one captured node reply (see testdata/README.md).
type fixture struct {
	Request string          `json:"request"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body"`
	RawBody string          `json:"raw_body"`
}

func loadFixture(t testing.TB, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func (f fixture) body() []byte {
	if f.Body != nil {
		return f.Body
	}
	return []byte(f.RawBody)
}

// result returns the "result" member of a fixture's body.
func (f fixture) result(t testing.TB) json.RawMessage {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(f.Body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Result
}

// replay serves fixed replies in order (the last one repeats) and counts
// requests; it checks basic auth when user is set.
type replay struct {
	user     string
	pass     atomic.Pointer[string]
	replies  []reply
	n        atomic.Int64
	lastBody atomic.Pointer[string]
}

type reply struct {
	status int
	body   []byte
	delay  time.Duration
}

func ptr[T any](v T) *T { return &v }

func fromFixture(f fixture) reply { return reply{status: f.Status, body: f.body()} }

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rp.n.Add(1)) - 1
	b, _ := io.ReadAll(r.Body)
	s := string(b)
	rp.lastBody.Store(&s)
	if rp.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != rp.user || p != *rp.pass.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	rep := rp.replies[min(i, len(rp.replies)-1)]
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func newTestClient(t *testing.T, h http.Handler, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{URL: srv.URL, User: "user", Password: "pass", Timeout: 2 * time.Second,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustHash(t testing.TB, s string) [32]byte {
	t.Helper()
	h, err := btc.ParseHash("hash", s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseTemplateDialects(t *testing.T) {
	emptyCommitment, _ := hex.DecodeString("6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9")
	mixedCommitment, _ := hex.DecodeString("6a24aa21a9edb700865920dbdc2b1b83a330a72be5837ebd18bfacdfdfd7bed8fe05ff7772b1")
	tests := []struct {
		name        string
		fixture     string
		wantHeight  int64
		wantTxs     int
		wantWitness int // txs carrying witness data
		wantSegwit  bool
		wantCommit  []byte
		wantLP      bool
		wantAux     bool
	}{
		{name: "btcd empty: no commitment, no rules", fixture: "btcd_gbt_empty", wantHeight: 102, wantSegwit: false, wantLP: true, wantAux: true},
		{name: "btcd witness and legacy txs: bare 32-byte commitment", fixture: "btcd_gbt_mixed_txs", wantHeight: 103, wantTxs: 6, wantWitness: 4, wantSegwit: true, wantCommit: mixedCommitment, wantLP: true, wantAux: true},
		{name: "core empty: full script commitment", fixture: "core_gbt_empty", wantHeight: 103, wantSegwit: true, wantCommit: emptyCommitment, wantLP: true},
		{name: "core txs: full script commitment", fixture: "core_gbt_txs", wantHeight: 103, wantTxs: 6, wantWitness: 4, wantSegwit: true, wantCommit: mixedCommitment, wantLP: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := ParseTemplate(loadFixture(t, tc.fixture).result(t))
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Height != tc.wantHeight {
				t.Errorf("height: got %d, want %d", tpl.Height, tc.wantHeight)
			}
			if len(tpl.Txs) != tc.wantTxs {
				t.Errorf("txs: got %d, want %d", len(tpl.Txs), tc.wantTxs)
			}
			witness := 0
			for _, tx := range tpl.Txs {
				if tx.Witness {
					witness++
					if tx.TxID == tx.WTxID {
						t.Errorf("witness tx with txid == wtxid")
					}
				} else if tx.TxID != tx.WTxID {
					t.Errorf("legacy tx with txid != wtxid")
				}
			}
			if witness != tc.wantWitness {
				t.Errorf("witness txs: got %d, want %d", witness, tc.wantWitness)
			}
			if tpl.Segwit != tc.wantSegwit {
				t.Errorf("segwit: got %v, want %v", tpl.Segwit, tc.wantSegwit)
			}
			if !bytes.Equal(tpl.WitnessCommitment, tc.wantCommit) {
				t.Errorf("commitment: got %x, want %x", tpl.WitnessCommitment, tc.wantCommit)
			}
			if (tpl.LongPollID != "") != tc.wantLP {
				t.Errorf("longpollid: got %q", tpl.LongPollID)
			}
			if (tpl.CoinbaseAuxFlags != nil) != tc.wantAux {
				t.Errorf("coinbaseaux flags: got %x", tpl.CoinbaseAuxFlags)
			}
			if tpl.Bits != 0x207fffff {
				t.Errorf("bits: got %08x, want 207fffff", tpl.Bits)
			}
			if want := [32]byte{29: 0xff, 30: 0xff, 31: 0x7f}; tpl.Target != want {
				t.Errorf("target: got %x, want %x", tpl.Target, want)
			}
			if tpl.CoinbaseValueSats < 5_000_000_000 {
				t.Errorf("coinbasevalue: got %d", tpl.CoinbaseValueSats)
			}
		})
	}
	// Both dialects of the same block agree on everything job uses.
	b, _ := ParseTemplate(loadFixture(t, "btcd_gbt_mixed_txs").result(t))
	c, _ := ParseTemplate(loadFixture(t, "core_gbt_txs").result(t))
	for i := range b.Txs {
		if b.Txs[i].TxID != c.Txs[i].TxID || b.Txs[i].WTxID != c.Txs[i].WTxID || !bytes.Equal(b.Txs[i].Data, c.Txs[i].Data) {
			t.Errorf("tx %d differs between dialects", i)
		}
	}
}

// mutate returns the result object of fixture with fn applied.
func mutate(t *testing.T, fixtureName string, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(loadFixture(t, fixtureName).result(t), &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTemplateRejects(t *testing.T) {
	tests := []struct {
		name      string
		fn        func(m map[string]any)
		wantField string
	}{
		{name: "missing version", fn: func(m map[string]any) { delete(m, "version") }, wantField: "version"},
		{name: "missing previousblockhash", fn: func(m map[string]any) { delete(m, "previousblockhash") }, wantField: "previousblockhash"},
		{name: "short previousblockhash", fn: func(m map[string]any) { m["previousblockhash"] = "abcd" }, wantField: "previousblockhash"},
		{name: "missing bits", fn: func(m map[string]any) { delete(m, "bits") }, wantField: "bits"},
		{name: "negative bits", fn: func(m map[string]any) { m["bits"] = "1d800000" }, wantField: "bits"},
		{name: "bits not hex", fn: func(m map[string]any) { m["bits"] = "zz" }, wantField: "bits"},
		{name: "missing curtime", fn: func(m map[string]any) { delete(m, "curtime") }, wantField: "curtime"},
		{name: "missing height", fn: func(m map[string]any) { delete(m, "height") }, wantField: "height"},
		{name: "coinbasetxn mode: no coinbasevalue", fn: func(m map[string]any) { delete(m, "coinbasevalue") }, wantField: "coinbasevalue"},
		{name: "target disagrees with bits", fn: func(m map[string]any) { m["target"] = strings.Repeat("0", 63) + "1" }, wantField: "target"},
		{name: "commitment of 20 bytes", fn: func(m map[string]any) { m["default_witness_commitment"] = strings.Repeat("ab", 20) }, wantField: "default_witness_commitment"},
		{name: "commitment 38 bytes without magic", fn: func(m map[string]any) { m["default_witness_commitment"] = strings.Repeat("ab", 38) }, wantField: "default_witness_commitment"},
		{name: "tx data not hex", fn: func(m map[string]any) {
			m["transactions"].([]any)[0].(map[string]any)["data"] = "xyz"
		}, wantField: "transactions[0]"},
		{name: "txid does not match data", fn: func(m map[string]any) {
			m["transactions"].([]any)[1].(map[string]any)["txid"] = strings.Repeat("11", 32)
		}, wantField: "transactions[1]"},
		{name: "wtxid does not match data", fn: func(m map[string]any) {
			m["transactions"].([]any)[0].(map[string]any)["hash"] = strings.Repeat("11", 32)
		}, wantField: "transactions[0]"},
		{name: "truncated tx data", fn: func(m map[string]any) {
			tx := m["transactions"].([]any)[2].(map[string]any)
			tx["data"] = tx["data"].(string)[:40]
		}, wantField: "transactions[2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(mutate(t, "btcd_gbt_mixed_txs", tc.fn))
			te, ok := errors.AsType[*TemplateError](err)
			if !ok {
				t.Fatalf("got %v, want *TemplateError", err)
			}
			if te.Field != tc.wantField {
				t.Errorf("field: got %q, want %q (%v)", te.Field, tc.wantField, err)
			}
		})
	}
	t.Run("missing optional fields are fine", func(t *testing.T) {
		tpl, err := ParseTemplate(mutate(t, "btcd_gbt_mixed_txs", func(m map[string]any) {
			for _, k := range []string{"target", "mintime", "maxtime", "longpollid", "coinbaseaux", "default_witness_commitment"} {
				delete(m, k)
			}
			for _, tx := range m["transactions"].([]any) {
				delete(tx.(map[string]any), "txid")
				delete(tx.(map[string]any), "hash")
				delete(tx.(map[string]any), "fee")
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if !tpl.Segwit {
			t.Errorf("segwit: got false, want true (witness txs present)")
		}
		if tpl.MinTime != tpl.CurTime {
			t.Errorf("mintime: got %d, want curtime %d", tpl.MinTime, tpl.CurTime)
		}
	})
}

func TestClientReplays(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		fixture string
		call    func(c *Client) error
		check   func(t *testing.T, err error)
	}{
		{name: "btcd gbt", fixture: "btcd_gbt_mixed_txs", call: func(c *Client) error {
			tpl, err := c.GetBlockTemplate(ctx, "")
			if err == nil && len(tpl.Txs) != 6 {
				t.Errorf("txs: got %d, want 6", len(tpl.Txs))
			}
			return err
		}, check: wantNoError},
		{name: "core gbt", fixture: "core_gbt_txs", call: func(c *Client) error {
			_, err := c.GetBlockTemplate(ctx, "")
			return err
		}, check: wantNoError},
		{name: "core gbt without segwit rule (-8 over HTTP 500)", fixture: "core_gbt_nosegwit", call: func(c *Client) error {
			_, err := c.GetBlockTemplate(ctx, "")
			return err
		}, check: wantRPCCode(CodeInvalidParameter)},
		{name: "btcd method not found", fixture: "btcd_method_not_found", call: func(c *Client) error {
			return c.Call(ctx, "generatetoaddress", []any{1, "x"}, nil)
		}, check: wantRPCCode(CodeMethodNotFound)},
		{name: "core method not found (HTTP 404)", fixture: "core_method_not_found", call: func(c *Client) error {
			return c.Call(ctx, "generate", []any{1}, nil)
		}, check: wantRPCCode(CodeMethodNotFound)},
		{name: "btcd submitblock bad hex (-22)", fixture: "btcd_submitblock_badhex", call: func(c *Client) error {
			return c.SubmitBlock(ctx, []byte{0})
		}, check: wantRPCCode(CodeDeserialization)},
		{name: "btcd submitblock duplicate", fixture: "btcd_submitblock_duplicate", call: func(c *Client) error {
			err := c.SubmitBlock(ctx, []byte{0})
			if known, ok := errors.AsType[*BlockKnownError](err); !ok || !strings.HasPrefix(known.Result, "rejected: already have block") {
				t.Errorf("got %v: want btcd's duplicate as *BlockKnownError", err)
				return err
			}
			return nil
		}, check: wantNoError},
		{name: "core submitblock high-hash", fixture: "core_submitblock_highhash", call: func(c *Client) error {
			err := c.SubmitBlock(ctx, []byte{0})
			if rej, ok := errors.AsType[*BlockRejectedError](err); !ok || rej.Reason != "high-hash" {
				t.Errorf("got %v: want *BlockRejectedError high-hash", err)
				return err
			}
			return nil
		}, check: wantNoError},
		{name: "btcd getblockchaininfo", fixture: "btcd_getblockchaininfo", call: func(c *Client) error {
			info, err := c.GetBlockChainInfo(ctx)
			if err == nil && (info.Chain != "regtest" || info.Blocks < 100) {
				t.Errorf("info: got %+v", info)
			}
			return err
		}, check: wantNoError},
		{name: "btcd getbestblockhash", fixture: "btcd_getbestblockhash", call: func(c *Client) error {
			_, err := c.GetBestBlockHash(ctx)
			return err
		}, check: wantNoError},
		{name: "btcd block status main chain", fixture: "btcd_getblockheader", call: func(c *Client) error {
			var h BlockHeader
			_ = json.Unmarshal(loadFixture(t, "btcd_getblockheader").result(t), &h)
			st, err := c.BlockStatus(ctx, mustHash(t, h.Hash))
			if st != BlockMainChain {
				t.Errorf("status: got %v, want main-chain", st)
			}
			return err
		}, check: wantNoError},
		{name: "btcd block status unknown (-5)", fixture: "btcd_getblockheader_unknown", call: func(c *Client) error {
			st, err := c.BlockStatus(ctx, [32]byte{0: 0xaa})
			if st != BlockUnknown {
				t.Errorf("status: got %v, want unknown", st)
			}
			return err
		}, check: wantNoError},
		{name: "core block status side chain (confirmations -1)", fixture: "core_getblockheader_sidechain", call: func(c *Client) error {
			st, err := c.BlockStatus(ctx, mustHash(t, "59b36a46d2a087dfbbc4ceb347ad807a92daa81ce7f8dbeeff7dbe2b020e5976"))
			if st != BlockSideChain {
				t.Errorf("status: got %v, want side-chain", st)
			}
			return err
		}, check: wantNoError},
		{name: "btcd 401", fixture: "btcd_unauthorized", call: func(c *Client) error {
			_, err := c.GetBestBlockHash(ctx)
			return err
		}, check: wantIs(ErrUnauthorized)},
		{name: "core 401 empty body", fixture: "core_unauthorized", call: func(c *Client) error {
			_, err := c.GetBestBlockHash(ctx)
			return err
		}, check: wantIs(ErrUnauthorized)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := &replay{replies: []reply{fromFixture(loadFixture(t, tc.fixture))}}
			c := newTestClient(t, rp, nil)
			tc.check(t, tc.call(c))
			if got := rp.n.Load(); got != 1 {
				t.Errorf("requests: got %d, want 1 (no retries for definite answers)", got)
			}
		})
	}
}

func wantNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
}

func wantRPCCode(code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		e, ok := errors.AsType[*RPCError](err)
		if !ok {
			t.Fatalf("got %v, want *RPCError %d", err, code)
		}
		if e.Code != code {
			t.Errorf("code: got %d, want %d", e.Code, code)
		}
		if Retryable(err) {
			t.Errorf("Retryable(%v): got true, want false", err)
		}
	}
}

func wantIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("got %v, want %v", err, target)
		}
	}
}

func TestClientSendsSegwitRuleAndLongpollID(t *testing.T) {
	rp := &replay{user: "user", replies: []reply{fromFixture(loadFixture(t, "core_gbt_txs"))}}
	rp.pass.Store(ptr("pass"))
	c := newTestClient(t, rp, nil)
	if _, err := c.GetBlockTemplate(context.Background(), "abc123"); err != nil {
		t.Fatal(err)
	}
	var req struct {
		Method string           `json:"method"`
		Params []map[string]any `json:"params"`
	}
	if err := json.Unmarshal([]byte(*rp.lastBody.Load()), &req); err != nil {
		t.Fatal(err)
	}
	if req.Method != "getblocktemplate" || len(req.Params) != 1 {
		t.Fatalf("request: got %+v", req)
	}
	if got := req.Params[0]["rules"]; len(got.([]any)) != 1 || got.([]any)[0] != "segwit" {
		t.Errorf("rules: got %v, want [segwit]", got)
	}
	if got := req.Params[0]["longpollid"]; got != "abc123" {
		t.Errorf("longpollid: got %v, want abc123", got)
	}
}

func TestClientBrokenReplies(t *testing.T) {
	tests := []struct {
		name      string
		rep       reply
		wantTries int64
		check     func(*testing.T, error)
	}{
		{name: "not json", rep: reply{status: 200, body: []byte("hello")}, wantTries: 1, check: wantDecode},
		{name: "empty body", rep: reply{status: 200, body: nil}, wantTries: 5, check: wantDecode},
		{name: "truncated json", rep: reply{status: 200, body: []byte(`{"result":{"version":5`)}, wantTries: 5, check: wantDecode},
		{name: "neither result nor error", rep: reply{status: 200, body: []byte(`{"id":1}`)}, wantTries: 1, check: wantDecode},
		{name: "result of wrong type", rep: reply{status: 200, body: []byte(`{"result":42,"error":null,"id":1}`)}, wantTries: 1, check: wantDecode},
		{name: "proxy 502 html", rep: reply{status: 502, body: []byte("<html>bad gateway</html>")}, wantTries: 5, check: func(t *testing.T, err error) {
			if he, ok := errors.AsType[*HTTPError](err); !ok || he.StatusCode != 502 {
				t.Fatalf("got %v, want HTTPError 502", err)
			}
		}},
		{name: "bad request 400 text", rep: reply{status: 400, body: []byte("JSON value is not an object")}, wantTries: 1, check: func(t *testing.T, err error) {
			if he, ok := errors.AsType[*HTTPError](err); !ok || he.StatusCode != 400 {
				t.Fatalf("got %v, want HTTPError 400", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := &replay{replies: []reply{tc.rep}}
			c := newTestClient(t, rp, nil)
			_, err := c.GetBestBlockHash(context.Background())
			tc.check(t, err)
			if got := rp.n.Load(); got != tc.wantTries {
				t.Errorf("attempts: got %d, want %d", got, tc.wantTries)
			}
		})
	}
}

func wantDecode(t *testing.T, err error) {
	t.Helper()
	if _, ok := errors.AsType[*DecodeError](err); !ok {
		t.Fatalf("got %v, want *DecodeError", err)
	}
}

func TestClientRetriesTransientFailures(t *testing.T) {
	ok := fromFixture(loadFixture(t, "btcd_getbestblockhash"))
	tests := []struct {
		name    string
		replies []reply
	}{
		{name: "warmup -28 then ok", replies: []reply{fromFixture(loadFixture(t, "core_warmup")), ok}},
		{name: "503 work queue full then ok", replies: []reply{{status: 503, body: []byte("Work queue depth exceeded")}, ok}},
		{name: "timeout then ok", replies: []reply{{status: 200, body: ok.body, delay: 2 * time.Second}, ok}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := &replay{replies: tc.replies}
			c := newTestClient(t, rp, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
			if _, err := c.GetBestBlockHash(context.Background()); err != nil {
				t.Fatalf("got %v, want success after retry", err)
			}
			if got := rp.n.Load(); got != 2 {
				t.Errorf("attempts: got %d, want 2", got)
			}
		})
	}
}

func TestClientTimeoutGivesUp(t *testing.T) {
	rp := &replay{replies: []reply{{status: 200, body: []byte(`{"result":null}`), delay: 5 * time.Second}}}
	c := newTestClient(t, rp, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond; cfg.Retries = 2 })
	_, err := c.GetBestBlockHash(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	if !Retryable(err) {
		t.Errorf("Retryable: got false, want true for a timeout")
	}
	if got := rp.n.Load(); got != 3 {
		t.Errorf("attempts: got %d, want 3", got)
	}
}

func TestClientNodeDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Config{URL: url, Retries: 2, Logger: slog.New(slog.DiscardHandler), BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBestBlockHash(context.Background())
	if err == nil || !Retryable(err) {
		t.Fatalf("got %v, want a retryable transport error", err)
	}
}

func TestLongpollHasNoTimeoutCap(t *testing.T) {
	gbt := fromFixture(loadFixture(t, "btcd_gbt_empty"))
	gbt.delay = 400 * time.Millisecond
	rp := &replay{replies: []reply{gbt}}
	c := newTestClient(t, rp, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond; cfg.Retries = -1 })
	if _, err := c.GetBlockTemplate(context.Background(), "somelongpollid"); err != nil {
		t.Fatalf("longpoll: got %v, want success beyond Config.Timeout", err)
	}
	// The same delay on a plain call times out.
	if _, err := c.GetBlockTemplate(context.Background(), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("plain gbt: got %v, want deadline exceeded", err)
	}
	// And a longpoll is still bounded by its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.GetBlockTemplate(ctx, "somelongpollid"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled longpoll: got %v, want deadline exceeded", err)
	}
}

func TestCookieAuthRereadAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cookie := filepath.Join(dir, ".cookie")
	if err := os.WriteFile(cookie, []byte("__cookie__:first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rp := &replay{user: "__cookie__", replies: []reply{fromFixture(loadFixture(t, "btcd_getbestblockhash"))}}
	rp.pass.Store(ptr("first"))
	c := newTestClient(t, rp, func(cfg *Config) { cfg.User, cfg.Password, cfg.CookieFile = "", "", cookie })
	if _, err := c.GetBestBlockHash(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The node restarts and writes a new cookie.
	rp.pass.Store(ptr("second"))
	if err := os.WriteFile(cookie, []byte("__cookie__:second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBestBlockHash(context.Background()); err != nil {
		t.Fatalf("after cookie rotation: got %v, want success", err)
	}
	if _, err := New(Config{URL: "http://127.0.0.1:1", CookieFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing cookie file: got no error")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "ok", cfg: Config{URL: "http://127.0.0.1:18443"}, ok: true},
		{name: "no url", cfg: Config{}},
		{name: "bad scheme", cfg: Config{URL: "tcp://127.0.0.1:1"}},
		{name: "no host", cfg: Config{URL: "http://"}},
		{name: "capped http client", cfg: Config{URL: "http://a:1", HTTPClient: &http.Client{Timeout: time.Minute}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestSubmitResult classifies every submitblock answer into nil (null), a
// *BlockKnownError (the node has it) or a *BlockRejectedError.
func TestSubmitResult(t *testing.T) {
	const accepted, known, rejected = 0, 1, 2
	tests := []struct {
		result *string
		want   int
	}{
		{nil, accepted}, {ptr(""), accepted},
		{ptr("duplicate"), known}, {ptr("inconclusive"), known},
		{ptr("rejected: already have block 00ab"), known},
		{ptr("high-hash"), rejected}, {ptr("rejected"), rejected}, {ptr("bad-cb-height"), rejected},
		{ptr("rejected: block hash of 7f is higher than expected max of 7f"), rejected},
		{ptr("duplicate-invalid"), rejected},
	}
	for _, tc := range tests {
		err := submitResult(tc.result)
		name := "null"
		if tc.result != nil {
			name = *tc.result
		}
		switch tc.want {
		case accepted:
			if err != nil {
				t.Errorf("%q: got %v, want nil", name, err)
			}
		case known:
			if k, ok := errors.AsType[*BlockKnownError](err); !ok || k.Result != name {
				t.Errorf("%q: got %v, want *BlockKnownError", name, err)
			}
		case rejected:
			if r, ok := errors.AsType[*BlockRejectedError](err); !ok || r.Reason != name {
				t.Errorf("%q: got %v, want *BlockRejectedError", name, err)
			}
		}
		if err != nil && !strings.HasPrefix(err.Error(), "chain: submitblock: ") {
			t.Errorf("%q: message %q lacks the operation prefix", name, err)
		}
	}
}
