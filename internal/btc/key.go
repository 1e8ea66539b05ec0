package btc

import (
	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// NewKey makes a fresh secp256k1 key and returns its P2WPKH address for
// the network (bcrt1q… on regtest) and the private key in WIF (compressed),
// which spends what the address receives.
func NewKey(params *chaincfg.Params) (addr, wif string, err error) {
	if params == nil {
		return "", "", fieldErr("params", "nil network parameters")
	}
	key, err := btcec.NewPrivateKey()
	if err != nil {
		return "", "", &FieldError{Field: "key", Reason: "cannot make a key", Err: err}
	}
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), params)
	if err != nil {
		return "", "", &FieldError{Field: "address", Reason: "cannot build P2WPKH address", Err: err}
	}
	w, err := btcutil.NewWIF(key, params, true)
	if err != nil {
		return "", "", &FieldError{Field: "key", Reason: "cannot encode WIF", Err: err}
	}
	return a.EncodeAddress(), w.String(), nil
}
