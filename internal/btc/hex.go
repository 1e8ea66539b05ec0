package btc

import (
	"encoding/binary"
	"encoding/hex"
)

// ParseHexUint32 parses exactly 8 hex digits as a big-endian uint32, the
// form Stratum uses for version, nbits, ntime and nonce. field names the
// input in the *FieldError returned on a wrong length or a non-hex digit.
func ParseHexUint32(field, s string) (uint32, error) {
	if len(s) != 8 {
		return 0, fieldErr(field, "want 8 hex digits, got %d characters", len(s))
	}
	var b [4]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return 0, &FieldError{Field: field, Reason: "not hex", Err: err}
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// HexUint32 formats v as 8 big-endian hex digits (the inverse of
// ParseHexUint32).
func HexUint32(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return hex.EncodeToString(b[:])
}

// DecodeHex decodes hex string s. When wantLen >= 0 the decoded length must
// be exactly wantLen bytes. Errors are *FieldError values naming field.
func DecodeHex(field, s string, wantLen int) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fieldErr(field, "odd number of hex digits (%d)", len(s))
	}
	if wantLen >= 0 && len(s) != 2*wantLen {
		return nil, fieldErr(field, "want %d bytes (%d hex digits), got %d hex digits", wantLen, 2*wantLen, len(s))
	}
	b := make([]byte, len(s)/2)
	if _, err := hex.Decode(b, []byte(s)); err != nil {
		return nil, &FieldError{Field: field, Reason: "not hex", Err: err}
	}
	return b, nil
}

// decode32 decodes exactly 64 hex digits.
func decode32(field, s string) ([32]byte, error) {
	var b [32]byte
	if len(s) != 64 {
		return b, fieldErr(field, "want 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return [32]byte{}, &FieldError{Field: field, Reason: "not hex", Err: err}
	}
	return b, nil
}

// ParseHash parses a 64-digit display-order hash (as block explorers and
// JSON-RPC print txids, block hashes and targets) into internal order.
func ParseHash(field, s string) ([32]byte, error) {
	b, err := decode32(field, s)
	if err != nil {
		return b, err
	}
	reverse32(&b)
	return b, nil
}

// HashString formats an internal-order hash in display order (reversed
// hex), like chainhash.Hash.String.
func HashString(h [32]byte) string {
	reverse32(&h)
	return hex.EncodeToString(h[:])
}

// ParseStratumPrevHash parses the prevhash field of mining.notify: 64 hex
// digits of the internal-order hash with each 4-byte word byte-reversed.
// The result is in internal order, ready for the header.
func ParseStratumPrevHash(s string) ([32]byte, error) {
	b, err := decode32("prevhash", s)
	if err != nil {
		return b, err
	}
	swapWords(&b)
	return b, nil
}

// StratumPrevHash formats an internal-order previous block hash the way
// mining.notify sends it (the inverse of ParseStratumPrevHash).
func StratumPrevHash(h [32]byte) string {
	swapWords(&h)
	return hex.EncodeToString(h[:])
}

func reverse32(b *[32]byte) {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

func swapWords(b *[32]byte) {
	for i := 0; i < 32; i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
}
