package btc

import (
	"encoding/binary"
)

// HeaderLen is the size of a serialized block header.
const HeaderLen = 80

// MaxStackCoinbase is the largest coinbase (bytes) that Work.Header and
// Work.CoinbaseTxID hash without allocating; larger ones still work.
const MaxStackCoinbase = 1024

// Work is what a miner needs to build headers: the fields of a Stratum
// mining.notify (decoded) or of a pool job. PrevHash and the Branch hashes
// are in internal order. A Work is read-only once shared; its methods are
// safe for concurrent use.
type Work struct {
	PrevHash       [32]byte
	Coinb1, Coinb2 []byte
	Branch         [][32]byte
	Version        uint32 // job version, before rolling
	Bits           uint32 // compact network target
	Time           uint32 // ntime of the job
}

// RollVersion applies BIP310 version rolling: the bits of rolled inside
// mask replace those of base.
func RollVersion(base, rolled, mask uint32) uint32 {
	return (base &^ mask) | (rolled & mask)
}

// NewHeader serializes an 80-byte block header; all integers are
// little-endian, prevHash and merkleRoot in internal order.
func NewHeader(version uint32, prevHash, merkleRoot [32]byte, ntime, bits, nonce uint32) [80]byte {
	var h [80]byte
	binary.LittleEndian.PutUint32(h[0:4], version)
	copy(h[4:36], prevHash[:])
	copy(h[36:68], merkleRoot[:])
	binary.LittleEndian.PutUint32(h[68:72], ntime)
	binary.LittleEndian.PutUint32(h[72:76], bits)
	binary.LittleEndian.PutUint32(h[76:80], nonce)
	return h
}

// BlockHash returns the double SHA-256 of a header (internal order).
func BlockHash(header *[80]byte) [32]byte {
	return TxID(header[:])
}

// Coinbase returns coinb1 ‖ en1 ‖ en2 ‖ coinb2 in a new slice.
func (w *Work) Coinbase(en1, en2 []byte) []byte {
	cb := make([]byte, 0, len(w.Coinb1)+len(en1)+len(en2)+len(w.Coinb2))
	return w.appendCoinbase(cb, en1, en2)
}

func (w *Work) appendCoinbase(dst, en1, en2 []byte) []byte {
	dst = append(dst, w.Coinb1...)
	dst = append(dst, en1...)
	dst = append(dst, en2...)
	return append(dst, w.Coinb2...)
}

// CoinbaseTxID returns the txid of the coinbase built with en1 and en2.
// It allocates nothing for coinbases up to MaxStackCoinbase bytes.
func (w *Work) CoinbaseTxID(en1, en2 []byte) [32]byte {
	var buf [MaxStackCoinbase]byte
	return TxID(w.appendCoinbase(buf[:0], en1, en2))
}

// MerkleRoot returns the merkle root of the block whose coinbase is built
// with en1 and en2.
func (w *Work) MerkleRoot(en1, en2 []byte) [32]byte {
	return MerkleRoot(w.CoinbaseTxID(en1, en2), w.Branch)
}

// Header returns the 80-byte header for extranonces en1, en2 and the given
// ntime, nonce and version. version is used verbatim: pass w.Version when
// not rolling, or RollVersion(w.Version, bits, mask) when rolling.
// It allocates nothing for coinbases up to MaxStackCoinbase bytes.
func (w *Work) Header(en1, en2 []byte, ntime, nonce, version uint32) [80]byte {
	return NewHeader(version, w.PrevHash, w.MerkleRoot(en1, en2), ntime, w.Bits, nonce)
}

// ParseNotify decodes the hex fields of a Stratum mining.notify into a
// Work: prevhash word-swapped, coinb1/coinb2 raw hex, branch hashes in
// internal order as sent, version/nbits/ntime 8-digit big-endian hex.
// Errors are *FieldError values naming the field ("prevhash", "coinb1",
// "merkle_branch", "version", "nbits", "ntime").
func ParseNotify(prevHash, coinb1, coinb2 string, branch []string, version, nbits, ntime string) (Work, error) {
	var w Work
	var err error
	if w.PrevHash, err = ParseStratumPrevHash(prevHash); err != nil {
		return Work{}, err
	}
	if w.Coinb1, err = DecodeHex("coinb1", coinb1, -1); err != nil {
		return Work{}, err
	}
	if w.Coinb2, err = DecodeHex("coinb2", coinb2, -1); err != nil {
		return Work{}, err
	}
	if len(branch) > 0 {
		w.Branch = make([][32]byte, len(branch))
		for i, s := range branch {
			if w.Branch[i], err = decode32("merkle_branch", s); err != nil {
				return Work{}, err
			}
		}
	}
	if w.Version, err = ParseHexUint32("version", version); err != nil {
		return Work{}, err
	}
	if w.Bits, err = ParseHexUint32("nbits", nbits); err != nil {
		return Work{}, err
	}
	if w.Time, err = ParseHexUint32("ntime", ntime); err != nil {
		return Work{}, err
	}
	return w, nil
}
