package btc

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// bigTarget converts an internal-order target to a big.Int.
func bigTarget(t [32]byte) *big.Int {
	reverse32(&t)
	return new(big.Int).SetBytes(t[:])
}

func targetFromBig(t testing.TB, v *big.Int) [32]byte {
	t.Helper()
	var b [32]byte
	v.FillBytes(b[:])
	reverse32(&b)
	return b
}

func hexBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("bad hex " + s)
	}
	return v
}

func TestCompactToTarget(t *testing.T) {
	tests := []struct {
		name    string
		bits    uint32
		want    string // big-endian hex of the target; "" when an error is expected
		wantErr string // reason fragment
	}{
		{name: "diff1", bits: 0x1d00ffff, want: "ffff0000000000000000000000000000000000000000000000000000"},
		{name: "block 125552", bits: 0x1a44b9f2, want: "44b9f20000000000000000000000000000000000000000000000"},
		{name: "regtest", bits: 0x207fffff, want: "7fffff0000000000000000000000000000000000000000000000000000000000"},
		{name: "exp 1 shifts", bits: 0x01123456, want: "12"},
		{name: "exp 2 shifts", bits: 0x02123456, want: "1234"},
		{name: "exp 3", bits: 0x03123456, want: "123456"},
		{name: "exp 4", bits: 0x04123456, want: "12345600"},
		{name: "leading zero mantissa", bits: 0x05009234, want: "92340000"},
		{name: "exp 32", bits: 0x20123456, want: "1234560000000000000000000000000000000000000000000000000000000000"},
		{name: "exp 34 one byte", bits: 0x220000ff, want: "ff00000000000000000000000000000000000000000000000000000000000000"},
		{name: "exp 33 two bytes", bits: 0x2100ffff, want: "ffff000000000000000000000000000000000000000000000000000000000000"},
		{name: "sign bit", bits: 0x04923456, wantErr: "sign bit"},
		{name: "sign bit diff1", bits: 0x1d80ffff, wantErr: "sign bit"},
		{name: "sign bit zero mantissa", bits: 0x01800000, wantErr: "sign bit"},
		{name: "overflow exp 34 two bytes", bits: 0x2200ffff, wantErr: "overflows"},
		{name: "overflow exp 35", bits: 0x23000001, wantErr: "overflows"},
		{name: "overflow exp ff", bits: 0xff123456, wantErr: "overflows"},
		{name: "zero", bits: 0, wantErr: "zero"},
		{name: "shifted to zero", bits: 0x01003456, wantErr: "zero"},
		{name: "huge exponent zero mantissa", bits: 0xff000000, wantErr: "zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompactToTarget(tt.bits)
			if tt.wantErr != "" {
				fe, ok := errors.AsType[*FieldError](err)
				if !ok {
					t.Fatalf("got err %v, want *FieldError", err)
				}
				if fe.Field != "bits" || !strings.Contains(fe.Reason, tt.wantErr) {
					t.Errorf("got %q, want field bits and reason containing %q", fe.Error(), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, w := bigTarget(got), hexBig(tt.want); g.Cmp(w) != 0 {
				t.Errorf("got %x, want %x", g, w)
			}
		})
	}
}

func TestTargetToCompact(t *testing.T) {
	tests := []struct {
		name   string
		target string // big-endian hex
		want   uint32
	}{
		{name: "zero", target: "0", want: 0},
		{name: "one byte", target: "12", want: 0x01120000},
		{name: "two bytes", target: "1234", want: 0x02123400},
		{name: "three bytes", target: "123456", want: 0x03123456},
		{name: "four bytes", target: "12345600", want: 0x04123456},
		{name: "truncates", target: "123456789a", want: 0x05123456},
		{name: "sign avoided one byte", target: "80", want: 0x02008000},
		{name: "sign avoided", target: "92340000", want: 0x05009234},
		{name: "diff1", target: "ffff0000000000000000000000000000000000000000000000000000", want: 0x1d00ffff},
		{name: "regtest", target: "7fffff0000000000000000000000000000000000000000000000000000000000", want: 0x207fffff},
		{name: "max", target: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", want: 0x2100ffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TargetToCompact(targetFromBig(t, hexBig(tt.target))); got != tt.want {
				t.Errorf("got %08x, want %08x", got, tt.want)
			}
		})
	}
}

func TestDifficultyToTarget(t *testing.T) {
	diff1 := hexBig("ffff0000000000000000000000000000000000000000000000000000")
	tests := []struct {
		name string
		diff float64
		want *big.Int
	}{
		{name: "1", diff: 1, want: diff1},
		{name: "2", diff: 2, want: new(big.Int).Rsh(diff1, 1)},
		{name: "512", diff: 512, want: new(big.Int).Rsh(diff1, 9)},
		{name: "3 truncates", diff: 3, want: new(big.Int).Quo(diff1, big.NewInt(3))},
		{name: "1000", diff: 1000, want: new(big.Int).Quo(diff1, big.NewInt(1000))},
		{name: "half", diff: 0.5, want: new(big.Int).Lsh(diff1, 1)},
		{name: "2^-32 fits", diff: math.Ldexp(1, -32), want: new(big.Int).Lsh(diff1, 32)},
		{name: "tiny clamps", diff: 1e-30, want: new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))},
		{name: "huge", diff: 1e80, want: big.NewInt(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DifficultyToTarget(tt.diff)
			if err != nil {
				t.Fatal(err)
			}
			if g := bigTarget(got); g.Cmp(tt.want) != 0 {
				t.Errorf("got %x, want %x", g, tt.want)
			}
		})
	}
	if got, _ := DifficultyToTarget(1); got != Diff1Target {
		t.Errorf("DifficultyToTarget(1): got %x, want Diff1Target %x", got, Diff1Target)
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)} {
		_, err := DifficultyToTarget(bad)
		if fe, ok := errors.AsType[*FieldError](err); !ok || fe.Field != "difficulty" {
			t.Errorf("DifficultyToTarget(%v): got err %v, want *FieldError for difficulty", bad, err)
		}
	}
}

func TestTargetToDifficulty(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   float64
	}{
		{name: "diff1", target: "ffff0000000000000000000000000000000000000000000000000000", want: 1},
		{name: "diff 2", target: "7fff8000000000000000000000000000000000000000000000000000", want: 2},
		{name: "regtest", target: "7fffff0000000000000000000000000000000000000000000000000000000000", want: 4.6565423739069247e-10},
		{name: "one", target: "1", want: math.Ldexp(0xffff, 208)},
		{name: "zero", target: "0", want: math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TargetToDifficulty(targetFromBig(t, hexBig(tt.target)))
			if got != tt.want && math.Abs(got-tt.want)/tt.want > 1e-12 {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHashDifficultyMatchesBig checks the float fast path against exact
// big-number division over a spread of magnitudes.
func TestHashDifficultyMatchesBig(t *testing.T) {
	diff1 := new(big.Float).SetInt(hexBig("ffff0000000000000000000000000000000000000000000000000000"))
	for shift := 0; shift < 256; shift += 3 {
		v := new(big.Int).Lsh(big.NewInt(0x1234567), uint(shift))
		v.Or(v, big.NewInt(0x9abcdef))
		if v.BitLen() > 256 {
			break
		}
		h := targetFromBig(t, v)
		want, _ := new(big.Float).Quo(diff1, new(big.Float).SetInt(v)).Float64()
		if got := HashDifficulty(h); math.Abs(got-want)/want > 1e-15 {
			t.Errorf("shift %d: got %v, want %v", shift, got, want)
		}
	}
}

func TestMeetsTarget(t *testing.T) {
	target := targetFromBig(t, hexBig("ffff0000000000000000000000000000000000000000000000000000"))
	tests := []struct {
		name string
		hash string
		want bool
	}{
		{name: "equal", hash: "ffff0000000000000000000000000000000000000000000000000000", want: true},
		{name: "one above", hash: "ffff0000000000000000000000000000000000000000000000000001", want: false},
		{name: "one below", hash: "fffeffffffffffffffffffffffffffffffffffffffffffffffffffff", want: true},
		{name: "zero", hash: "0", want: true},
		{name: "top byte", hash: "100000000000000000000000000000000000000000000000000000000000000", want: false},
		{name: "low bytes only", hash: "ffffffff", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := targetFromBig(t, hexBig(tt.hash))
			if got := MeetsTarget(&h, &target); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
