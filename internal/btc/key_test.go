package btc

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// TestNewKey: the address is a P2WPKH of the network, PayoutScript takes
// it, and the WIF key is the one the address pays.
func TestNewKey(t *testing.T) {
	params := &chaincfg.RegressionNetParams
	addr, wif, err := NewKey(params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "bcrt1q") {
		t.Fatalf("regtest address %q, want bcrt1q…", addr)
	}
	if _, err := PayoutScript(addr, params); err != nil {
		t.Fatalf("PayoutScript(%s): %v", addr, err)
	}
	w, err := btcutil.DecodeWIF(wif)
	if err != nil || !w.IsForNet(params) || !w.CompressPubKey {
		t.Fatalf("WIF %q: %v (for regtest %v)", wif, err, err == nil && w.IsForNet(params))
	}
	back, err := address.NewAddressWitnessPubKeyHash(address.Hash160(w.PrivKey.PubKey().SerializeCompressed()), params)
	if err != nil || back.EncodeAddress() != addr {
		t.Fatalf("WIF key pays %v (%v), want %s", back, err, addr)
	}
	if a2, _, _ := NewKey(params); a2 == addr {
		t.Fatal("two calls gave the same address")
	}
	if _, err := PayoutScript(addr, &chaincfg.MainNetParams); err == nil {
		t.Fatal("regtest address accepted for mainnet")
	}
}
