package btc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var p2wpkhScript = []byte{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// checkCoinbase parses the coinbase built from cb with en1/en2 using btcd's
// wire.MsgTx and checks every field against cfg. It returns a description
// of the first mismatch, or "".
func checkCoinbase(cfg CoinbaseConfig, cb Coinbase, en1, en2 []byte) string {
	w := Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2}
	raw := w.Coinbase(en1, en2)
	var tx wire.MsgTx
	r := bytes.NewReader(raw)
	if err := tx.DeserializeNoWitness(r); err != nil {
		return fmt.Sprintf("wire cannot parse coinbase %x: %v", raw, err)
	}
	if r.Len() != 0 {
		return fmt.Sprintf("%d trailing bytes after the coinbase", r.Len())
	}
	var re bytes.Buffer
	_ = tx.SerializeNoWitness(&re)
	if !bytes.Equal(re.Bytes(), raw) {
		return "coinbase does not re-serialize to the same bytes"
	}
	if got := TxID(raw); got != [32]byte(tx.TxHash()) {
		return "TxID differs from wire's TxHash"
	}
	if got := w.CoinbaseTxID(en1, en2); got != [32]byte(tx.TxHash()) {
		return "Work.CoinbaseTxID differs from wire's TxHash"
	}
	if tx.Version != CoinbaseVersion {
		return fmt.Sprintf("version %d", tx.Version)
	}
	if len(tx.TxIn) != 1 {
		return fmt.Sprintf("%d inputs", len(tx.TxIn))
	}
	in := tx.TxIn[0]
	if in.PreviousOutPoint.Index != 0xffffffff || in.PreviousOutPoint.Hash != ([32]byte{}) {
		return "prevout is not null"
	}
	if in.Sequence != 0xfffffffe {
		return fmt.Sprintf("sequence %08x", in.Sequence)
	}
	sig := in.SignatureScript
	if len(sig) < 2 || len(sig) > 100 {
		return fmt.Sprintf("scriptSig length %d", len(sig))
	}
	push, err := HeightScript(cfg.Height)
	if err != nil {
		return err.Error()
	}
	if !bytes.HasPrefix(sig, push) {
		return fmt.Sprintf("scriptSig %x does not start with the height push %x", sig, push)
	}
	// The extranonce sits at the end of scriptSig, and coinb1 ends right before it.
	slot := append(append([]byte{}, en1...), en2...)
	if !bytes.HasSuffix(sig, slot) {
		return fmt.Sprintf("scriptSig %x does not end with the extranonce %x", sig, slot)
	}
	if !bytes.Equal(raw[len(cb.Coinb1):len(cb.Coinb1)+len(slot)], slot) {
		return "extranonce is not at len(coinb1)"
	}
	mid := sig[len(push) : len(sig)-len(slot)]
	wantMid := append(append([]byte{}, cfg.AuxFlags...), cfg.Tag...)
	if !bytes.HasSuffix(mid, wantMid) {
		return fmt.Sprintf("scriptSig middle %x does not end with aux‖tag %x", mid, wantMid)
	}
	if pad := mid[:len(mid)-len(wantMid)]; len(pad) > 0 && (len(push)+len(wantMid)+len(slot) >= 2 || bytes.Count(pad, []byte{0}) != len(pad)) {
		return fmt.Sprintf("unexpected padding %x", pad)
	}
	wantOuts := 1
	if len(cfg.WitnessCommitment) > 0 {
		wantOuts = 2
	}
	if len(tx.TxOut) != wantOuts {
		return fmt.Sprintf("%d outputs, want %d", len(tx.TxOut), wantOuts)
	}
	if o := tx.TxOut[0]; o.Value != cfg.ValueSats || !bytes.Equal(o.PkScript, cfg.PayoutScript) {
		return fmt.Sprintf("payout output %d %x", o.Value, o.PkScript)
	}
	if len(cfg.WitnessCommitment) > 0 {
		want, _ := NormalizeCommitment(cfg.WitnessCommitment)
		if o := tx.TxOut[len(tx.TxOut)-1]; o.Value != 0 || !bytes.Equal(o.PkScript, want) {
			return fmt.Sprintf("commitment output %d %x, want 0 %x", o.Value, o.PkScript, want)
		}
	}
	wantLock := uint32(0)
	if cfg.Height > 0 {
		wantLock = uint32(cfg.Height - 1)
	}
	if tx.LockTime != wantLock {
		return fmt.Sprintf("locktime %d, want %d", tx.LockTime, wantLock)
	}
	return ""
}

func TestHeightScript(t *testing.T) {
	tests := []struct {
		height int64
		want   string
	}{
		{0, "00"},
		{1, "51"},
		{2, "52"},
		{16, "60"},
		{17, "0111"},
		{127, "017f"},
		{128, "028000"},
		{255, "02ff00"},
		{256, "020001"},
		{32767, "02ff7f"},
		{32768, "03008000"},
		{2442185, "03c94325"},
		{8388607, "03ffff7f"},
		{8388608, "0400008000"},
		{1<<31 - 1, "04ffffff7f"},
		{1 << 31, "050000008000"},
		{1<<32 - 1, "05ffffffff00"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.height), func(t *testing.T) {
			got, err := HeightScript(tt.height)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

func TestBuildCoinbaseEdges(t *testing.T) {
	commit := WitnessCommitmentScript(nil)
	tests := []struct {
		name       string
		cfg        CoinbaseConfig
		wantSigHex string // full scriptSig with a zero extranonce; "" skips
	}{
		{name: "height 0", cfg: CoinbaseConfig{Height: 0, ValueSats: 50e8, PayoutScript: p2wpkhScript, Extranonce1Size: 4, Extranonce2Size: 8},
			wantSigHex: "00" + strings.Repeat("00", 12)},
		{name: "height 1 padded", cfg: CoinbaseConfig{Height: 1, ValueSats: 50e8, PayoutScript: p2wpkhScript},
			wantSigHex: "5100"},
		{name: "height 1 with slot", cfg: CoinbaseConfig{Height: 1, ValueSats: 50e8, PayoutScript: p2wpkhScript, WitnessCommitment: commit, Extranonce1Size: 4, Extranonce2Size: 8},
			wantSigHex: "51" + strings.Repeat("00", 12)},
		{name: "height 1 one-byte slot", cfg: CoinbaseConfig{Height: 1, ValueSats: 1, PayoutScript: p2wpkhScript, Extranonce2Size: 1},
			wantSigHex: "5100"},
		{name: "height 16", cfg: CoinbaseConfig{Height: 16, ValueSats: 50e8, PayoutScript: p2wpkhScript, Tag: []byte("/hf/"), Extranonce1Size: 4, Extranonce2Size: 8},
			wantSigHex: "60" + hex.EncodeToString([]byte("/hf/")) + strings.Repeat("00", 12)},
		{name: "height 17", cfg: CoinbaseConfig{Height: 17, ValueSats: 50e8, PayoutScript: p2wpkhScript, Tag: []byte("/hf/"), Extranonce1Size: 4, Extranonce2Size: 8},
			wantSigHex: "0111" + hex.EncodeToString([]byte("/hf/")) + strings.Repeat("00", 12)},
		{name: "height 2^31", cfg: CoinbaseConfig{Height: 1 << 31, ValueSats: 0, PayoutScript: p2wpkhScript, Extranonce1Size: 4, Extranonce2Size: 4},
			wantSigHex: "050000008000" + strings.Repeat("00", 8)},
		{name: "aux flags before tag", cfg: CoinbaseConfig{Height: 300, ValueSats: 5, PayoutScript: p2wpkhScript, AuxFlags: []byte{0x0b, '/', 'P', '2', 'S', 'H', '/', 'b', 't', 'c', 'd', '/'}, Tag: []byte("T"), Extranonce1Size: 4, Extranonce2Size: 8},
			wantSigHex: "022c01" + "0b2f503253482f627463642f" + "54" + strings.Repeat("00", 12)},
		{name: "max scriptSig 100", cfg: CoinbaseConfig{Height: 1000, ValueSats: 50e8, PayoutScript: p2wpkhScript, Tag: bytes.Repeat([]byte{'x'}, 100-3-12), Extranonce1Size: 4, Extranonce2Size: 8}},
		{name: "max value", cfg: CoinbaseConfig{Height: 1000, ValueSats: MaxValueSats, PayoutScript: p2wpkhScript, WitnessCommitment: commit[6:], Extranonce1Size: 4, Extranonce2Size: 8}},
		{name: "32-byte commitment", cfg: CoinbaseConfig{Height: 1000, ValueSats: 1, PayoutScript: p2wpkhScript, WitnessCommitment: commit[6:], Extranonce1Size: 8, Extranonce2Size: 0}},
		{name: "big payout script needs 3-byte varint", cfg: CoinbaseConfig{Height: 1000, ValueSats: 1, PayoutScript: bytes.Repeat([]byte{0x51}, 300), Extranonce1Size: 4, Extranonce2Size: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := BuildCoinbase(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			en1 := bytes.Repeat([]byte{0xa1}, tt.cfg.Extranonce1Size)
			en2 := bytes.Repeat([]byte{0xb2}, tt.cfg.Extranonce2Size)
			if msg := checkCoinbase(tt.cfg, cb, en1, en2); msg != "" {
				t.Error(msg)
			}
			if tt.wantSigHex != "" {
				w := Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2}
				var tx wire.MsgTx
				if err := tx.DeserializeNoWitness(bytes.NewReader(w.Coinbase(make([]byte, tt.cfg.Extranonce1Size), make([]byte, tt.cfg.Extranonce2Size)))); err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(tx.TxIn[0].SignatureScript); got != tt.wantSigHex {
					t.Errorf("scriptSig: got %s, want %s", got, tt.wantSigHex)
				}
			}
		})
	}
}

func TestBuildCoinbaseErrors(t *testing.T) {
	ok := CoinbaseConfig{Height: 100, ValueSats: 50e8, PayoutScript: p2wpkhScript, Extranonce1Size: 4, Extranonce2Size: 8}
	tests := []struct {
		name      string
		mutate    func(*CoinbaseConfig)
		wantField string
	}{
		{name: "negative height", mutate: func(c *CoinbaseConfig) { c.Height = -1 }, wantField: "Height"},
		{name: "height 2^32", mutate: func(c *CoinbaseConfig) { c.Height = 1 << 32 }, wantField: "Height"},
		{name: "negative value", mutate: func(c *CoinbaseConfig) { c.ValueSats = -1 }, wantField: "ValueSats"},
		{name: "value above 21M BTC", mutate: func(c *CoinbaseConfig) { c.ValueSats = MaxValueSats + 1 }, wantField: "ValueSats"},
		{name: "no payout script", mutate: func(c *CoinbaseConfig) { c.PayoutScript = nil }, wantField: "PayoutScript"},
		{name: "payout script too big", mutate: func(c *CoinbaseConfig) { c.PayoutScript = make([]byte, 10001) }, wantField: "PayoutScript"},
		{name: "commitment 31 bytes", mutate: func(c *CoinbaseConfig) { c.WitnessCommitment = make([]byte, 31) }, wantField: "WitnessCommitment"},
		{name: "commitment 38 bytes no magic", mutate: func(c *CoinbaseConfig) { c.WitnessCommitment = make([]byte, 38) }, wantField: "WitnessCommitment"},
		{name: "negative extranonce1", mutate: func(c *CoinbaseConfig) { c.Extranonce1Size = -1 }, wantField: "Extranonce1Size"},
		{name: "negative extranonce2", mutate: func(c *CoinbaseConfig) { c.Extranonce2Size = -4 }, wantField: "Extranonce2Size"},
		{name: "huge extranonce2", mutate: func(c *CoinbaseConfig) { c.Extranonce2Size = 1 << 40 }, wantField: "Extranonce2Size"},
		{name: "scriptSig 101", mutate: func(c *CoinbaseConfig) { c.Tag = bytes.Repeat([]byte{'x'}, 101-2-12) }, wantField: "scriptSig"},
		{name: "aux flags overflow", mutate: func(c *CoinbaseConfig) { c.AuxFlags = make([]byte, 90) }, wantField: "scriptSig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			cb, err := BuildCoinbase(cfg)
			fe, isFE := errors.AsType[*FieldError](err)
			if !isFE {
				t.Fatalf("got (%x, %x, %v), want *FieldError", cb.Coinb1, cb.Coinb2, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("got field %q (%v), want %q", fe.Field, fe, tt.wantField)
			}
		})
	}
	if _, err := BuildCoinbase(ok); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

func TestPayoutScript(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		params *chaincfg.Params
		want   string
	}{
		{name: "P2PKH mainnet (genesis)", addr: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", params: &chaincfg.MainNetParams,
			want: "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"},
		{name: "P2SH mainnet", addr: "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", params: &chaincfg.MainNetParams,
			want: "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"},
		{name: "P2WPKH mainnet (BIP173)", addr: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", params: &chaincfg.MainNetParams,
			want: "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{name: "P2WPKH upper case (BIP173)", addr: "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", params: &chaincfg.MainNetParams,
			want: "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{name: "P2WSH testnet (BIP173)", addr: "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", params: &chaincfg.TestNet3Params,
			want: "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
		{name: "P2TR mainnet (BIP350)", addr: "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", params: &chaincfg.MainNetParams,
			want: "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
		{name: "P2WPKH regtest", addr: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", params: &chaincfg.RegressionNetParams,
			want: "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{name: "P2PKH testnet", addr: "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", params: &chaincfg.TestNet3Params,
			want: "76a914243f1394f44554f4ce3fd68649c19adc483ce92488ac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PayoutScript(tt.addr, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

func TestPayoutScriptErrors(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		params *chaincfg.Params
	}{
		{name: "empty", addr: "", params: &chaincfg.MainNetParams},
		{name: "garbage", addr: "not-an-address", params: &chaincfg.MainNetParams},
		{name: "bad base58 checksum", addr: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", params: &chaincfg.MainNetParams},
		{name: "bad bech32 checksum", addr: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", params: &chaincfg.MainNetParams},
		{name: "mainnet P2PKH on regtest", addr: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", params: &chaincfg.RegressionNetParams},
		{name: "mainnet bech32 on regtest", addr: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", params: &chaincfg.RegressionNetParams},
		{name: "testnet bech32 on mainnet", addr: "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", params: &chaincfg.MainNetParams},
		{name: "raw pubkey", addr: "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", params: &chaincfg.MainNetParams},
		{name: "witness v2 (BIP350)", addr: "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", params: &chaincfg.MainNetParams},
		{name: "nil params", addr: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", params: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PayoutScript(tt.addr, tt.params)
			fe, ok := errors.AsType[*FieldError](err)
			if !ok {
				t.Fatalf("got (%x, %v), want *FieldError", got, err)
			}
			if fe.Field != "address" && fe.Field != "params" {
				t.Errorf("got field %q, want address", fe.Field)
			}
		})
	}
}

func TestNetworkParams(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mainnet", "mainnet"}, {"regtest", "regtest"}, {"testnet", "testnet3"},
		{"testnet4", "testnet4"}, {"signet", "signet"}, {"SimNet", "simnet"},
	}
	for _, tt := range tests {
		p, err := NetworkParams(tt.in)
		if err != nil || p.Name != tt.want {
			t.Errorf("NetworkParams(%q): got %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	if _, err := NetworkParams("moon"); err == nil {
		t.Errorf("NetworkParams(moon): got nil error")
	}
}
