package btc

import (
	"github.com/btcsuite/btcd/wire/v2"
)

// SerializeBlock returns the full block for submitblock: header, tx count,
// the coinbase, then txs (raw transactions exactly as the template gave
// them, in order). coinbase is the non-witness serialization of a
// single-input coinbase (as BuildCoinbase makes it). When witness is true
// (the coinbase carries a witness commitment) the coinbase is written in
// witness form: marker 00, flag 01, and a witness of one 32-byte zero item
// (the BIP141 reserved value), which btcd requires and Core would add.
// A coinbase shorter than 8 bytes cannot be a transaction and is copied
// as given. SerializeBlock makes one allocation, of the exact block size.
func SerializeBlock(header [80]byte, coinbase []byte, txs [][]byte, witness bool) []byte {
	size := HeaderLen + wire.VarIntSerializeSize(uint64(1+len(txs))) + len(coinbase)
	if witness {
		size += 2 + 1 + 1 + 32
	}
	for _, tx := range txs {
		size += len(tx)
	}
	b := make([]byte, 0, size)
	b = append(b, header[:]...)
	b = appendVarInt(b, uint64(1+len(txs)))
	if witness && len(coinbase) >= 8 {
		n := len(coinbase)
		b = append(b, coinbase[:4]...)     // version
		b = append(b, 0x00, 0x01)          // segwit marker, flag
		b = append(b, coinbase[4:n-4]...)  // inputs and outputs
		b = append(b, 0x01, 0x20)          // one witness item of 32 bytes
		b = append(b, make([]byte, 32)...) // reserved value
		b = append(b, coinbase[n-4:]...)   // lock time
	} else {
		b = append(b, coinbase...)
	}
	for _, tx := range txs {
		b = append(b, tx...)
	}
	return b
}

// appendVarInt appends a Bitcoin CompactSize integer.
func appendVarInt(b []byte, v uint64) []byte {
	switch {
	case v < 0xfd:
		return append(b, byte(v))
	case v <= 0xffff:
		return append(b, 0xfd, byte(v), byte(v>>8))
	case v <= 0xffffffff:
		return append(b, 0xfe, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return append(b, 0xff, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}
