package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// forEachNode runs fn against the embedded node and a real btcd.
func forEachNode(t *testing.T, fn func(t *testing.T, n *nodetest.RPCNode)) {
	t.Run("embedded", func(t *testing.T) { fn(t, nodetest.StartEmbedded(t)) })
	t.Run("btcd", func(t *testing.T) { fn(t, nodetest.StartBtcd(t)) })
}

func template(t *testing.T, n *nodetest.RPCNode) *nodetest.Template {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tmpl, err := n.GetBlockTemplate(ctx, "")
	if err != nil {
		t.Fatalf("%s: getblocktemplate: %v", n.Kind, err)
	}
	return tmpl
}

func submit(t *testing.T, n *nodetest.RPCNode, msg *wire.MsgBlock) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := n.SubmitBlock(ctx, msg)
	if err != nil {
		t.Fatalf("%s: submitblock: %v", n.Kind, err)
	}
	return res
}

// syncTo submits every block of src above dst's height to dst and checks
// that dst takes each one as its tip.
func syncTo(t *testing.T, src, dst *nodetest.RPCNode) {
	t.Helper()
	from, to := dst.BlockCount(t)+1, src.BlockCount(t)
	for h := from; h <= to; h++ {
		var hash, hexBlock string
		src.MustDecode(t, &hash, "getblockhash", h)
		src.MustDecode(t, &hexBlock, "getblock", hash, 0)
		var res json.RawMessage = dst.MustCall(t, "submitblock", hexBlock)
		if string(res) != "null" {
			t.Fatalf("%s: submitblock of %s block %d (%s): got %s, want null", dst.Kind, src.Kind, h, hash, res)
		}
		if got := dst.BestBlockHash(t); got != hash {
			t.Fatalf("%s: tip after block %d: got %s, want %s", dst.Kind, h, got, hash)
		}
	}
}

// TestMineTemplateBlocks mines blocks with 1, 2, 3 and 20 transactions
// through getblocktemplate + submitblock on both nodes.
func TestMineTemplateBlocks(t *testing.T) {
	forEachNode(t, func(t *testing.T, n *nodetest.RPCNode) {
		w := nodetest.NewWallet(t, n)
		w.Fund(t)
		for _, k := range []int{1, 2, 3, 20} {
			t.Run(fmt.Sprintf("%dtxs", k), func(t *testing.T) {
				sent := w.SendTxs(t, k-1)
				tmpl := template(t, n)
				if got := len(tmpl.Txs); got != k-1 {
					t.Fatalf("template txs: got %d, want %d", got, k-1)
				}
				b := w.MineBlock(t)
				if got := len(b.Transactions); got != k {
					t.Fatalf("block txs: got %d, want %d", got, k)
				}
				if k > 1 && !b.Transactions[1].HasWitness() {
					t.Errorf("block with %d txs has no witness data", k)
				}
				if len(sent) > 2 && sent[2].HasWitness() {
					t.Errorf("want a legacy (no-witness) spend among the txs")
				}
				if got := n.Mempool(t); len(got) != 0 {
					t.Errorf("mempool after block: got %d txs, want 0", len(got))
				}
				var info struct {
					Tx []string `json:"tx"`
				}
				n.MustDecode(t, &info, "getblock", b.BlockHash().String(), 1)
				if len(info.Tx) != k {
					t.Errorf("getblock tx: got %d, want %d", len(info.Tx), k)
				}
			})
		}
	})
}

// TestSameBlocksBothNodes replays blocks mined on one node into the other:
// each accepts all of the other's blocks.
func TestSameBlocksBothNodes(t *testing.T) {
	e, b := nodetest.StartEmbedded(t), nodetest.StartBtcd(t)
	we := nodetest.NewWallet(t, e)
	we.Fund(t)
	we.SendTxs(t, 5)
	we.MineBlock(t)
	we.SendTxs(t, 3)
	we.MineBlock(t)
	e.Generate(t, 2, "")
	syncTo(t, e, b)

	wb := nodetest.NewWallet(t, b)
	wb.Mine(t, 2)
	// Spend a coinbase the embedded wallet mined, on btcd.
	for _, tx := range we.SendTxs(t, 1) {
		b.MustCall(t, "sendrawtransaction", nodetest.TxHex(tx))
	}
	wb.MineBlock(t)
	b.Generate(t, 1, "")
	syncTo(t, b, e)
	if got, want := e.BestBlockHash(t), b.BestBlockHash(t); got != want {
		t.Fatalf("tips differ: embedded %s, btcd %s", got, want)
	}
	if got := e.Mempool(t); len(got) != 0 {
		t.Errorf("embedded mempool after syncing the block that mined its tx: got %v, want empty", got)
	}
}

// TestTemplatesAgree compares the getblocktemplate fields btcd has with the
// embedded node's on the same chain and mempool, and checks the Core-only
// fields of the embedded node.
func TestTemplatesAgree(t *testing.T) {
	e, b := nodetest.StartEmbedded(t), nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, e)
	w.Fund(t)
	syncTo(t, e, b)

	check := func(t *testing.T, want int) {
		te, tb := template(t, e), template(t, b)
		if len(te.Txs) != want || len(tb.Txs) != want {
			t.Fatalf("template txs: embedded %d, btcd %d, want %d", len(te.Txs), len(tb.Txs), want)
		}
		for _, f := range []string{"version", "previousblockhash", "height", "bits", "target", "coinbasevalue",
			"sigoplimit", "sizelimit", "weightlimit", "noncerange", "capabilities", "mintime"} {
			if got, want := string(te.Raw[f]), string(tb.Raw[f]); got != want {
				t.Errorf("field %s: embedded %s, btcd %s", f, got, want)
			}
		}
		if d := te.CurTime - tb.CurTime; d < -60 || d > 60 {
			t.Errorf("curtime: embedded %d, btcd %d", te.CurTime, tb.CurTime)
		}
		// Transactions: same set, same per-tx fields, same dependencies
		// (by txid: btcd orders by priority, the embedded node by fee).
		type txf struct {
			Data, Hash          string
			Fee, SigOps, Weight int64
			Depends             []string
		}
		txFields := func(raw json.RawMessage) map[string]txf {
			var txs []struct {
				Data, TxID, Hash    string
				Fee, SigOps, Weight int64
				Depends             []int
			}
			if err := json.Unmarshal(raw, &txs); err != nil {
				t.Fatal(err)
			}
			m := map[string]txf{}
			for _, tx := range txs {
				f := txf{Data: tx.Data, Hash: tx.Hash, Fee: tx.Fee, SigOps: tx.SigOps, Weight: tx.Weight, Depends: []string{}}
				for _, d := range tx.Depends {
					f.Depends = append(f.Depends, txs[d-1].TxID)
				}
				slices.Sort(f.Depends)
				m[tx.TxID] = f
			}
			return m
		}
		me, mb := txFields(te.Raw["transactions"]), txFields(tb.Raw["transactions"])
		if !maps.EqualFunc(me, mb, func(a, b txf) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Errorf("transactions differ:\nembedded %v\nbtcd     %v", me, mb)
		}
		// btcd sends the bare commitment hash, and only with witness txs;
		// Core (and the embedded node) always send the whole script.
		if len(te.WitnessCommitment) != 38 {
			t.Errorf("embedded default_witness_commitment: got %d bytes, want the 38-byte script", len(te.WitnessCommitment))
		}
		if tb.WitnessCommitment != nil {
			got, err := nodetest.NormalizeCommitment(tb.WitnessCommitment)
			if err != nil || string(got) != string(te.WitnessCommitment) {
				t.Errorf("witness commitment: embedded %x, btcd %x", te.WitnessCommitment, tb.WitnessCommitment)
			}
		}
		// Core-only fields.
		wantRaw := map[string]string{
			"rules":       `["csv","!segwit","taproot"]`,
			"vbavailable": `{}`,
			"vbrequired":  `0`,
			"coinbaseaux": `{}`,
			"mutable":     `["time","transactions","prevblock"]`,
		}
		for f, want := range wantRaw {
			if got := string(te.Raw[f]); got != want {
				t.Errorf("embedded %s: got %s, want %s", f, got, want)
			}
		}
		if !strings.HasPrefix(te.LongPollID, te.PrevHash.String()) || len(te.LongPollID) <= 64 {
			t.Errorf("embedded longpollid %q: want <tip hash><counter>", te.LongPollID)
		}
		// The block built from the embedded template is accepted by both.
		msg, err := nodetest.NewBlock(te, w.PkScript, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*nodetest.RPCNode{e, b} {
			if res := submit(t, n, msg); res != "" || n.BestBlockHash(t) != msg.BlockHash().String() {
				t.Fatalf("%s: submitblock: got %q, want null and new tip", n.Kind, res)
			}
		}
	}
	t.Run("empty", func(t *testing.T) { check(t, 0) })
	t.Run("6txs", func(t *testing.T) {
		for _, tx := range w.SendTxs(t, 6) {
			b.MustCall(t, "sendrawtransaction", nodetest.TxHex(tx))
		}
		check(t, 6)
	})
}

// TestRejectsAgree submits invalid blocks to both nodes: neither accepts
// any, the embedded node answers with Core's reason, and both chains stay
// where they were.
func TestRejectsAgree(t *testing.T) {
	e, b := nodetest.StartEmbedded(t), nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, e)
	w.Fund(t)
	syncTo(t, e, b)
	for _, tx := range w.SendTxs(t, 3) {
		b.MustCall(t, "sendrawtransaction", nodetest.TxHex(tx))
	}
	tmpl := template(t, e)
	if len(tmpl.Txs) != 3 {
		t.Fatalf("template txs: got %d, want 3", len(tmpl.Txs))
	}
	en := int64(1000)
	build := func(mt func(*nodetest.Template), mb func(*wire.MsgBlock)) *wire.MsgBlock {
		t.Helper()
		tc := *tmpl
		tc.Txs = slices.Clone(tmpl.Txs)
		if mt != nil {
			mt(&tc)
		}
		en++
		msg, err := nodetest.NewBlock(&tc, w.PkScript, en)
		if err != nil {
			t.Fatal(err)
		}
		if mb != nil {
			mb(msg)
		}
		return msg
	}
	resolve := func(m *wire.MsgBlock) {
		nodetest.SetMerkleRoot(m)
		if err := nodetest.Solve(&m.Header); err != nil {
			t.Fatal(err)
		}
	}
	missingInput := wire.NewMsgTx(2)
	missingInput.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{1, 2, 3}}, []byte{0x51}, nil))
	missingInput.AddTxOut(wire.NewTxOut(1000, w.PkScript))

	cases := []struct {
		name string
		mt   func(*nodetest.Template)
		mb   func(*wire.MsgBlock)
		want string
	}{
		{name: "unsolved", mb: func(m *wire.MsgBlock) { nodetest.Unsolve(&m.Header) }, want: "high-hash"},
		{name: "bits above pow limit", mb: func(m *wire.MsgBlock) { m.Header.Bits = 0x2100ffff; resolve(m) }, want: "high-hash"},
		{name: "wrong bits", mb: func(m *wire.MsgBlock) { m.Header.Bits = 0x200fffff; resolve(m) }, want: "bad-diffbits"},
		{name: "bad merkle root", mb: func(m *wire.MsgBlock) {
			m.Header.MerkleRoot[0] ^= 1
			nodetest.Solve(&m.Header)
		}, want: "bad-txnmrklroot"},
		{name: "coinbase pays 1 sat too much", mt: func(tc *nodetest.Template) { tc.CoinbaseValueSats++ }, want: "bad-cb-amount"},
		{name: "wrong coinbase height", mb: func(m *wire.MsgBlock) {
			cb := nodetest.CoinbaseTx(tmpl.Height+1, tmpl.CoinbaseValueSats, w.PkScript, 0, m.Transactions[0].TxOut[1].PkScript)
			cb.LockTime = 0 // else it is non-final, which Core checks first
			m.Transactions[0] = cb
			resolve(m)
		}, want: "bad-cb-height"},
		{name: "coinbase script too long", mb: func(m *wire.MsgBlock) {
			m.Transactions[0].TxIn[0].SignatureScript = append(m.Transactions[0].TxIn[0].SignatureScript, make([]byte, 100)...)
			resolve(m)
		}, want: "bad-cb-length"},
		{name: "time at median time past", mb: func(m *wire.MsgBlock) {
			m.Header.Timestamp = time.Unix(tmpl.MinTime-1, 0)
			nodetest.Solve(&m.Header)
		}, want: "time-too-old"},
		{name: "time 3h ahead", mb: func(m *wire.MsgBlock) {
			m.Header.Timestamp = time.Now().Add(3 * time.Hour).Truncate(time.Second)
			nodetest.Solve(&m.Header)
		}, want: "time-too-new"},
		{name: "unknown parent", mb: func(m *wire.MsgBlock) {
			m.Header.PrevBlock = chainhash.Hash{9, 9, 9}
			nodetest.Solve(&m.Header)
		}, want: "prev-blk-not-found"},
		{name: "wrong witness commitment", mb: func(m *wire.MsgBlock) {
			m.Transactions[0].TxOut[1].PkScript[37] ^= 1
			resolve(m)
		}, want: "bad-witness-merkle-match"},
		{name: "witness nonce of 31 bytes", mb: func(m *wire.MsgBlock) {
			m.Transactions[0].TxIn[0].Witness = wire.TxWitness{make([]byte, 31)}
		}, want: "bad-witness-nonce-size"},
		{name: "tx spends a missing output", mt: func(tc *nodetest.Template) {
			tc.Txs = append(tc.Txs, missingInput)
			tc.WitnessCommitment = nil
		}, want: "bad-txns-inputs-missingorspent"},
		{name: "txs out of order", mt: func(tc *nodetest.Template) {
			tc.Txs[0], tc.Txs[1] = tc.Txs[1], tc.Txs[0] // tx 1 spends tx 0's output
			tc.WitnessCommitment = nil
		}, want: "bad-txns-inputs-missingorspent"},
		{name: "duplicate tx", mt: func(tc *nodetest.Template) {
			tc.Txs = append(tc.Txs, tc.Txs[2])
			tc.WitnessCommitment = nil
		}, want: "bad-txns-duplicate"},
	}
	nodes := []*nodetest.RPCNode{e, b}
	tips := []string{e.BestBlockHash(t), b.BestBlockHash(t)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := build(tc.mt, tc.mb)
			var res [2]string
			for i, n := range nodes {
				res[i] = submit(t, n, msg)
				if got := n.BestBlockHash(t); got != tips[i] {
					t.Errorf("%s: tip moved to %s (result %q)", n.Kind, got, res[i])
				}
				if got := len(n.Mempool(t)); got != 3 {
					t.Errorf("%s: mempool: got %d txs, want 3", n.Kind, got)
				}
			}
			if res[0] != tc.want {
				t.Errorf("embedded: got %q, want %q (btcd said %q)", res[0], tc.want, res[1])
			}
			t.Logf("btcd: %q", res[1])
			// btcd answers "rejected: <text>", or null for an orphan.
			if res[1] == "" && tc.want != "prev-blk-not-found" {
				t.Errorf("btcd accepted a block the embedded node rejects with %q", res[0])
			}
		})
	}

	// The valid block is accepted by both; resubmitting is a duplicate,
	// and a valid sibling is stored on a side chain ("inconclusive").
	good := build(nil, nil)
	for _, n := range nodes {
		if res := submit(t, n, good); res != "" || n.BestBlockHash(t) != good.BlockHash().String() {
			t.Fatalf("%s: valid block: got %q", n.Kind, res)
		}
	}
	if got := submit(t, e, good); got != "duplicate" {
		t.Errorf("embedded resubmit: got %q, want duplicate", got)
	}
	if got := submit(t, b, good); got == "" {
		t.Errorf("btcd resubmit: got null, want a rejection")
	}
	sibling := build(nil, nil)
	for _, n := range nodes {
		res := submit(t, n, sibling)
		if got := n.BestBlockHash(t); got != good.BlockHash().String() {
			t.Errorf("%s: sibling became tip (%q)", n.Kind, res)
		}
		if n.Kind == nodetest.KindEmbedded && res != "inconclusive" {
			t.Errorf("embedded sibling: got %q, want inconclusive", res)
		}
	}
}

func rpcCode(err error) int {
	if re, ok := errors.AsType[*nodetest.RPCError](err); ok {
		return re.Code
	}
	return 0
}
