package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// TestConcurrentRPC mixes readers, longpolls, tx submission, block
// submission and concurrent generatetoaddress calls (run with -race).
func TestConcurrentRPC(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(err error) {
		if err != nil && ctx.Err() == nil {
			select {
			case errs <- err:
			default:
			}
		}
	}
	var calls [8]int
	for i := range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				var err error
				switch i % 3 {
				case 0:
					_, err = n.GetBlockTemplate(ctx, "")
				case 1:
					var h string
					var raw json.RawMessage
					raw, err = n.Call(ctx, "getbestblockhash")
					if err == nil && json.Unmarshal(raw, &h) == nil {
						_, err = n.Call(ctx, "getblock", h, 1)
					}
				case 2:
					_, err = n.Call(ctx, "getrawmempool", true)
					if err == nil {
						_, err = n.Call(ctx, "getblockchaininfo")
					}
				}
				report(err)
				calls[i]++
			}
		})
	}
	for i := 6; i < 8; i++ { // longpollers
		wg.Go(func() {
			id := ""
			for ctx.Err() == nil {
				tmpl, err := n.GetBlockTemplate(ctx, id)
				if err != nil {
					report(err)
					continue
				}
				id = tmpl.LongPollID
				calls[i]++
			}
		})
	}
	const rounds = 10
	for range rounds {
		w.SendTxs(t, 3)
		if b := w.MineBlock(t); len(b.Transactions) != 4 {
			t.Errorf("block: got %d txs, want 4", len(b.Transactions))
		}
	}
	// Concurrent generatetoaddress: every call gets its blocks.
	start := n.BlockCount(t)
	var gwg sync.WaitGroup
	for range 4 {
		gwg.Go(func() {
			raw, err := n.Call(context.Background(), "generatetoaddress", 5, nodetest.DefaultAddress())
			var hashes []string
			if err == nil {
				err = json.Unmarshal(raw, &hashes)
			}
			if err == nil && len(hashes) != 5 {
				err = fmt.Errorf("generatetoaddress: got %d hashes, want 5", len(hashes))
			}
			report(err)
		})
	}
	gwg.Wait()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := n.BlockCount(t), start+20; got != want {
		t.Errorf("height after 4x5 concurrent blocks: got %d, want %d", got, want)
	}
	t.Logf("calls per worker: %v", calls)
	if calls[6]+calls[7] < rounds {
		t.Errorf("longpolls answered: got %d, want at least %d", calls[6]+calls[7], rounds)
	}
}

// TestSendRawTransactionErrors checks Core's codes for rejected txs; the
// mempool is unchanged by each.
func TestSendRawTransactionErrors(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	tx := w.SendTo(t, w.PkScript, 1_000_000)
	// A double spend of tx's inputs.
	ds := tx.Copy()
	ds.TxOut[0].Value -= 1000
	// A tx spending an output that does not exist.
	orphan := wire.NewMsgTx(2)
	orphan.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: [32]byte{7}}, nil, nil))
	orphan.AddTxOut(wire.NewTxOut(1000, w.PkScript))

	cases := []struct {
		name string
		tx   *wire.MsgTx
		code int // 0: success, returns the txid
	}{
		{name: "resend of a mempool tx", tx: tx, code: 0},
		{name: "double spend", tx: ds, code: -26},
		{name: "missing inputs", tx: orphan, code: -25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := n.Call(context.Background(), "sendrawtransaction", nodetest.TxHex(tc.tx))
			if got := rpcCode(err); got != tc.code {
				t.Fatalf("code: got %d (%v), want %d", got, err, tc.code)
			}
			if tc.code == 0 && string(raw) != `"`+tc.tx.TxHash().String()+`"` {
				t.Errorf("result: got %s, want the txid", raw)
			}
			if got := n.Mempool(t); len(got) != 1 || got[0] != tx.TxHash().String() {
				t.Errorf("mempool: got %v, want just %s", got, tx.TxHash())
			}
		})
	}
	w.MineBlock(t)
	if _, err := n.Call(context.Background(), "sendrawtransaction", nodetest.TxHex(tx)); rpcCode(err) != -27 {
		t.Errorf("confirmed tx: got %v, want code -27", err)
	}
}

// TestCoreOnlyBehaviour covers what the embedded node does like Core and
// unlike btcd: the witness reserved value is added to a coinbase that has a
// commitment but no witness, and proposal mode.
func TestCoreOnlyBehaviour(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	w.SendTxs(t, 2)
	tmpl := template(t, n)
	msg, err := nodetest.NewBlock(tmpl, w.PkScript, 1)
	if err != nil {
		t.Fatal(err)
	}
	propose := func(m *wire.MsgBlock) json.RawMessage {
		return n.MustCall(t, "getblocktemplate", map[string]any{"mode": "proposal", "data": nodetest.BlockHex(m), "rules": []string{"segwit"}})
	}
	if got := propose(msg); string(got) != "null" {
		t.Errorf("proposal of a valid block: got %s, want null", got)
	}
	bad := msg.Copy()
	bad.Transactions[0].TxOut[0].Value++
	nodetest.SetMerkleRoot(bad)
	if got := propose(bad); string(got) != `"bad-cb-amount"` {
		t.Errorf("proposal of an overpaying block: got %s, want \"bad-cb-amount\"", got)
	}
	// Strip the coinbase witness (as a non-segwit-aware pool would).
	msg.Transactions[0].TxIn[0].Witness = nil
	if got := submit(t, n, msg); got != "" {
		t.Fatalf("block with a stripped coinbase witness: got %q, want null", got)
	}
	if got := n.BestBlockHash(t); got != msg.BlockHash().String() {
		t.Fatalf("tip: got %s, want %s", got, msg.BlockHash())
	}
	if got := propose(msg); string(got) != `"duplicate"` {
		t.Errorf("proposal of a known block: got %s, want \"duplicate\"", got)
	}
	// The stored block carries the reserved value.
	var hexBlock string
	n.MustDecode(t, &hexBlock, "getblock", msg.BlockHash().String(), 0)
	if want := nodetest.BlockHex(withNonce(msg)); hexBlock != want {
		t.Errorf("stored block differs from the submitted one plus the witness nonce")
	}
	var v2 struct {
		Tx []struct{ TxID, Hash, Hex string }
	}
	n.MustDecode(t, &v2, "getblock", msg.BlockHash().String(), 2)
	if len(v2.Tx) != 3 || v2.Tx[1].TxID != msg.Transactions[1].TxHash().String() || v2.Tx[1].Hex != nodetest.TxHex(msg.Transactions[1]) {
		t.Errorf("getblock verbosity 2: got %+v", v2.Tx)
	}
	var asBool string
	n.MustDecode(t, &asBool, "getblock", msg.BlockHash().String(), false)
	if asBool != hexBlock {
		t.Errorf("getblock verbose=false: want the block hex")
	}
	var hdr struct {
		Confirmations int64
		Height        int64
		NTx           int `json:"nTx"`
	}
	n.MustDecode(t, &hdr, "getblockheader", msg.BlockHash().String())
	if hdr.Confirmations != 1 || hdr.Height != 102 || hdr.NTx != 3 {
		t.Errorf("getblockheader: got %+v", hdr)
	}
}

func withNonce(m *wire.MsgBlock) *wire.MsgBlock {
	c := m.Copy()
	c.Transactions[0].TxIn[0].Witness = wire.TxWitness{make([]byte, 32)}
	return c
}

// TestReorg: a longer competing chain replaces the tip on both nodes, and
// the transaction only the old tip confirmed goes back to the mempool.
func TestReorg(t *testing.T) {
	forEachNode(t, func(t *testing.T, n *nodetest.RPCNode) {
		w := nodetest.NewWallet(t, n)
		w.Fund(t)
		tx := w.SendTo(t, w.PkScript, 1_000_000)
		old := w.MineBlock(t)
		height := n.BlockCount(t)
		mk := func(prev *wire.MsgBlock, h int64) *wire.MsgBlock {
			m := &wire.MsgBlock{Header: wire.BlockHeader{
				Version: prev.Header.Version, PrevBlock: prev.Header.PrevBlock,
				Timestamp: prev.Header.Timestamp.Add(time.Second), Bits: prev.Header.Bits,
			}}
			m.AddTransaction(nodetest.CoinbaseTx(h, 50e8, []byte{0x51}, 99, nodetest.WitnessCommitmentScript(nil)))
			nodetest.SetMerkleRoot(m)
			if err := nodetest.Solve(&m.Header); err != nil {
				t.Fatal(err)
			}
			return m
		}
		b1 := mk(old, height) // sibling of old
		next := &wire.MsgBlock{Header: b1.Header}
		next.Header.PrevBlock = b1.BlockHash()
		b2 := mk(next, height+1)
		want1 := "inconclusive"
		if n.Kind == nodetest.KindBtcd {
			want1 = "" // btcd: null for a side-chain block
		}
		if got := submit(t, n, b1); got != want1 {
			t.Errorf("side block: got %q, want %q", got, want1)
		}
		if got := n.BestBlockHash(t); got != old.BlockHash().String() {
			t.Fatalf("tip after side block: got %s, want %s", got, old.BlockHash())
		}
		if got := submit(t, n, b2); got != "" {
			t.Fatalf("reorg block: got %q, want null", got)
		}
		if got := n.BestBlockHash(t); got != b2.BlockHash().String() {
			t.Fatalf("tip after reorg: got %s, want %s", got, b2.BlockHash())
		}
		if got := n.Mempool(t); len(got) != 1 || got[0] != tx.TxHash().String() {
			t.Errorf("mempool after reorg: got %v, want [%s]", got, tx.TxHash())
		}
		// The next template confirms it again.
		if tmpl := template(t, n); len(tmpl.Txs) != 1 || tmpl.Height != height+2 {
			t.Errorf("template after reorg: %d txs at height %d, want 1 at %d", len(tmpl.Txs), tmpl.Height, height+2)
		}
		if n.Kind == nodetest.KindEmbedded { // btcd: error "not in the main chain"
			var hdr struct{ Confirmations, Height int64 }
			n.MustDecode(t, &hdr, "getblockheader", old.BlockHash().String())
			if hdr.Confirmations != -1 || hdr.Height != height {
				t.Errorf("stale block: got confirmations %d height %d, want -1 %d", hdr.Confirmations, hdr.Height, height)
			}
			var tips []struct {
				Height int64
				Hash   string
				Status string
			}
			n.MustDecode(t, &tips, "getchaintips")
			if len(tips) != 2 {
				t.Errorf("getchaintips: got %+v, want the active tip and one fork", tips)
			}
		}
	})
}
