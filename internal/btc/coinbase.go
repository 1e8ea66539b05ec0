package btc

import (
	"bytes"
	"math"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Coinbase limits and fixed fields.
const (
	// MinScriptSigLen and MaxScriptSigLen bound a coinbase scriptSig
	// (consensus "bad-cb-length").
	MinScriptSigLen = 2
	MaxScriptSigLen = 100
	// CoinbaseVersion is the transaction version of built coinbases.
	CoinbaseVersion = 2
	// CoinbaseSequence is the coinbase input's nSequence
	// (MAX_SEQUENCE_NONFINAL, as Bitcoin Core's miner and BIP54).
	CoinbaseSequence = 0xfffffffe
	// MaxValueSats is the largest amount an output may carry (21e6 BTC).
	MaxValueSats = 21_000_000 * 100_000_000
)

// CoinbaseConfig describes the coinbase transaction of a block template.
type CoinbaseConfig struct {
	Height            int64  // block height (BIP34); 0..2^32-1
	ValueSats         int64  // paid to PayoutScript: subsidy + fees from the template
	PayoutScript      []byte // output script, e.g. from PayoutScript; required
	WitnessCommitment []byte // full output script (6a24aa21a9ed…, 38 bytes), the bare 32-byte hash, or nil
	Tag               []byte // pool tag, raw bytes in the scriptSig
	AuxFlags          []byte // optional coinbaseaux.flags bytes, raw, before Tag
	Extranonce1Size   int    // bytes of extranonce1 in the slot; >= 0
	Extranonce2Size   int    // bytes of extranonce2 in the slot; >= 0
}

// Coinbase is a coinbase transaction in non-witness serialization, split at
// the extranonce slot: the full transaction is
// Coinb1 ‖ extranonce1 ‖ extranonce2 ‖ Coinb2.
type Coinbase struct {
	Coinb1, Coinb2 []byte
}

// HeightScript returns the canonical BIP34 push of height, as Bitcoin
// Core's CScript() << nHeight: OP_0 for 0, OP_1..OP_16 for 1..16, else a
// minimal little-endian sign-magnitude (CScriptNum) push.
func HeightScript(height int64) ([]byte, error) {
	if height < 0 || height > math.MaxUint32 {
		return nil, fieldErr("Height", "%d out of range [0, 2^32-1]", height)
	}
	return txscript.NewScriptBuilder().AddInt64(height).Script()
}

// BuildCoinbase builds the coinbase transaction described by cfg: version
// 2, one input (null prevout, nSequence 0xfffffffe) whose scriptSig is
// height push ‖ [OP_0 pad to 2 bytes] ‖ AuxFlags ‖ Tag ‖ extranonce slot,
// an output of ValueSats to PayoutScript, the witness commitment output
// (value 0) last when cfg.WitnessCommitment is set, and nLockTime =
// Height-1 (0 at height 0). Invalid configuration yields a *FieldError
// naming the field; a scriptSig outside 2..100 bytes names "scriptSig".
func BuildCoinbase(cfg CoinbaseConfig) (Coinbase, error) {
	heightPush, err := HeightScript(cfg.Height)
	if err != nil {
		return Coinbase{}, err
	}
	if cfg.ValueSats < 0 || cfg.ValueSats > MaxValueSats {
		return Coinbase{}, fieldErr("ValueSats", "%d out of range [0, %d]", cfg.ValueSats, int64(MaxValueSats))
	}
	if len(cfg.PayoutScript) == 0 {
		return Coinbase{}, fieldErr("PayoutScript", "empty")
	}
	if len(cfg.PayoutScript) > txscript.MaxScriptSize {
		return Coinbase{}, fieldErr("PayoutScript", "%d bytes, more than %d", len(cfg.PayoutScript), txscript.MaxScriptSize)
	}
	commitment, err := NormalizeCommitment(cfg.WitnessCommitment)
	if err != nil {
		return Coinbase{}, err
	}
	if cfg.Extranonce1Size < 0 || cfg.Extranonce1Size > MaxScriptSigLen {
		return Coinbase{}, fieldErr("Extranonce1Size", "%d out of range [0, %d]", cfg.Extranonce1Size, MaxScriptSigLen)
	}
	if cfg.Extranonce2Size < 0 || cfg.Extranonce2Size > MaxScriptSigLen {
		return Coinbase{}, fieldErr("Extranonce2Size", "%d out of range [0, %d]", cfg.Extranonce2Size, MaxScriptSigLen)
	}
	slot := cfg.Extranonce1Size + cfg.Extranonce2Size
	prefixLen := len(heightPush) + len(cfg.AuxFlags) + len(cfg.Tag)
	pad := 0
	if prefixLen+slot < MinScriptSigLen {
		pad = MinScriptSigLen - prefixLen - slot
	}
	sigLen := prefixLen + pad + slot
	if sigLen > MaxScriptSigLen {
		return Coinbase{}, fieldErr("scriptSig", "%d bytes (height push %d + aux flags %d + tag %d + extranonce %d), more than %d",
			sigLen, len(heightPush), len(cfg.AuxFlags), len(cfg.Tag), slot, MaxScriptSigLen)
	}

	sig := make([]byte, 0, sigLen)
	sig = append(sig, heightPush...)
	for range pad {
		sig = append(sig, txscript.OP_0)
	}
	sig = append(sig, cfg.AuxFlags...)
	sig = append(sig, cfg.Tag...)
	slotAt := len(sig)
	sig = sig[:sigLen] // extranonce slot, zero-filled

	lockTime := uint32(0)
	if cfg.Height > 0 {
		lockTime = uint32(cfg.Height - 1)
	}
	tx := wire.MsgTx{
		Version: CoinbaseVersion,
		TxIn: []*wire.TxIn{{
			PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{}, Index: wire.MaxPrevOutIndex},
			SignatureScript:  sig,
			Sequence:         CoinbaseSequence,
		}},
		TxOut:    []*wire.TxOut{{Value: cfg.ValueSats, PkScript: cfg.PayoutScript}},
		LockTime: lockTime,
	}
	if commitment != nil {
		tx.TxOut = append(tx.TxOut, &wire.TxOut{Value: 0, PkScript: commitment})
	}
	var buf bytes.Buffer
	buf.Grow(tx.SerializeSizeStripped())
	if err := tx.SerializeNoWitness(&buf); err != nil {
		return Coinbase{}, &FieldError{Field: "coinbase", Reason: "serialize", Err: err}
	}
	raw := buf.Bytes()
	// version(4) ‖ input count(1) ‖ prevout(36) ‖ varint(len sig) ‖ sig…
	split := 4 + 1 + 36 + wire.VarIntSerializeSize(uint64(sigLen)) + slotAt
	return Coinbase{
		Coinb1: raw[:split:split],
		Coinb2: raw[split+slot:],
	}, nil
}
