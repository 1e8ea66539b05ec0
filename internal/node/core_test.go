package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "datadir", cfg: Config{DataDir: "/x"}, ok: true},
		{name: "ephemeral", cfg: Config{Ephemeral: true}, ok: true},
		{name: "neither", cfg: Config{}},
		{name: "both", cfg: Config{DataDir: "/x", Ephemeral: true}},
		{name: "user without password", cfg: Config{Ephemeral: true, RPCUser: "u"}},
		{name: "password without user", cfg: Config{Ephemeral: true, RPCPassword: "p"}},
		{name: "cookie user", cfg: Config{Ephemeral: true, RPCUser: "__cookie__", RPCPassword: "p"}},
		{name: "user and password", cfg: Config{Ephemeral: true, RPCUser: "u", RPCPassword: "p"}, ok: true},
		{name: "negative wait", cfg: Config{Ephemeral: true, LongPollTxWait: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate: got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestLongPollID(t *testing.T) {
	tip := chainhash.Hash{1, 2, 3}
	cases := []struct {
		name        string
		id          string
		wantTip     chainhash.Hash
		wantUpdates uint64
	}{
		{name: "round trip", id: longPollID(tip, 42), wantTip: tip, wantUpdates: 42},
		{name: "zero counter", id: longPollID(tip, 0), wantTip: tip},
		{name: "btcd style", id: tip.String() + "-1700000000", wantTip: tip},
		{name: "short", id: "abc"},
		{name: "bad hash", id: strings.Repeat("z", 64) + "5", wantUpdates: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gotTip, gotUpdates := parseLongPollID(tc.id)
			if gotTip != tc.wantTip || gotUpdates != tc.wantUpdates {
				t.Errorf("parseLongPollID(%q): got %s %d, want %s %d", tc.id, gotTip, gotUpdates, tc.wantTip, tc.wantUpdates)
			}
		})
	}
}

func TestDifficultyAndTarget(t *testing.T) {
	cases := []struct {
		name     string
		bits     uint32
		wantDiff float64
		target   string
	}{
		{name: "mainnet diff 1", bits: 0x1d00ffff, wantDiff: 1, target: "00000000ffff0000000000000000000000000000000000000000000000000000"},
		{name: "regtest", bits: 0x207fffff, wantDiff: 4.656542373906925e-10, target: "7fffff0000000000000000000000000000000000000000000000000000000000"},
		{name: "block 100000", bits: 0x1b04864c, wantDiff: 14484.1623612254},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := difficulty(tc.bits); fmt.Sprintf("%.10g", got) != fmt.Sprintf("%.10g", tc.wantDiff) {
				t.Errorf("difficulty(%08x): got %v, want %v", tc.bits, got, tc.wantDiff)
			}
			if tc.target != "" {
				if got := targetHex(tc.bits); got != tc.target {
					t.Errorf("targetHex(%08x): got %s, want %s", tc.bits, got, tc.target)
				}
			}
		})
	}
	if got, want := chainWork(0x207fffff, 0), "0000000000000000000000000000000000000000000000000000000000000002"; got != want {
		t.Errorf("chainWork genesis: got %s, want %s", got, want)
	}
	if got, want := chainWork(0x207fffff, 200), fmt.Sprintf("%064x", 402); got != want {
		t.Errorf("chainWork 200: got %s, want %s", got, want)
	}
}

func TestRejectReason(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		want    string
		wantErr bool
	}{
		{name: "high hash", err: blockchain.RuleError{ErrorCode: blockchain.ErrHighHash}, want: "high-hash"},
		{name: "wrapped", err: fmt.Errorf("x: %w", blockchain.RuleError{ErrorCode: blockchain.ErrBadCoinbaseValue}), want: "bad-cb-amount"},
		{name: "negative output", err: blockchain.RuleError{ErrorCode: blockchain.ErrBadTxOutValue, Description: "transaction output has negative value of -1"}, want: "bad-txns-vout-negative"},
		{name: "huge output", err: blockchain.RuleError{ErrorCode: blockchain.ErrBadTxOutValue, Description: "value is higher than max allowed"}, want: "bad-txns-vout-toolarge"},
		{name: "old version", err: blockchain.RuleError{ErrorCode: blockchain.ErrBlockVersionTooOld}, want: "bad-version"},
		{name: "unmapped rule", err: blockchain.RuleError{ErrorCode: blockchain.ErrorCode(9999)}, want: "rejected"},
		{name: "not a rule error", err: errors.New("disk on fire"), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rejectReason(tc.err)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("rejectReason: got %q, %v; want %q, err=%v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestInputsInOrder(t *testing.T) {
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: wire.MaxPrevOutIndex}, []byte{1, 2}, nil))
	cb.AddTxOut(wire.NewTxOut(1, nil))
	parent := wire.NewMsgTx(2)
	parent.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{5}}, nil, nil))
	parent.AddTxOut(wire.NewTxOut(1, nil))
	ph := parent.TxHash()
	child := wire.NewMsgTx(2)
	child.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: ph}, nil, nil))
	child.AddTxOut(wire.NewTxOut(1, nil))
	self := wire.NewMsgTx(2) // spends an output of the coinbase: earlier, fine
	ch := cb.TxHash()
	self.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: ch}, nil, nil))
	cases := []struct {
		name string
		txs  []*wire.MsgTx
		want bool
	}{
		{name: "coinbase only", txs: []*wire.MsgTx{cb}, want: true},
		{name: "parent then child", txs: []*wire.MsgTx{cb, parent, child}, want: true},
		{name: "child then parent", txs: []*wire.MsgTx{cb, child, parent}, want: false},
		{name: "spends coinbase", txs: []*wire.MsgTx{cb, self}, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inputsInOrder(&wire.MsgBlock{Transactions: tc.txs}); got != tc.want {
				t.Errorf("inputsInOrder: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddWitnessNonce(t *testing.T) {
	commit := append(append([]byte(nil), blockchain.WitnessMagicBytes...), make([]byte, 32)...)
	mk := func(outs [][]byte, witness wire.TxWitness) *wire.MsgBlock {
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: []byte{1, 2}, Witness: witness})
		for _, o := range outs {
			cb.AddTxOut(wire.NewTxOut(0, o))
		}
		return &wire.MsgBlock{Transactions: []*wire.MsgTx{cb}}
	}
	cases := []struct {
		name      string
		block     *wire.MsgBlock
		wantItems int
		wantLen   int
	}{
		{name: "commitment, no witness", block: mk([][]byte{{0x51}, commit}, nil), wantItems: 1, wantLen: 32},
		{name: "no commitment", block: mk([][]byte{{0x51}}, nil), wantItems: 0},
		{name: "witness kept", block: mk([][]byte{commit}, wire.TxWitness{{1, 2, 3}}), wantItems: 1, wantLen: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hash := tc.block.BlockHash()
			addWitnessNonce(tc.block)
			w := tc.block.Transactions[0].TxIn[0].Witness
			if len(w) != tc.wantItems || (len(w) == 1 && len(w[0]) != tc.wantLen) {
				t.Errorf("witness: got %x, want %d item(s) of %d bytes", w, tc.wantItems, tc.wantLen)
			}
			if tc.block.BlockHash() != hash {
				t.Errorf("block hash changed")
			}
		})
	}
}

// FuzzRPC throws arbitrary bodies at the JSON-RPC handler of a live
// ephemeral node: it never panics, always answers, and its answer is JSON
// (or an empty 204 for a 2.0 notification).
func FuzzRPC(f *testing.F) {
	for _, s := range []string{
		`{"method":"getblockcount","params":[],"id":1}`,
		`{"jsonrpc":"2.0","method":"getblockhash","params":{"height":0},"id":"x"}`,
		`[{"method":"getbestblockhash","id":1},{"method":"nope"}]`,
		`{"method":"getblock","params":["00",true],"id":null}`,
		`{"method":"getblocktemplate","params":[{"rules":["segwit"],"mode":"proposal","data":"00"}]}`,
		`{"method":"submitblock","params":["0000"],"id":1}`,
		`{"method":"sendrawtransaction","params":["01000000000000000000"],"id":1}`,
		`{"method":"getrawmempool","params":[true],"id":1}`,
		`{"method":7}`, `[]`, `[1,2]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	n, err := New(Config{Ephemeral: true, RPCListen: "127.0.0.1:0", RPCUser: "u", RPCPassword: "p"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	h := n.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.Contains(body, []byte("generate")) || bytes.Contains(body, []byte("longpollid")) {
			t.Skip("mining and longpolls are not fuzzed")
		}
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/", bytes.NewReader(body))
		req.SetBasicAuth("u", "p")
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic(fmt.Sprintf("stuck on %q", body))
			}
		}()
		h.ServeHTTP(rec, req)
		close(done)
		if rec.Code == http.StatusNoContent {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
		}
	})
}
