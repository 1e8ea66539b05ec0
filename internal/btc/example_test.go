package btc_test

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
)

// Example builds a regtest job for a coinbase-only block and the header a
// miner would hash for one extranonce2 and nonce.
func Example() {
	payout, err := btc.PayoutScript("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", &chaincfg.RegressionNetParams)
	if err != nil {
		panic(err)
	}
	cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{
		Height: 1, ValueSats: 50e8, PayoutScript: payout,
		WitnessCommitment: btc.WitnessCommitmentScript(nil),
		Tag:               []byte("/hashfleet/"), Extranonce1Size: 4, Extranonce2Size: 8,
	})
	if err != nil {
		panic(err)
	}
	w := btc.Work{Coinb1: cb.Coinb1, Coinb2: cb.Coinb2, Version: 0x20000000, Bits: 0x207fffff, Time: 1700000000}
	en1, en2 := []byte{0, 0, 0, 1}, make([]byte, 8)
	hdr := w.Header(en1, en2, w.Time, 0, w.Version)
	block := btc.SerializeBlock(hdr, w.Coinbase(en1, en2), nil, true)
	fmt.Printf("coinb1 %x\n", cb.Coinb1)
	fmt.Printf("block %d bytes\n", len(block))
	// Output:
	// coinb1 02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff18512f68617368666c6565742f
	// block 270 bytes
}
