package nodetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// CoinbaseMaturity is the number of confirmations before a coinbase output
// can be spent (all networks).
const CoinbaseMaturity = 100

// DefaultKey is a fixed regtest key: StartBtcd passes its P2WPKH address as
// --miningaddr, so blocks from RPCNode.Generate pay to it on either node.
func DefaultKey() *btcec.PrivateKey {
	seed := sha256.Sum256([]byte("hashfleet nodetest default key"))
	k, _ := btcec.PrivKeyFromBytes(seed[:])
	return k
}

// DefaultAddress is DefaultKey's P2WPKH regtest address (bcrt1q…).
func DefaultAddress() string {
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(DefaultKey().PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		panic(err)
	}
	return a.EncodeAddress()
}

// UTXO is an output the wallet can spend.
type UTXO struct {
	OutPoint  wire.OutPoint
	ValueSats int64
	PkScript  []byte
	Coinbase  bool
	Height    int64 // block height of a coinbase output; 0 for others
}

// Wallet owns one key and spends outputs paying to its P2WPKH script
// (witness spends) or its P2PKH script (legacy spends). It works against
// btcd and the embedded node alike: it mines by getblocktemplate +
// submitblock with its own coinbase, and sends with sendrawtransaction.
// It is safe for concurrent use.
type Wallet struct {
	Node           *RPCNode
	Key            *btcec.PrivateKey
	Address        string // P2WPKH, bcrt1q…
	PkScript       []byte // P2WPKH output script
	LegacyAddress  string // P2PKH, m…/n…
	LegacyPkScript []byte // P2PKH output script

	mu         sync.Mutex
	utxos      map[wire.OutPoint]UTXO
	extraNonce int64
}

// NewWallet returns a wallet with a fresh random key on node n.
func NewWallet(t testing.TB, n *RPCNode) *Wallet {
	t.Helper()
	k, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return NewWalletWithKey(t, n, k)
}

// NewWalletWithKey returns a wallet for key k on node n; with DefaultKey it
// owns the blocks RPCNode.Generate mines (see Rescan).
func NewWalletWithKey(t testing.TB, n *RPCNode, k *btcec.PrivateKey) *Wallet {
	t.Helper()
	params := n.Params
	if params == nil {
		params = &chaincfg.RegressionNetParams
	}
	h := address.Hash160(k.PubKey().SerializeCompressed())
	wa, err := address.NewAddressWitnessPubKeyHash(h, params)
	if err != nil {
		t.Fatal(err)
	}
	la, err := address.NewAddressPubKeyHash(h, params)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := txscript.PayToAddrScript(wa)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := txscript.PayToAddrScript(la)
	if err != nil {
		t.Fatal(err)
	}
	return &Wallet{
		Node: n, Key: k,
		Address: wa.EncodeAddress(), PkScript: ws,
		LegacyAddress: la.EncodeAddress(), LegacyPkScript: ls,
		utxos: make(map[wire.OutPoint]UTXO),
	}
}

func (w *Wallet) ours(script []byte) bool {
	return bytes.Equal(script, w.PkScript) || bytes.Equal(script, w.LegacyPkScript)
}

// MineBlock gets a template, builds a block with all its transactions and a
// coinbase paying to the wallet, submits it and checks that the node took it
// as its new tip. It returns the block.
func (w *Wallet) MineBlock(t testing.TB) *wire.MsgBlock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmpl, err := w.Node.GetBlockTemplate(ctx, "")
	if err != nil {
		t.Fatalf("%s node: getblocktemplate: %v", w.Node.Kind, err)
	}
	w.mu.Lock()
	w.extraNonce++
	en := w.extraNonce
	w.mu.Unlock()
	msg, err := NewBlock(tmpl, w.PkScript, en)
	if err != nil {
		t.Fatalf("%s node: build block at height %d: %v", w.Node.Kind, tmpl.Height, err)
	}
	res, err := w.Node.SubmitBlock(ctx, msg)
	if err != nil {
		t.Fatalf("%s node: submitblock at height %d: %v", w.Node.Kind, tmpl.Height, err)
	}
	if res != "" {
		t.Fatalf("%s node: submitblock at height %d: got %q, want null", w.Node.Kind, tmpl.Height, res)
	}
	if got, want := w.Node.BestBlockHash(t), msg.BlockHash().String(); got != want {
		t.Fatalf("%s node: best block after submit: got %s, want %s", w.Node.Kind, got, want)
	}
	w.addBlock(msg, tmpl.Height)
	return msg
}

// Mine mines count blocks with MineBlock.
func (w *Wallet) Mine(t testing.TB, count int) []*wire.MsgBlock {
	t.Helper()
	blocks := make([]*wire.MsgBlock, 0, count)
	for range count {
		blocks = append(blocks, w.MineBlock(t))
	}
	return blocks
}

// Fund mines 101 blocks to the wallet, so that the first coinbase is
// spendable in the next block.
func (w *Wallet) Fund(t testing.TB) {
	t.Helper()
	w.Mine(t, CoinbaseMaturity+1)
}

// addBlock records the block's outputs paying to the wallet.
func (w *Wallet) addBlock(msg *wire.MsgBlock, height int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, tx := range msg.Transactions {
		txid := tx.TxHash()
		for j, out := range tx.TxOut {
			if !w.ours(out.PkScript) {
				continue
			}
			u := UTXO{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(j)}, ValueSats: out.Value, PkScript: out.PkScript}
			if i == 0 {
				u.Coinbase, u.Height = true, height
			}
			w.utxos[u.OutPoint] = u
		}
		if i > 0 {
			for _, in := range tx.TxIn {
				delete(w.utxos, in.PreviousOutPoint)
			}
		}
	}
}

// Rescan reads every main-chain block (getblock verbosity 0) and records the
// outputs paying to the wallet, e.g. after RPCNode.Generate mined to
// DefaultAddress.
func (w *Wallet) Rescan(t testing.TB) {
	t.Helper()
	tip := w.Node.BlockCount(t)
	for h := int64(1); h <= tip; h++ {
		var hash, hexBlock string
		w.Node.MustDecode(t, &hash, "getblockhash", h)
		w.Node.MustDecode(t, &hexBlock, "getblock", hash, 0)
		b, err := hex.DecodeString(hexBlock)
		if err != nil {
			t.Fatal(err)
		}
		var msg wire.MsgBlock
		if err := msg.Deserialize(bytes.NewReader(b)); err != nil {
			t.Fatalf("getblock %s: %v", hash, err)
		}
		w.addBlock(&msg, h)
	}
}

// Spendable returns the outputs that can be spent in the next block, largest
// first: non-coinbase outputs (confirmed or not) and coinbases with 100
// confirmations.
func (w *Wallet) Spendable(t testing.TB) []UTXO {
	t.Helper()
	next := w.Node.BlockCount(t) + 1
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spendableLocked(next)
}

func (w *Wallet) spendableLocked(next int64) []UTXO {
	var us []UTXO
	for _, u := range w.utxos {
		if u.Coinbase && u.Height+CoinbaseMaturity > next {
			continue
		}
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b UTXO) int {
		if a.ValueSats != b.ValueSats {
			if a.ValueSats > b.ValueSats {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.OutPoint.Hash[:], b.OutPoint.Hash[:])
	})
	return us
}

// Balance is the sum of all recorded outputs, spendable or not.
func (w *Wallet) Balance() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s int64
	for _, u := range w.utxos {
		s += u.ValueSats
	}
	return s
}

// CreateTx builds and signs a transaction paying outs, with inputs chosen
// from the spendable outputs, a fee of feeRate sat/vB (estimated) and change
// to the wallet's P2WPKH script. The chosen inputs are reserved (removed
// from the wallet); Send records the new outputs.
func (w *Wallet) CreateTx(t testing.TB, outs []*wire.TxOut, feeRate int64) *wire.MsgTx {
	t.Helper()
	next := w.Node.BlockCount(t) + 1
	w.mu.Lock()
	defer w.mu.Unlock()
	var want int64
	for _, o := range outs {
		want += o.Value
	}
	tx := wire.NewMsgTx(2)
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	var in []UTXO
	var have int64
	fee := func() int64 { return feeRate * estimateVSize(in, len(outs)+1) }
	for _, u := range w.spendableLocked(next) {
		if have >= want+fee() && len(in) > 0 {
			break
		}
		in = append(in, u)
		have += u.ValueSats
	}
	if have < want+fee() {
		t.Fatalf("wallet: insufficient funds: have %d spendable sats, want %d + fee", have, want)
	}
	if change := have - want - fee(); change >= 1000 {
		tx.AddTxOut(wire.NewTxOut(change, w.PkScript))
	}
	for _, u := range in {
		tx.AddTxIn(wire.NewTxIn(&u.OutPoint, nil, nil))
		delete(w.utxos, u.OutPoint)
	}
	w.sign(t, tx, in)
	return tx
}

// estimateVSize overestimates a transaction's virtual size.
func estimateVSize(in []UTXO, nOut int) int64 {
	v := int64(11 + 34*nOut)
	for _, u := range in {
		if txscript.IsPayToWitnessPubKeyHash(u.PkScript) {
			v += 69
		} else {
			v += 149
		}
	}
	return v
}

// sign signs every input of tx; prev[i] is the output input i spends.
func (w *Wallet) sign(t testing.TB, tx *wire.MsgTx, prev []UTXO) {
	t.Helper()
	outs := make(map[wire.OutPoint]*wire.TxOut, len(prev))
	for _, u := range prev {
		outs[u.OutPoint] = wire.NewTxOut(u.ValueSats, u.PkScript)
	}
	hashes := txscript.NewTxSigHashes(tx, txscript.NewMultiPrevOutFetcher(outs))
	for i, u := range prev {
		if txscript.IsPayToWitnessPubKeyHash(u.PkScript) {
			wit, err := txscript.WitnessSignature(tx, hashes, i, u.ValueSats, u.PkScript, txscript.SigHashAll, w.Key, true)
			if err != nil {
				t.Fatalf("wallet: sign input %d: %v", i, err)
			}
			tx.TxIn[i].Witness = wit
			continue
		}
		sig, err := txscript.SignatureScript(tx, i, u.PkScript, txscript.SigHashAll, w.Key, true)
		if err != nil {
			t.Fatalf("wallet: sign input %d: %v", i, err)
		}
		tx.TxIn[i].SignatureScript = sig
	}
}

// Send submits tx with sendrawtransaction, checks the returned txid and
// records the outputs paying to the wallet.
func (w *Wallet) Send(t testing.TB, tx *wire.MsgTx) string {
	t.Helper()
	var txid string
	w.Node.MustDecode(t, &txid, "sendrawtransaction", TxHex(tx))
	if want := tx.TxHash().String(); txid != want {
		t.Fatalf("sendrawtransaction: got txid %s, want %s", txid, want)
	}
	w.AddTx(tx)
	return txid
}

// AddTx records tx's outputs paying to the wallet (unconfirmed) and forgets
// the outputs it spends.
func (w *Wallet) AddTx(tx *wire.MsgTx) {
	w.mu.Lock()
	defer w.mu.Unlock()
	txid := tx.TxHash()
	for _, in := range tx.TxIn {
		delete(w.utxos, in.PreviousOutPoint)
	}
	for j, out := range tx.TxOut {
		if w.ours(out.PkScript) {
			op := wire.OutPoint{Hash: txid, Index: uint32(j)}
			w.utxos[op] = UTXO{OutPoint: op, ValueSats: out.Value, PkScript: out.PkScript}
		}
	}
}

// SendTo creates and sends a transaction paying valueSats to pkScript at
// 10 sat/vB.
func (w *Wallet) SendTo(t testing.TB, pkScript []byte, valueSats int64) *wire.MsgTx {
	t.Helper()
	tx := w.CreateTx(t, []*wire.TxOut{wire.NewTxOut(valueSats, pkScript)}, 10)
	w.Send(t, tx)
	return tx
}

// SendTxs puts count new transactions into the node's mempool and returns
// them in dependency order: a fan-out transaction (a P2WPKH spend, so a
// witness transaction) with count-1 outputs alternating between the
// wallet's P2WPKH and P2PKH scripts, then one child per output, so the
// children alternate between witness spends and legacy (no-witness)
// spends. The wallet needs one spendable output of at least ~0.01 BTC per
// transaction (Fund provides 50 BTC).
func (w *Wallet) SendTxs(t testing.TB, count int) []*wire.MsgTx {
	t.Helper()
	if count <= 0 {
		return nil
	}
	const each = 1_000_000 // sats per fan-out output
	outs := make([]*wire.TxOut, 0, count-1)
	for i := range count - 1 {
		script := w.PkScript
		if i%2 == 1 {
			script = w.LegacyPkScript
		}
		outs = append(outs, wire.NewTxOut(each, script))
	}
	if len(outs) == 0 {
		outs = append(outs, wire.NewTxOut(each, w.PkScript))
	}
	parent := w.CreateTx(t, outs, 10)
	w.Send(t, parent)
	txs := []*wire.MsgTx{parent}
	pid := parent.TxHash()
	for i := range count - 1 {
		u := UTXO{OutPoint: wire.OutPoint{Hash: pid, Index: uint32(i)}, ValueSats: each, PkScript: outs[i].PkScript}
		w.mu.Lock()
		delete(w.utxos, u.OutPoint)
		w.mu.Unlock()
		child := wire.NewMsgTx(2)
		child.AddTxIn(wire.NewTxIn(&u.OutPoint, nil, nil))
		child.AddTxOut(wire.NewTxOut(each-int64(i+2)*300, w.PkScript)) // distinct fees
		w.sign(t, child, []UTXO{u})
		w.Send(t, child)
		txs = append(txs, child)
	}
	return txs
}

// Mempool returns getrawmempool's txids.
func (n *RPCNode) Mempool(t testing.TB) []string {
	t.Helper()
	var ids []string
	raw := n.MustCall(t, "getrawmempool")
	if err := json.Unmarshal(raw, &ids); err != nil {
		t.Fatalf("getrawmempool %s: %v", raw, err)
	}
	return ids
}
