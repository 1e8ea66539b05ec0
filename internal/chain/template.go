package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/wire/v2"
)

// Template is a decoded, checked getblocktemplate reply. All hashes and the
// target are in internal byte order (the raw SHA-256d output order). A
// Template is immutable once returned.
type Template struct {
	Version           uint32
	PrevHash          [32]byte
	Bits              uint32
	CurTime, MinTime  uint32
	MaxTime           uint32 // 0 when the node does not send it (Core)
	Height            int64
	CoinbaseValueSats int64
	Txs               []TemplateTx
	// WitnessCommitment is the node's default_witness_commitment
	// normalised to the full output script (6a24aa21a9ed‖hash), or nil when
	// absent. Informational: job recomputes it from the wtxids.
	WitnessCommitment []byte
	// Segwit reports whether the block must carry a witness commitment:
	// Core lists "segwit" in rules; btcd sends no rules but a commitment
	// whenever a witness tx is present.
	Segwit     bool
	Rules      []string // Core only
	LongPollID string
	Target     [32]byte
	// CoinbaseAuxFlags is coinbaseaux.flags decoded (btcd: a push of
	// "/P2SH/btcd/"); nil when absent.
	CoinbaseAuxFlags []byte
}

// TemplateTx is one non-coinbase transaction of a template, in block order.
type TemplateTx struct {
	Data    []byte   // raw serialization as given (witness form if it has a witness)
	TxID    [32]byte // sha256d of the non-witness serialization
	WTxID   [32]byte // sha256d of the witness serialization (= TxID without witness)
	Fee     int64    // satoshis; 0 when the node omits it
	Witness bool     // the tx carries witness data
}

// TemplateError says which field of a template reply is missing or wrong.
type TemplateError struct {
	Field  string
	Reason string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("chain: getblocktemplate: field %s: %s", e.Field, e.Reason)
}

type gbtReply struct {
	Version                  *int64          `json:"version"`
	PreviousBlockHash        *string         `json:"previousblockhash"`
	Bits                     *string         `json:"bits"`
	CurTime                  *int64          `json:"curtime"`
	MinTime                  int64           `json:"mintime"`
	MaxTime                  int64           `json:"maxtime"`
	Height                   *int64          `json:"height"`
	CoinbaseValue            *int64          `json:"coinbasevalue"`
	Transactions             []gbtTx         `json:"transactions"`
	DefaultWitnessCommitment string          `json:"default_witness_commitment"`
	Rules                    []string        `json:"rules"`
	LongPollID               string          `json:"longpollid"`
	Target                   string          `json:"target"`
	CoinbaseAux              json.RawMessage `json:"coinbaseaux"`
}

type gbtTx struct {
	Data string `json:"data"`
	TxID string `json:"txid"`
	Hash string `json:"hash"`
	Fee  *int64 `json:"fee"`
}

// ParseTemplate decodes and checks a getblocktemplate result (the JSON
// value of "result"). It accepts both the Core and the btcd dialect.
func ParseTemplate(result []byte) (*Template, error) {
	var r gbtReply
	if err := json.Unmarshal(result, &r); err != nil {
		return nil, &TemplateError{Field: "result", Reason: err.Error()}
	}
	t := &Template{Rules: r.Rules, LongPollID: r.LongPollID}
	if r.Version == nil {
		return nil, &TemplateError{Field: "version", Reason: "missing"}
	}
	if *r.Version < 0 || *r.Version > 0xffffffff {
		return nil, &TemplateError{Field: "version", Reason: "out of range"}
	}
	t.Version = uint32(*r.Version)
	if r.PreviousBlockHash == nil {
		return nil, &TemplateError{Field: "previousblockhash", Reason: "missing"}
	}
	h, err := ParseHash(*r.PreviousBlockHash)
	if err != nil {
		return nil, &TemplateError{Field: "previousblockhash", Reason: err.Error()}
	}
	t.PrevHash = h
	if r.Bits == nil {
		return nil, &TemplateError{Field: "bits", Reason: "missing"}
	}
	bits, err := strconv.ParseUint(*r.Bits, 16, 32)
	if err != nil {
		return nil, &TemplateError{Field: "bits", Reason: "not 32-bit hex"}
	}
	t.Bits = uint32(bits)
	bitsTarget, err := compactToTarget(t.Bits)
	if err != nil {
		return nil, &TemplateError{Field: "bits", Reason: err.Error()}
	}
	if r.CurTime == nil {
		return nil, &TemplateError{Field: "curtime", Reason: "missing"}
	}
	if *r.CurTime <= 0 || *r.CurTime > 0xffffffff {
		return nil, &TemplateError{Field: "curtime", Reason: "out of range"}
	}
	t.CurTime = uint32(*r.CurTime)
	if r.MinTime < 0 || r.MinTime > 0xffffffff || r.MaxTime < 0 || r.MaxTime > 0xffffffff {
		return nil, &TemplateError{Field: "mintime", Reason: "out of range"}
	}
	t.MinTime, t.MaxTime = uint32(r.MinTime), uint32(r.MaxTime)
	if t.MinTime == 0 {
		t.MinTime = t.CurTime
	}
	if r.Height == nil {
		return nil, &TemplateError{Field: "height", Reason: "missing"}
	}
	if *r.Height < 0 || *r.Height > 0x7fffffff {
		return nil, &TemplateError{Field: "height", Reason: "out of range"}
	}
	t.Height = *r.Height
	if r.CoinbaseValue == nil {
		return nil, &TemplateError{Field: "coinbasevalue", Reason: "missing (node answered in coinbasetxn mode?)"}
	}
	if *r.CoinbaseValue < 0 || *r.CoinbaseValue > 21e6*1e8 {
		return nil, &TemplateError{Field: "coinbasevalue", Reason: "out of range"}
	}
	t.CoinbaseValueSats = *r.CoinbaseValue
	if r.Target != "" {
		tg, err := ParseHash(r.Target)
		if err != nil {
			return nil, &TemplateError{Field: "target", Reason: err.Error()}
		}
		if tg != bitsTarget {
			return nil, &TemplateError{Field: "target", Reason: fmt.Sprintf("%s does not match bits %08x", r.Target, t.Bits)}
		}
	}
	t.Target = bitsTarget
	if r.DefaultWitnessCommitment != "" {
		raw, err := hex.DecodeString(r.DefaultWitnessCommitment)
		if err != nil {
			return nil, &TemplateError{Field: "default_witness_commitment", Reason: "not hex"}
		}
		t.WitnessCommitment, err = normalizeCommitment(raw)
		if err != nil {
			return nil, &TemplateError{Field: "default_witness_commitment", Reason: err.Error()}
		}
	}
	if len(r.CoinbaseAux) > 0 && string(r.CoinbaseAux) != "null" {
		var aux struct {
			Flags string `json:"flags"`
		}
		if err := json.Unmarshal(r.CoinbaseAux, &aux); err != nil {
			return nil, &TemplateError{Field: "coinbaseaux", Reason: err.Error()}
		}
		if aux.Flags != "" {
			if t.CoinbaseAuxFlags, err = hex.DecodeString(aux.Flags); err != nil {
				return nil, &TemplateError{Field: "coinbaseaux.flags", Reason: "not hex"}
			}
		}
	}
	t.Txs = make([]TemplateTx, len(r.Transactions))
	anyWitness := false
	for i, gt := range r.Transactions {
		tx, err := parseTx(gt)
		if err != nil {
			return nil, &TemplateError{Field: fmt.Sprintf("transactions[%d]", i), Reason: err.Error()}
		}
		anyWitness = anyWitness || tx.Witness
		t.Txs[i] = tx
	}
	for _, rule := range t.Rules {
		if strings.TrimPrefix(rule, "!") == "segwit" {
			t.Segwit = true
		}
	}
	t.Segwit = t.Segwit || t.WitnessCommitment != nil || anyWitness
	return t, nil
}

func parseTx(gt gbtTx) (TemplateTx, error) {
	data, err := hex.DecodeString(gt.Data)
	if err != nil || len(data) == 0 {
		return TemplateTx{}, errors.New("data: not hex")
	}
	var msg wire.MsgTx
	if err := msg.Deserialize(bytes.NewReader(data)); err != nil {
		return TemplateTx{}, fmt.Errorf("data: %v", err)
	}
	tx := TemplateTx{
		Data:    data,
		TxID:    msg.TxHash(),
		WTxID:   msg.WitnessHash(),
		Witness: msg.HasWitness(),
	}
	if gt.TxID != "" {
		id, err := ParseHash(gt.TxID)
		if err != nil {
			return TemplateTx{}, fmt.Errorf("txid: %v", err)
		}
		if id != tx.TxID {
			return TemplateTx{}, fmt.Errorf("txid %s does not match data", gt.TxID)
		}
	}
	if gt.Hash != "" {
		id, err := ParseHash(gt.Hash)
		if err != nil {
			return TemplateTx{}, fmt.Errorf("hash: %v", err)
		}
		if id != tx.WTxID {
			return TemplateTx{}, fmt.Errorf("hash (wtxid) %s does not match data", gt.Hash)
		}
	}
	if gt.Fee != nil {
		tx.Fee = *gt.Fee
	}
	return tx, nil
}

// witnessMagic prefixes a witness commitment output script (BIP141):
// OP_RETURN, push 36, aa21a9ed.
var witnessMagic = []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}

// normalizeCommitment turns btcd's bare 32-byte commitment or Core's
// 38-byte script into the full script.
func normalizeCommitment(raw []byte) ([]byte, error) {
	switch {
	case len(raw) == 32:
		return append(bytes.Clone(witnessMagic), raw...), nil
	case len(raw) == 38 && bytes.HasPrefix(raw, witnessMagic):
		return bytes.Clone(raw), nil
	default:
		return nil, fmt.Errorf("%d bytes, want a 32-byte hash or a 38-byte 6a24aa21a9ed script", len(raw))
	}
}

// ParseHash decodes a 64-digit display-order hex hash (as RPC prints
// block hashes, txids and targets) into internal byte order.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q: not hex", s)
	}
	for i := range 32 {
		h[i] = b[31-i]
	}
	return h, nil
}

// HashString formats an internal-order hash in display order.
func HashString(h [32]byte) string {
	var b [32]byte
	for i := range 32 {
		b[i] = h[31-i]
	}
	return hex.EncodeToString(b[:])
}

// compactToTarget expands compact bits into an internal-order target.
func compactToTarget(bits uint32) ([32]byte, error) {
	var t [32]byte
	if bits&0x00800000 != 0 {
		return t, errors.New("negative compact target")
	}
	mant := int64(bits & 0x007fffff)
	exp := int(bits >> 24)
	if mant == 0 {
		return t, errors.New("zero compact target")
	}
	n := big.NewInt(mant)
	if exp <= 3 {
		n.Rsh(n, uint(8*(3-exp)))
	} else {
		n.Lsh(n, uint(8*(exp-3)))
	}
	if n.BitLen() > 256 || n.Sign() == 0 {
		return t, errors.New("compact target out of range")
	}
	be := n.FillBytes(make([]byte, 32))
	for i := range 32 {
		t[i] = be[31-i]
	}
	return t, nil
}
