package nodetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Template is a parsed getblocktemplate result (Core or btcd dialect).
type Template struct {
	Raw               map[string]json.RawMessage // every field as sent
	Version           int32
	PrevHash          chainhash.Hash
	Bits              uint32
	CurTime, MinTime  int64
	Height            int64
	CoinbaseValueSats int64
	Txs               []*wire.MsgTx
	TxFees            []int64
	TxDepends         [][]int
	WitnessCommitment []byte // default_witness_commitment as sent (32 or 38 bytes); nil if absent
	LongPollID        string
	Target            string
}

// ParseTemplate decodes a getblocktemplate result.
func ParseTemplate(raw json.RawMessage) (*Template, error) {
	var f struct {
		Version           int32  `json:"version"`
		PreviousBlockHash string `json:"previousblockhash"`
		Bits              string `json:"bits"`
		CurTime           int64  `json:"curtime"`
		MinTime           int64  `json:"mintime"`
		Height            int64  `json:"height"`
		CoinbaseValue     int64  `json:"coinbasevalue"`
		DWC               string `json:"default_witness_commitment"`
		LongPollID        string `json:"longpollid"`
		Target            string `json:"target"`
		Transactions      []struct {
			Data    string `json:"data"`
			TxID    string `json:"txid"`
			Hash    string `json:"hash"`
			Fee     int64  `json:"fee"`
			Depends []int  `json:"depends"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("nodetest: decode template: %w", err)
	}
	t := &Template{
		Version: f.Version, CurTime: f.CurTime, MinTime: f.MinTime, Height: f.Height,
		CoinbaseValueSats: f.CoinbaseValue, LongPollID: f.LongPollID, Target: f.Target,
	}
	if err := json.Unmarshal(raw, &t.Raw); err != nil {
		return nil, err
	}
	h, err := chainhash.NewHashFromStr(f.PreviousBlockHash)
	if err != nil {
		return nil, fmt.Errorf("nodetest: template previousblockhash: %w", err)
	}
	t.PrevHash = *h
	bits, err := strconv.ParseUint(f.Bits, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("nodetest: template bits %q: %w", f.Bits, err)
	}
	t.Bits = uint32(bits)
	if f.DWC != "" {
		if t.WitnessCommitment, err = hex.DecodeString(f.DWC); err != nil {
			return nil, fmt.Errorf("nodetest: default_witness_commitment: %w", err)
		}
	}
	for i, tx := range f.Transactions {
		b, err := hex.DecodeString(tx.Data)
		if err != nil {
			return nil, fmt.Errorf("nodetest: template tx %d: %w", i, err)
		}
		var m wire.MsgTx
		if err := m.Deserialize(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("nodetest: template tx %d: %w", i, err)
		}
		if got := m.TxHash().String(); got != tx.TxID {
			return nil, fmt.Errorf("nodetest: template tx %d: txid %s, data hashes to %s", i, tx.TxID, got)
		}
		if got := m.WitnessHash().String(); tx.Hash != "" && got != tx.Hash {
			return nil, fmt.Errorf("nodetest: template tx %d: hash %s, data hashes to wtxid %s", i, tx.Hash, got)
		}
		t.Txs = append(t.Txs, &m)
		t.TxFees = append(t.TxFees, tx.Fee)
		t.TxDepends = append(t.TxDepends, tx.Depends)
	}
	return t, nil
}

// GetBlockTemplate calls getblocktemplate with rules ["segwit"] (and the
// longpollid if not empty).
func (n *RPCNode) GetBlockTemplate(ctx context.Context, longPollID string) (*Template, error) {
	req := map[string]any{"rules": []string{"segwit"}, "capabilities": []string{"coinbasevalue", "longpoll", "proposal"}}
	if longPollID != "" {
		req["longpollid"] = longPollID
	}
	raw, err := n.Call(ctx, "getblocktemplate", req)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(raw)
}

// CoinbaseTx builds a coinbase in Core's style: BIP34 height push (minimal,
// OP_1..OP_16 for small heights), an extranonce and a tag in the scriptSig,
// nSequence 0xfffffffe, nLockTime height-1, one output paying valueSats to
// payScript, the witness commitment output last if commitment is not nil,
// and the 32-byte zero witness reserved value.
func CoinbaseTx(height, valueSats int64, payScript []byte, extraNonce int64, commitment []byte) *wire.MsgTx {
	sig, err := txscript.NewScriptBuilder().AddInt64(height).AddInt64(extraNonce).AddData([]byte("/nodetest/")).Script()
	if err != nil {
		panic(err) // cannot fail for these sizes
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  sig,
		Sequence:         wire.MaxTxInSequenceNum - 1,
	})
	tx.AddTxOut(wire.NewTxOut(valueSats, payScript))
	if commitment != nil {
		tx.AddTxOut(wire.NewTxOut(0, commitment))
		tx.TxIn[0].Witness = wire.TxWitness{make([]byte, blockchain.CoinbaseWitnessDataLen)}
	}
	if height > 0 {
		tx.LockTime = uint32(height - 1)
	}
	return tx
}

// WitnessCommitmentScript returns the coinbase output script committing to
// the wtxids of txs (the non-coinbase transactions), with a zero witness
// reserved value: 6a24aa21a9ed || sha256d(witness root || 32 zero bytes).
func WitnessCommitmentScript(txs []*wire.MsgTx) []byte {
	all := make([]*btcutil.Tx, 0, len(txs)+1)
	all = append(all, btcutil.NewTx(wire.NewMsgTx(1))) // coinbase: wtxid counts as zero
	for _, tx := range txs {
		all = append(all, btcutil.NewTx(tx))
	}
	root := blockchain.CalcMerkleRoot(all, true)
	var pre [64]byte
	copy(pre[:32], root[:])
	return append(append([]byte(nil), blockchain.WitnessMagicBytes...), chainhash.DoubleHashB(pre[:])...)
}

// NormalizeCommitment turns a default_witness_commitment (btcd's bare 32-byte
// hash or Core's 38-byte script) into the output script.
func NormalizeCommitment(raw []byte) ([]byte, error) {
	switch {
	case len(raw) == 32:
		return append(append([]byte(nil), blockchain.WitnessMagicBytes...), raw...), nil
	case len(raw) == 38 && bytes.HasPrefix(raw, blockchain.WitnessMagicBytes):
		return raw, nil
	}
	return nil, fmt.Errorf("nodetest: witness commitment of %d bytes %x", len(raw), raw)
}

// NewBlock assembles and solves a block from tmpl with all its transactions
// and a coinbase paying the template's coinbasevalue to payScript. It always
// adds a witness commitment (as Core does on segwit chains) and, when the
// template sent one, checks that it equals the one computed here.
func NewBlock(tmpl *Template, payScript []byte, extraNonce int64) (*wire.MsgBlock, error) {
	commitment := WitnessCommitmentScript(tmpl.Txs)
	if tmpl.WitnessCommitment != nil {
		got, err := NormalizeCommitment(tmpl.WitnessCommitment)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, commitment) {
			return nil, fmt.Errorf("nodetest: template witness commitment %x, computed %x", got, commitment)
		}
	}
	cb := CoinbaseTx(tmpl.Height, tmpl.CoinbaseValueSats, payScript, extraNonce, commitment)
	msg := &wire.MsgBlock{Header: wire.BlockHeader{
		Version:   tmpl.Version,
		PrevBlock: tmpl.PrevHash,
		Timestamp: unixTime(tmpl.CurTime),
		Bits:      tmpl.Bits,
	}}
	msg.AddTransaction(cb)
	for _, tx := range tmpl.Txs {
		msg.AddTransaction(tx)
	}
	SetMerkleRoot(msg)
	if err := Solve(&msg.Header); err != nil {
		return nil, err
	}
	return msg, nil
}

// SetMerkleRoot recomputes the header's merkle root from the transactions.
func SetMerkleRoot(msg *wire.MsgBlock) {
	txs := make([]*btcutil.Tx, len(msg.Transactions))
	for i, tx := range msg.Transactions {
		txs[i] = btcutil.NewTx(tx)
	}
	msg.Header.MerkleRoot = blockchain.CalcMerkleRoot(txs, false)
}

// Solve searches nonces until the header hash meets its bits (about two
// tries on regtest).
func Solve(h *wire.BlockHeader) error {
	target := blockchain.CompactToBig(h.Bits)
	for nonce := uint64(0); nonce <= 0xffffffff; nonce++ {
		h.Nonce = uint32(nonce)
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return nil
		}
	}
	return errors.New("nodetest: no nonce solves the header")
}

// Unsolve changes the nonce until the header hash does NOT meet its bits.
func Unsolve(h *wire.BlockHeader) {
	target := blockchain.CompactToBig(h.Bits)
	for {
		h.Nonce++
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) > 0 {
			return
		}
	}
}

// BlockHex serializes a block (with witness data) as hex.
func BlockHex(msg *wire.MsgBlock) string {
	var b bytes.Buffer
	if err := msg.Serialize(&b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b.Bytes())
}

// TxHex serializes a transaction (with witness data) as hex.
func TxHex(tx *wire.MsgTx) string {
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b.Bytes())
}

// SubmitBlock calls submitblock and returns its result: "" for null (accepted),
// otherwise the result string (e.g. "duplicate", a reject reason, or btcd's
// "rejected: …").
func (n *RPCNode) SubmitBlock(ctx context.Context, msg *wire.MsgBlock) (string, error) {
	raw, err := n.Call(ctx, "submitblock", BlockHex(msg))
	if err != nil {
		return "", err
	}
	if string(raw) == "null" || len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("nodetest: submitblock result %s: %w", raw, err)
	}
	if s == "" {
		s = "rejected" // never "" for a rejection
	}
	return s, nil
}

func unixTime(s int64) time.Time { return time.Unix(s, 0) }
