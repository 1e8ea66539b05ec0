package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
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
	for _, parse := range []func(*Template, *gbtReply) error{parseHeaderFields, parseTimes, parseValue, parseExtras, parseTxs} {
		if err := parse(t, &r); err != nil {
			return nil, err
		}
	}
	for _, rule := range t.Rules {
		if strings.TrimPrefix(rule, "!") == "segwit" {
			t.Segwit = true
		}
	}
	t.Segwit = t.Segwit || t.WitnessCommitment != nil
	return t, nil
}

// reason is what a btc helper's error says about its input.
func reason(err error) string {
	if fe, ok := errors.AsType[*btc.FieldError](err); ok {
		return fe.Reason
	}
	return err.Error()
}

// parseHeaderFields reads version, previousblockhash, bits and target
// (which must agree with bits).
func parseHeaderFields(t *Template, r *gbtReply) error {
	if r.Version == nil {
		return &TemplateError{Field: "version", Reason: "missing"}
	}
	if *r.Version < 0 || *r.Version > 0xffffffff {
		return &TemplateError{Field: "version", Reason: "out of range"}
	}
	t.Version = uint32(*r.Version)
	if r.PreviousBlockHash == nil {
		return &TemplateError{Field: "previousblockhash", Reason: "missing"}
	}
	h, err := btc.ParseHash("previousblockhash", *r.PreviousBlockHash)
	if err != nil {
		return &TemplateError{Field: "previousblockhash", Reason: reason(err)}
	}
	t.PrevHash = h
	if r.Bits == nil {
		return &TemplateError{Field: "bits", Reason: "missing"}
	}
	bits, err := strconv.ParseUint(*r.Bits, 16, 32)
	if err != nil {
		return &TemplateError{Field: "bits", Reason: "not 32-bit hex"}
	}
	t.Bits = uint32(bits)
	if t.Target, err = btc.CompactToTarget(t.Bits); err != nil {
		return &TemplateError{Field: "bits", Reason: reason(err)}
	}
	if r.Target != "" {
		tg, err := btc.ParseHash("target", r.Target)
		if err != nil {
			return &TemplateError{Field: "target", Reason: reason(err)}
		}
		if tg != t.Target {
			return &TemplateError{Field: "target", Reason: fmt.Sprintf("%s does not match bits %08x", r.Target, t.Bits)}
		}
	}
	return nil
}

// parseTimes reads curtime, mintime (default curtime) and maxtime.
func parseTimes(t *Template, r *gbtReply) error {
	if r.CurTime == nil {
		return &TemplateError{Field: "curtime", Reason: "missing"}
	}
	if *r.CurTime <= 0 || *r.CurTime > 0xffffffff {
		return &TemplateError{Field: "curtime", Reason: "out of range"}
	}
	t.CurTime = uint32(*r.CurTime)
	if r.MinTime < 0 || r.MinTime > 0xffffffff || r.MaxTime < 0 || r.MaxTime > 0xffffffff {
		return &TemplateError{Field: "mintime", Reason: "out of range"}
	}
	t.MinTime, t.MaxTime = uint32(r.MinTime), uint32(r.MaxTime)
	if t.MinTime == 0 {
		t.MinTime = t.CurTime
	}
	return nil
}

// parseValue reads height and coinbasevalue.
func parseValue(t *Template, r *gbtReply) error {
	if r.Height == nil {
		return &TemplateError{Field: "height", Reason: "missing"}
	}
	if *r.Height < 0 || *r.Height > 0x7fffffff {
		return &TemplateError{Field: "height", Reason: "out of range"}
	}
	t.Height = *r.Height
	if r.CoinbaseValue == nil {
		return &TemplateError{Field: "coinbasevalue", Reason: "missing (node answered in coinbasetxn mode?)"}
	}
	if *r.CoinbaseValue < 0 || *r.CoinbaseValue > 21e6*1e8 {
		return &TemplateError{Field: "coinbasevalue", Reason: "out of range"}
	}
	t.CoinbaseValueSats = *r.CoinbaseValue
	return nil
}

// parseExtras reads default_witness_commitment and coinbaseaux.flags.
func parseExtras(t *Template, r *gbtReply) error {
	if r.DefaultWitnessCommitment != "" {
		raw, err := hex.DecodeString(r.DefaultWitnessCommitment)
		if err != nil {
			return &TemplateError{Field: "default_witness_commitment", Reason: "not hex"}
		}
		if t.WitnessCommitment, err = btc.NormalizeCommitment(raw); err != nil {
			return &TemplateError{Field: "default_witness_commitment", Reason: reason(err)}
		}
	}
	if len(r.CoinbaseAux) > 0 && string(r.CoinbaseAux) != "null" {
		var aux struct {
			Flags string `json:"flags"`
		}
		if err := json.Unmarshal(r.CoinbaseAux, &aux); err != nil {
			return &TemplateError{Field: "coinbaseaux", Reason: err.Error()}
		}
		if aux.Flags != "" {
			var err error
			if t.CoinbaseAuxFlags, err = hex.DecodeString(aux.Flags); err != nil {
				return &TemplateError{Field: "coinbaseaux.flags", Reason: "not hex"}
			}
		}
	}
	return nil
}

// parseTxs reads the transactions; one with a witness makes the template
// segwit.
func parseTxs(t *Template, r *gbtReply) error {
	t.Txs = make([]TemplateTx, len(r.Transactions))
	for i, gt := range r.Transactions {
		tx, err := parseTx(gt)
		if err != nil {
			return &TemplateError{Field: fmt.Sprintf("transactions[%d]", i), Reason: err.Error()}
		}
		t.Segwit = t.Segwit || tx.Witness
		t.Txs[i] = tx
	}
	return nil
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
		id, err := btc.ParseHash("txid", gt.TxID)
		if err != nil {
			return TemplateTx{}, fmt.Errorf("txid: %s", reason(err))
		}
		if id != tx.TxID {
			return TemplateTx{}, fmt.Errorf("txid %s does not match data", gt.TxID)
		}
	}
	if gt.Hash != "" {
		id, err := btc.ParseHash("hash", gt.Hash)
		if err != nil {
			return TemplateTx{}, fmt.Errorf("hash: %s", reason(err))
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
