package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/btc"
)

func TestAddressCmd(t *testing.T) {
	key := filepath.Join(t.TempDir(), "payout.wif")
	cmd := newAddressCmd()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--key-file", key})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(out.String())
	params, _ := btc.NetworkParams("regtest")
	if _, err := btc.PayoutScript(addr, params); err != nil || !strings.HasPrefix(addr, "bcrt1q") {
		t.Fatalf("printed %q: %v, want one regtest P2WPKH address", out.String(), err)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want 0600", err, fi.Mode())
	}
	wif, _ := os.ReadFile(key)
	if strings.Contains(out.String(), strings.TrimSpace(string(wif))) {
		t.Fatal("the private key was printed")
	}
	// An existing key file is never overwritten.
	cmd = newAddressCmd()
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--key-file", key})
	if err := cmd.Execute(); err == nil {
		t.Fatal("overwrote an existing key file")
	}
}
