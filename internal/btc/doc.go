// Package btc holds the pure Bitcoin data handling that a mining pool and a
// miner share: compact bits and targets, share difficulty, coinbase
// construction with an extranonce slot, merkle branches and roots, the
// BIP141 witness commitment, 80-byte block headers built from Stratum
// fields or a template, and block serialisation for submitblock.
//
// The package does no I/O, keeps no state and starts no goroutines; every
// function is safe for concurrent use. It builds on btcd's v2 modules
// (wire, chainhash, txscript, address, chaincfg) instead of re-implementing
// their encodings.
//
// # Byte order
//
// Every 32-byte hash or target is a [32]byte in Bitcoin's internal order:
// the raw output order of SHA-256d, read as a little-endian 256-bit number
// (byte 31 is the most significant). Block explorers and RPC display the
// reverse; use [ParseHash] and [HashString] to convert. A hash meets a
// target when, read as little-endian numbers, hash <= target.
//
// Stratum sends the previous block hash "word-swapped" (each 4-byte word of
// the internal order reversed), and version, nbits and ntime as 8-digit
// big-endian hex; see [ParseStratumPrevHash] and [ParseHexUint32].
//
// # Coinbase layout
//
// [BuildCoinbase] emits a version-2 transaction with one input whose
// scriptSig is
//
//	BIP34 height push ‖ [OP_0 pad] ‖ AuxFlags ‖ Tag ‖ extranonce1 ‖ extranonce2
//
// (OP_0 pad only when the script would otherwise be shorter than 2 bytes),
// nSequence 0xfffffffe, one output paying the configured script, the
// witness commitment output last, and nLockTime = height-1 (Bitcoin Core's
// miner and BIP54). Coinb1 ends right before extranonce1; Coinb2 starts
// right after extranonce2.
//
// # Hot paths
//
// [Work.Header], [MerkleRoot], [MeetsTarget], [HashDifficulty] and
// [TxID] allocate nothing for coinbases up to [MaxStackCoinbase] bytes;
// they are what a pool runs per share and a miner per extranonce2.
//
// # Errors
//
// Bad input (addresses, bits, hex, sizes) yields a *[FieldError] naming the
// field; no function in this package panics on input.
package btc
