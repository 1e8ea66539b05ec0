package btc_test

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
)

// witnessTx returns a made-up P2WPKH-style spend with a witness, serialized
// with witness, as a template would hand it over.
func witnessTx(t testing.TB, seed byte, witness bool) (*wire.MsgTx, []byte) {
	t.Helper()
	tx := wire.NewMsgTx(2)
	var prev chainhash.Hash
	for i := range prev {
		prev[i] = seed + byte(i)
	}
	in := wire.NewTxIn(wire.NewOutPoint(&prev, uint32(seed)), nil, nil)
	if witness {
		in.Witness = wire.TxWitness{bytes.Repeat([]byte{seed}, 71), bytes.Repeat([]byte{seed ^ 0x55}, 33)}
	} else {
		in.SignatureScript = bytes.Repeat([]byte{seed}, 20)
	}
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(int64(seed)*1000, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{seed}, 20)...)))
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return tx, b.Bytes()
}

// TestBlockCrossCheckBtcd assembles blocks the way the pool does (template
// txs, BuildCoinbase, MerkleBranch, WitnessCommitmentScript, Work.Header,
// SerializeBlock) and checks them with btcd's own wire decoder and
// blockchain merkle/witness validation.
func TestBlockCrossCheckBtcd(t *testing.T) {
	payout, err := btc.PayoutScript("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17} {
		for _, withWitness := range []bool{false, true} {
			var txids, wtxids [][32]byte
			var raws [][]byte
			for i := 0; i < n; i++ {
				tx, raw := witnessTx(t, byte(i+1), withWitness && i%2 == 0)
				txids = append(txids, tx.TxHash())
				wtxids = append(wtxids, tx.WitnessHash())
				raws = append(raws, raw)
			}
			var commit []byte
			if withWitness {
				commit = btc.WitnessCommitmentScript(wtxids)
			}
			cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{
				Height: 1234, ValueSats: 50e8, PayoutScript: payout, WitnessCommitment: commit,
				Tag: []byte("/hashfleet/"), Extranonce1Size: 4, Extranonce2Size: 8,
			})
			if err != nil {
				t.Fatal(err)
			}
			w := btc.Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2, Branch: btc.MerkleBranch(txids), Version: 0x20000000, Bits: 0x207fffff, Time: 1700000000}
			en1, en2 := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8, 9, 10, 11, 12}
			hdr := w.Header(en1, en2, w.Time, 42, w.Version)
			blockBytes := btc.SerializeBlock(hdr, w.Coinbase(en1, en2), raws, withWitness)

			var mb wire.MsgBlock
			r := bytes.NewReader(blockBytes)
			if err := mb.Deserialize(r); err != nil {
				t.Fatalf("n=%d witness=%v: wire cannot parse block: %v", n, withWitness, err)
			}
			if r.Len() != 0 {
				t.Fatalf("n=%d: %d trailing bytes", n, r.Len())
			}
			var re bytes.Buffer
			_ = mb.Serialize(&re)
			if !bytes.Equal(re.Bytes(), blockBytes) {
				t.Errorf("n=%d witness=%v: block does not re-serialize identically", n, withWitness)
			}
			if got, want := [32]byte(mb.Header.BlockHash()), btc.BlockHash(&hdr); got != want {
				t.Errorf("n=%d: block hash %x, want %x", n, got, want)
			}
			blk := btcutil.NewBlock(&mb)
			if got, want := blockchain.CalcMerkleRoot(blk.Transactions(), false), mb.Header.MerkleRoot; got != want {
				t.Errorf("n=%d witness=%v: header merkle root %s, btcd computes %s", n, withWitness, want, got)
			}
			cbw := mb.Transactions[0].TxIn[0].Witness
			if withWitness {
				if len(cbw) != 1 || !bytes.Equal(cbw[0], make([]byte, 32)) {
					t.Errorf("n=%d: coinbase witness %x, want one 32-byte zero item", n, cbw)
				}
			} else if len(cbw) != 0 {
				t.Errorf("n=%d: coinbase witness %x, want none", n, cbw)
			}
			if err := blockchain.ValidateWitnessCommitment(blk); err != nil {
				t.Errorf("n=%d witness=%v: btcd ValidateWitnessCommitment: %v", n, withWitness, err)
			}
			if got, want := [32]byte(mb.Transactions[0].TxHash()), w.CoinbaseTxID(en1, en2); got != want {
				t.Errorf("n=%d: coinbase txid %x, want %x", n, got, want)
			}
		}
	}
}
