package btc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzBuildCoinbase checks that every coinbase BuildCoinbase accepts parses
// with btcd's wire.MsgTx, starts its scriptSig with the height push, keeps
// the extranonce exactly at len(Coinb1), and survives SerializeBlock's
// witness form; and that every rejection is a *FieldError.
func FuzzBuildCoinbase(f *testing.F) {
	f.Add(int64(2442185), int64(50e8), []byte(`\public-pool\`), []byte{}, uint8(4), uint8(8), uint8(1), byte(0xa5))
	f.Add(int64(0), int64(0), []byte{}, []byte{}, uint8(0), uint8(0), uint8(0), byte(0))
	f.Add(int64(1), int64(1), []byte{}, []byte{}, uint8(0), uint8(1), uint8(2), byte(1))
	f.Add(int64(16), int64(MaxValueSats), []byte("tag"), []byte{0x0b}, uint8(4), uint8(4), uint8(3), byte(2))
	f.Add(int64(1<<31), int64(5), bytes.Repeat([]byte{'x'}, 83), []byte{}, uint8(4), uint8(8), uint8(4), byte(3))
	f.Add(int64(-1), int64(-5), []byte{}, []byte{}, uint8(200), uint8(200), uint8(5), byte(4))
	f.Fuzz(func(t *testing.T, height, value int64, tag, aux []byte, en1Size, en2Size, kind uint8, fill byte) {
		cfg := CoinbaseConfig{
			Height: height, ValueSats: value, Tag: tag, AuxFlags: aux,
			Extranonce1Size: int(en1Size), Extranonce2Size: int(en2Size),
		}
		switch kind % 6 {
		case 0:
			cfg.PayoutScript = p2wpkhScript
		case 1:
			cfg.PayoutScript = p2wpkhScript
			cfg.WitnessCommitment = WitnessCommitmentScript(nil)
		case 2:
			cfg.PayoutScript = bytes.Repeat([]byte{fill}, 1+int(fill))
			c := WitnessCommitment([][32]byte{{fill}})
			cfg.WitnessCommitment = c[:]
		case 3:
			cfg.PayoutScript = append([]byte{0x51, 0x20}, bytes.Repeat([]byte{fill}, 32)...)
		case 4:
			cfg.PayoutScript = nil
		case 5:
			cfg.PayoutScript = p2wpkhScript
			cfg.WitnessCommitment = tag
		}
		cb, err := BuildCoinbase(cfg)
		if err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			return
		}
		en1 := bytes.Repeat([]byte{fill}, cfg.Extranonce1Size)
		en2 := bytes.Repeat([]byte{^fill}, cfg.Extranonce2Size)
		if msg := checkCoinbase(cfg, cb, en1, en2); msg != "" {
			t.Fatal(msg)
		}
		w := Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2}
		raw := w.Coinbase(en1, en2)
		blk := SerializeBlock([80]byte{}, raw, nil, len(cfg.WitnessCommitment) > 0)
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(blk)); err != nil {
			t.Fatalf("wire cannot parse block: %v", err)
		}
		if got := [32]byte(mb.Transactions[0].TxHash()); got != TxID(raw) {
			t.Fatalf("block coinbase txid %x, want %x", got, TxID(raw))
		}
	})
}

// FuzzParseStratumPrevHash: no panic; success only for 64 hex digits, and
// then formatting round-trips to the lower-case input.
func FuzzParseStratumPrevHash(f *testing.F) {
	f.Add(vaPrevStr)
	f.Add(vbPrevStr)
	f.Add("")
	f.Add(strings.Repeat("g", 64))
	f.Add(strings.ToUpper(vbPrevStr))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseStratumPrevHash(s)
		if err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if _, herr := hex.DecodeString(s); herr == nil && len(s) == 64 {
				t.Fatalf("rejected valid 64-digit hex %q: %v", s, err)
			}
			return
		}
		if got := StratumPrevHash(h); got != strings.ToLower(s) {
			t.Fatalf("round trip: got %s, want %s", got, strings.ToLower(s))
		}
		// The word swap is an involution on the display form too.
		d, _ := ParseHash("x", HashString(h))
		if d != h {
			t.Fatalf("ParseHash(HashString) round trip failed")
		}
	})
}

// FuzzParseHex covers ParseHexUint32, DecodeHex and ParseNotify.
func FuzzParseHex(f *testing.F) {
	f.Add("20000000", 4)
	f.Add("c7080000", -1)
	f.Add("xyz", 2)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if v, err := ParseHexUint32("f", s); err == nil {
			if got := HexUint32(v); got != strings.ToLower(s) {
				t.Fatalf("HexUint32(%08x) = %s, want %s", v, got, strings.ToLower(s))
			}
		} else if _, ok := errors.AsType[*FieldError](err); !ok {
			t.Fatalf("error %v is not a *FieldError", err)
		}
		if n > 1<<16 {
			n = 1 << 16
		}
		if b, err := DecodeHex("f", s, n); err == nil {
			if hex.EncodeToString(b) != strings.ToLower(s) || (n >= 0 && len(b) != n) {
				t.Fatalf("DecodeHex(%q, %d) = %x", s, n, b)
			}
		} else if _, ok := errors.AsType[*FieldError](err); !ok {
			t.Fatalf("error %v is not a *FieldError", err)
		}
		if _, err := ParseNotify(s, s, s, []string{s}, s, s, s); err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v is not a *FieldError", err)
			}
		}
	})
}

// refCompact is Bitcoin Core's arith_uint256::SetCompact on big.Int.
func refCompact(bits uint32) (v *big.Int, negative, overflow bool) {
	size := bits >> 24
	word := bits & 0x007fffff
	if size <= 3 {
		word >>= 8 * (3 - size)
		v = big.NewInt(int64(word))
	} else {
		v = new(big.Int).Lsh(big.NewInt(int64(word)), uint(8*(size-3)))
	}
	negative = word != 0 && bits&0x00800000 != 0
	overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
	return v, negative, overflow
}

// FuzzCompact compares CompactToTarget with Core's algorithm and checks
// that TargetToCompact re-encodes every target to the same value.
func FuzzCompact(f *testing.F) {
	for _, b := range []uint32{0x1d00ffff, 0x1a44b9f2, 0x207fffff, 0x04923456, 0x2200ffff, 0, 0x01003456, 0xff123456} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, bits uint32) {
		got, err := CompactToTarget(bits)
		want, neg, ovf := refCompact(bits)
		if err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if !neg && !ovf && want.Sign() != 0 && bits&0x00800000 == 0 {
				t.Fatalf("%08x: rejected (%v) but Core accepts %x", bits, err, want)
			}
			return
		}
		if neg || ovf {
			t.Fatalf("%08x: accepted but Core says negative=%v overflow=%v", bits, neg, ovf)
		}
		if g := bigTarget(got); g.Cmp(want) != 0 {
			t.Fatalf("%08x: got %x, want %x", bits, g, want)
		}
		back, err := CompactToTarget(TargetToCompact(got))
		if err != nil || back != got {
			t.Fatalf("%08x: re-encode %08x gives %x, %v", bits, TargetToCompact(got), back, err)
		}
	})
}

// FuzzDifficulty checks DifficultyToTarget against HashDifficulty and
// MeetsTarget: the target itself meets it, one more does not, and its
// difficulty reads back as diff.
func FuzzDifficulty(f *testing.F) {
	for _, d := range []float64{1, 2, 512, 0.001, 1e-9, 117392538.87, 1e15, 3} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, diff float64) {
		tgt, err := DifficultyToTarget(diff)
		if err != nil {
			if !(diff > 0) || math.IsInf(diff, 0) {
				return
			}
			t.Fatalf("DifficultyToTarget(%v): %v", diff, err)
		}
		v := bigTarget(tgt)
		if v.Sign() == 0 || v.BitLen() >= 256 {
			return // clamped or below 1: nothing to compare
		}
		if !MeetsTarget(&tgt, &tgt) {
			t.Fatalf("target does not meet itself")
		}
		above := targetFromBig(t, new(big.Int).Add(v, big.NewInt(1)))
		if MeetsTarget(&above, &tgt) {
			t.Fatalf("target+1 meets target")
		}
		if v.BitLen() > 64 { // enough precision for a readback
			if got := TargetToDifficulty(tgt); math.Abs(got-diff)/diff > 1e-12 {
				t.Fatalf("TargetToDifficulty(DifficultyToTarget(%v)) = %v", diff, got)
			}
		}
	})
}
