package btc

import (
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// PayoutScript decodes addr for the network params and returns the output
// script that pays it. Only P2PKH, P2SH, P2WPKH, P2WSH and P2TR addresses
// are accepted; raw public keys, pay-to-anchor and unknown witness versions
// are refused. An address for another network, a bad checksum or an
// unknown format yields a *FieldError with Field "address".
func PayoutScript(addr string, params *chaincfg.Params) ([]byte, error) {
	if params == nil {
		return nil, fieldErr("params", "nil network parameters")
	}
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, fieldErr("address", "empty")
	}
	a, err := address.DecodeAddress(addr, params)
	if err != nil {
		return nil, &FieldError{Field: "address", Reason: "cannot decode " + quoteShort(addr), Err: err}
	}
	switch a.(type) {
	case *address.AddressPubKeyHash, *address.AddressScriptHash,
		*address.AddressWitnessPubKeyHash, *address.AddressWitnessScriptHash,
		*address.AddressTaproot:
	default:
		return nil, fieldErr("address", "%s: unsupported address type %T (want P2PKH, P2SH, P2WPKH, P2WSH or P2TR)", quoteShort(addr), a)
	}
	if !a.IsForNet(params) {
		return nil, fieldErr("address", "%s is not a %s address", quoteShort(addr), params.Name)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, &FieldError{Field: "address", Reason: "cannot build script for " + quoteShort(addr), Err: err}
	}
	return script, nil
}

// NetworkParams returns btcd's parameters for a network name as used on
// the command line: "mainnet" (or "main"), "testnet" (testnet3), "testnet3",
// "testnet4", "signet", "regtest", "simnet". Unknown names yield a
// *FieldError with Field "network".
func NetworkParams(name string) (*chaincfg.Params, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "mainnet", "main", "bitcoin":
		return &chaincfg.MainNetParams, nil
	case "testnet", "testnet3", "test":
		return &chaincfg.TestNet3Params, nil
	case "testnet4":
		return &chaincfg.TestNet4Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest", "regression":
		return &chaincfg.RegressionNetParams, nil
	case "simnet":
		return &chaincfg.SimNetParams, nil
	}
	return nil, fieldErr("network", "unknown network %s (want mainnet, testnet, testnet4, signet, regtest or simnet)", quoteShort(name))
}

// quoteShort quotes s for an error message, cutting it to a sane length.
func quoteShort(s string) string {
	const max = 100
	if len(s) > max {
		s = s[:max] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
