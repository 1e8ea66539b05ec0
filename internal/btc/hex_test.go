package btc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHexUint32(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint32
		wantErr bool
	}{
		{name: "version", in: "20000000", want: 0x20000000},
		{name: "nbits", in: "1a44b9f2", want: 0x1a44b9f2},
		{name: "upper case", in: "1A44B9F2", want: 0x1a44b9f2},
		{name: "zero", in: "00000000", want: 0},
		{name: "max", in: "ffffffff", want: 0xffffffff},
		{name: "short", in: "1a44b9f", wantErr: true},
		{name: "long", in: "1a44b9f20", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "not hex", in: "1a44b9fg", wantErr: true},
		{name: "0x prefix", in: "0x1a44b9", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHexUint32("ntime", tt.in)
			if tt.wantErr {
				fe, ok := errors.AsType[*FieldError](err)
				if !ok || fe.Field != "ntime" {
					t.Fatalf("got (%08x, %v), want *FieldError for ntime", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got (%08x, %v), want %08x", got, err, tt.want)
			}
			if s := HexUint32(got); s != strings.ToLower(tt.in) {
				t.Errorf("HexUint32: got %s, want %s", s, strings.ToLower(tt.in))
			}
		})
	}
}

func TestParseStratumPrevHashErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "63 digits", in: strings.Repeat("0", 63)},
		{name: "65 digits", in: strings.Repeat("0", 65)},
		{name: "128 digits", in: strings.Repeat("0", 128)},
		{name: "non-hex", in: strings.Repeat("0", 63) + "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStratumPrevHash(tt.in)
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Field != "prevhash" {
				t.Fatalf("got (%x, %v), want *FieldError for prevhash", got, err)
			}
			if got != ([32]byte{}) {
				t.Errorf("got non-zero hash %x with an error", got)
			}
		})
	}
}

func TestDecodeHex(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int
		want    string
		wantErr bool
	}{
		{name: "any length", in: "c7080000", n: -1, want: "c7080000"},
		{name: "exact", in: "c7080000", n: 4, want: "c7080000"},
		{name: "empty any", in: "", n: -1, want: ""},
		{name: "too short", in: "c70800", n: 4, wantErr: true},
		{name: "too long", in: "c708000000", n: 4, wantErr: true},
		{name: "odd", in: "c70", n: -1, wantErr: true},
		{name: "non-hex", in: "zz", n: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeHex("extranonce2", tt.in, tt.n)
			if tt.wantErr {
				if fe, ok := errors.AsType[*FieldError](err); !ok || fe.Field != "extranonce2" {
					t.Fatalf("got (%x, %v), want *FieldError for extranonce2", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.ToLower(tt.want); string(hexString(got)) != s {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseNotifyErrors(t *testing.T) {
	good := func() []string {
		return []string{vaPrevStr, vaCoinb1, vaCoinb2, vaVersion, vaNBits, vaNTime}
	}
	tests := []struct {
		name      string
		idx       int // which field to break; 6 = branch
		bad       string
		wantField string
	}{
		{name: "prevhash", idx: 0, bad: "00", wantField: "prevhash"},
		{name: "coinb1", idx: 1, bad: "0g", wantField: "coinb1"},
		{name: "coinb2", idx: 2, bad: "abc", wantField: "coinb2"},
		{name: "version", idx: 3, bad: "2000000", wantField: "version"},
		{name: "nbits", idx: 4, bad: "xx2495f8", wantField: "nbits"},
		{name: "ntime", idx: 5, bad: "", wantField: "ntime"},
		{name: "branch", idx: 6, bad: "1234", wantField: "merkle_branch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			branch := vaBranch
			if tt.idx == 6 {
				branch = append(append([]string{}, vaBranch...), tt.bad)
			} else {
				f[tt.idx] = tt.bad
			}
			_, err := ParseNotify(f[0], f[1], f[2], branch, f[3], f[4], f[5])
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Field != tt.wantField {
				t.Fatalf("got %v, want *FieldError for %s", err, tt.wantField)
			}
		})
	}
}
