package btc

import (
	"bytes"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// WitnessMagic is the prefix of a BIP141 witness commitment output script:
// OP_RETURN, push 36, then the commitment header aa21a9ed.
var WitnessMagic = []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}

// TxID returns the double SHA-256 of raw (internal order). For a
// non-witness serialization that is the txid; for a block header it is the
// block hash. It allocates nothing.
func TxID(rawNonWitnessTx []byte) [32]byte {
	return chainhash.DoubleHashH(rawNonWitnessTx)
}

// hashPair returns SHA256d(a ‖ b) without allocating.
func hashPair(a, b *[32]byte) [32]byte {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return chainhash.DoubleHashH(buf[:])
}

// MerkleBranch returns the Stratum merkle branch for the coinbase (position
// 0) of a block whose other transactions have the given txids (internal
// order, block order, coinbase excluded). An odd level duplicates its last
// hash, as Bitcoin does. The branch has ceil(log2(len(txids)+1)) entries;
// it is nil for a coinbase-only block. txids is not modified.
func MerkleBranch(txids [][32]byte) [][32]byte {
	if len(txids) == 0 {
		return nil
	}
	// level[0] is the placeholder for the coinbase-side hash and is never read.
	level := make([][32]byte, 1+len(txids), 2+len(txids))
	copy(level[1:], txids)
	var branch [][32]byte
	for len(level) > 1 {
		branch = append(branch, level[1])
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		n := 1
		for i := 2; i < len(level); i += 2 {
			level[n] = hashPair(&level[i], &level[i+1])
			n++
		}
		level = level[:n]
	}
	return branch
}

// MerkleRoot folds the coinbase txid with a merkle branch (coinbase always
// the left child): root = SHA256d(root ‖ b) for each b. It allocates nothing.
func MerkleRoot(coinbaseTxid [32]byte, branch [][32]byte) [32]byte {
	root := coinbaseTxid
	for i := range branch {
		root = hashPair(&root, &branch[i])
	}
	return root
}

// MerkleTreeRoot returns the Bitcoin merkle root of the leaves (txids or
// wtxids in block order, internal order), duplicating the last hash of odd
// levels. The root of a single leaf is the leaf; of no leaves, zero.
// leaves is not modified.
func MerkleTreeRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return [32]byte{}
	case 1:
		return leaves[0]
	}
	level := make([][32]byte, len(leaves), len(leaves)+1)
	copy(level, leaves)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		n := 0
		for i := 0; i < len(level); i += 2 {
			level[n] = hashPair(&level[i], &level[i+1])
			n++
		}
		level = level[:n]
	}
	return level[0]
}

// WitnessCommitment returns the BIP141 commitment value
// SHA256d(witness root ‖ reserved value) for a block whose non-coinbase
// transactions have the given wtxids (internal order), with the coinbase
// wtxid taken as zero and the reserved value zero.
func WitnessCommitment(wtxids [][32]byte) [32]byte {
	leaves := make([][32]byte, 1+len(wtxids))
	copy(leaves[1:], wtxids)
	root := MerkleTreeRoot(leaves)
	var reserved [32]byte
	return hashPair(&root, &reserved)
}

// WitnessCommitmentScript returns the 38-byte witness commitment output
// script 6a24aa21a9ed‖WitnessCommitment(wtxids), as Bitcoin Core's
// default_witness_commitment.
func WitnessCommitmentScript(wtxids [][32]byte) []byte {
	c := WitnessCommitment(wtxids)
	return append(append(make([]byte, 0, 38), WitnessMagic...), c[:]...)
}

// NormalizeCommitment turns a getblocktemplate default_witness_commitment
// into a full output script: 32 bytes (btcd's bare hash) get the
// 6a24aa21a9ed prefix; 38 bytes starting with that prefix (Bitcoin Core)
// are returned as a copy. Empty input returns nil, nil (no commitment).
// Anything else is a *FieldError with Field "WitnessCommitment".
func NormalizeCommitment(raw []byte) ([]byte, error) {
	switch {
	case len(raw) == 0:
		return nil, nil
	case len(raw) == 32:
		return append(append(make([]byte, 0, 38), WitnessMagic...), raw...), nil
	case len(raw) == 38 && bytes.HasPrefix(raw, WitnessMagic):
		return bytes.Clone(raw), nil
	case len(raw) == 38:
		return nil, fieldErr("WitnessCommitment", "38 bytes without the 6a24aa21a9ed prefix")
	}
	return nil, fieldErr("WitnessCommitment", "want 32 or 38 bytes, got %d", len(raw))
}
