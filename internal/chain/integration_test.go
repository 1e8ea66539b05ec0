package chain

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// TestIntegrationBtcd exercises the client against a real btcd --regtest:
// templates with witness txs, a longpoll that returns on a new block,
// submitblock results, block status in all three states, and 401.
func TestIntegrationBtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a btcd build")
	}
	n := nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	c, err := New(Config{URL: n.URL, User: n.User, Password: n.Password, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	info, err := c.GetBlockChainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Chain != "regtest" || info.Blocks != nodetest.CoinbaseMaturity+1 {
		t.Errorf("getblockchaininfo: got chain %q blocks %d", info.Chain, info.Blocks)
	}
	best, err := c.GetBestBlockHash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if btc.HashString(best) != n.BestBlockHash(t) {
		t.Errorf("getbestblockhash: got %s, want %s", btc.HashString(best), n.BestBlockHash(t))
	}

	// Templates with witness and legacy transactions.
	sent := w.SendTxs(t, 4)
	tpl, err := c.GetBlockTemplate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Txs) != len(sent) || !tpl.Segwit || tpl.WitnessCommitment == nil || tpl.PrevHash != best {
		t.Fatalf("template: got %d txs segwit=%v commitment=%x", len(tpl.Txs), tpl.Segwit, tpl.WitnessCommitment)
	}
	ids := make(map[[32]byte][32]byte) // txid -> wtxid, as the template says
	for _, tx := range tpl.Txs {
		ids[tx.TxID] = tx.WTxID
	}
	for i, tx := range sent { // btcd orders by fee rate, so compare as a set
		if wtxid, ok := ids[tx.TxHash()]; !ok || wtxid != [32]byte(tx.WitnessHash()) {
			t.Errorf("tx %d: missing from the template or wtxid differs", i)
		}
	}
	if tpl.LongPollID == "" {
		t.Fatal("btcd sent no longpollid")
	}

	// A longpoll waits until a block arrives, then returns the new tip.
	type lpResult struct {
		tpl *Template
		err error
	}
	lp := make(chan lpResult, 1)
	go func() {
		tp, err := c.GetBlockTemplate(ctx, tpl.LongPollID)
		lp <- lpResult{tp, err}
	}()
	select {
	case r := <-lp:
		t.Fatalf("longpoll returned before any change: %+v %v", r.tpl, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	mined := w.MineBlock(t)
	var r lpResult
	select {
	case r = <-lp:
	case <-time.After(20 * time.Second):
		t.Fatal("longpoll did not return after a new block")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.tpl.PrevHash != [32]byte(mined.BlockHash()) || r.tpl.Height != tpl.Height+1 {
		t.Errorf("longpoll template: got prev %s height %d", btc.HashString(r.tpl.PrevHash), r.tpl.Height)
	}

	// submitblock: duplicate, bad block, block status.
	var buf bytes.Buffer
	if err := mined.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitBlock(ctx, buf.Bytes()); !isBlockKnown(err) {
		t.Errorf("resubmit: got %v, want btcd's duplicate answer (*BlockKnownError)", err)
	}
	st, err := c.BlockStatus(ctx, mined.BlockHash())
	if err != nil || st != BlockMainChain {
		t.Errorf("status of tip: got %v, %v, want main-chain", st, err)
	}
	st, err = c.BlockStatus(ctx, [32]byte{1, 2, 3})
	if err != nil || st != BlockUnknown {
		t.Errorf("status of unknown: got %v, %v, want unknown", st, err)
	}

	// A competing block at the same height: btcd says null, but it is only
	// a side chain.
	side := *mined
	side.Transactions = []*wire.MsgTx{mined.Transactions[0].Copy()}
	side.Transactions[0].TxIn[0].SignatureScript = append(side.Transactions[0].TxIn[0].SignatureScript, 0x01)
	side.Transactions[0].TxOut = side.Transactions[0].TxOut[:1]
	side.Transactions[0].TxOut[0].Value = 50 * 100_000_000 // subsidy only: no fees without the txs
	side.Transactions[0].TxIn[0].Witness = nil
	nodetest.SetMerkleRoot(&side)
	if err := nodetest.Solve(&side.Header); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := side.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if err := c.SubmitBlock(ctx, buf.Bytes()); err != nil {
		t.Fatalf("side block: got %v, want null", err)
	}
	st, err = c.BlockStatus(ctx, side.BlockHash())
	if err != nil || st != BlockSideChain {
		t.Errorf("status of side block: got %v, %v, want side-chain", st, err)
	}

	// An invalid block: btcd's "rejected: …" string.
	bad := side
	bad.Header.Nonce++
	nodetest.Unsolve(&bad.Header)
	buf.Reset()
	_ = bad.Serialize(&buf)
	if _, ok := errors.AsType[*BlockRejectedError](c.SubmitBlock(ctx, buf.Bytes())); !ok {
		t.Errorf("high-hash block: want a *BlockRejectedError")
	}

	// Wrong password: 401, not retried.
	wrong, err := New(Config{URL: n.URL, User: n.User, Password: "wrong", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.GetBestBlockHash(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong password: got %v, want ErrUnauthorized", err)
	}
	// Unknown method.
	if err := c.Call(ctx, "generatetoaddress", []any{1, "x"}, nil); err == nil {
		t.Error("generatetoaddress on btcd: got no error")
	} else if e, ok := errors.AsType[*RPCError](err); !ok || e.Code != CodeMethodNotFound {
		t.Errorf("generatetoaddress: got %v, want -32601", err)
	}
}

func isBlockKnown(err error) bool {
	_, ok := errors.AsType[*BlockKnownError](err)
	return ok
}
