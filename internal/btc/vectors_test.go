package btc

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustHash(t testing.TB, display string) [32]byte {
	t.Helper()
	h, err := ParseHash("test", display)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustInternal(t testing.TB, s string) [32]byte {
	t.Helper()
	var h [32]byte
	if n := copy(h[:], mustHex(t, s)); n != 32 {
		t.Fatalf("hash %q has %d bytes", s, n)
	}
	return h
}

// Vector A (mining-protocols.md §1.8): public-pool share with version rolling.
const (
	vaEn1      = "57a6f098"
	vaEn2      = "c7080000"
	vaNTime    = "64b3f3ec"
	vaNonce    = "ed460d91"
	vaVerBits  = "00002000"
	vaMask     = "1fffe000"
	vaVersion  = "20000000"
	vaNBits    = "192495f8"
	vaPrevGBT  = "00000000000000022246451e9af7ac4f8bff2527d223f6e623740e92171592f2"
	vaPrevStr  = "171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000"
	vaCoinb1   = "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1903c943255c7075626c69632d706f6f6c5c"
	vaCoinb2   = "ffffffff037a90000000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc3b0f250000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc0000000000000000266a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c00000000"
	vaCbTxid   = "965f023fa72e099e58f4b1250c2295b52283828959cd368318cfdcbe57df4bec"
	vaRoot     = "6b5d684a704b4abe62b2375c5326d1fc1dbb61168aff84e920ba28968bf1075f"
	vaHeader   = "00200020f2921517920e7423e6f623d22725ff8b4facf79a1e45462202000000000000006b5d684a704b4abe62b2375c5326d1fc1dbb61168aff84e920ba28968bf1075fecf3b364f8952419910d46ed"
	vaHash     = "000000000061d52983863e5c424c00d9e0981874fddf6a8493433e73928a3e4e"
	vaUsedVers = 0x20002000
)

var vaBranch = []string{
	"175335649d5e8746982969ec88f52e85ac9917106fba5468e699c8879ab974a1",
	"d5644ab3e708c54cd68dc5aedc92b8d3037449687f92ec41ed6e37673d969d4a",
	"5c9ec187517edc0698556cca5ce27e54c96acb014770599ed9df4d4937fbf2b0",
}

func TestVectorAPublicPoolShare(t *testing.T) {
	w, err := ParseNotify(vaPrevStr, vaCoinb1, vaCoinb2, vaBranch, vaVersion, vaNBits, vaNTime)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.PrevHash, mustHash(t, vaPrevGBT); got != want {
		t.Errorf("prevhash: got %x, want %x", got, want)
	}
	en1, en2 := mustHex(t, vaEn1), mustHex(t, vaEn2)
	if got, want := HashString(w.CoinbaseTxID(en1, en2)), vaCbTxid; got != want {
		t.Errorf("coinbase txid: got %s, want %s", got, want)
	}
	if got, want := w.MerkleRoot(en1, en2), mustInternal(t, vaRoot); got != want {
		t.Errorf("merkle root: got %x, want %x", got, want)
	}
	verBits, _ := ParseHexUint32("version_bits", vaVerBits)
	mask, _ := ParseHexUint32("mask", vaMask)
	nonce, _ := ParseHexUint32("nonce", vaNonce)
	ver := RollVersion(w.Version, verBits, mask)
	if ver != vaUsedVers {
		t.Errorf("rolled version: got %08x, want %08x", ver, vaUsedVers)
	}
	hdr := w.Header(en1, en2, w.Time, nonce, ver)
	if got, want := hex.EncodeToString(hdr[:]), vaHeader; got != want {
		t.Errorf("header:\n got %s\nwant %s", got, want)
	}
	h := BlockHash(&hdr)
	if got, want := HashString(h), vaHash; got != want {
		t.Errorf("hash: got %s, want %s", got, want)
	}
	d := HashDifficulty(h)
	if d < 669.868 || d > 669.869 {
		t.Errorf("share difficulty: got %v, want 669.868…", d)
	}
	if !(d >= 512) {
		t.Errorf("share difficulty %v below 512", d)
	}
	target512, _ := DifficultyToTarget(512)
	if !MeetsTarget(&h, &target512) {
		t.Errorf("hash does not meet difficulty 512 target")
	}
	netTarget, err := CompactToTarget(w.Bits)
	if err != nil {
		t.Fatal(err)
	}
	if MeetsTarget(&h, &netTarget) {
		t.Errorf("hash meets the network target; it must not")
	}
	if got := TargetToDifficulty(netTarget); math.Abs(got-117392538.87) > 0.01 {
		t.Errorf("network difficulty: got %.2f, want 117392538.87", got)
	}
	if got := StratumPrevHash(w.PrevHash); got != vaPrevStr {
		t.Errorf("StratumPrevHash: got %s, want %s", got, vaPrevStr)
	}
	if got := w.Coinbase(en1, en2); !bytes.Equal(got, mustHex(t, vaCoinb1+vaEn1+vaEn2+vaCoinb2)) {
		t.Errorf("coinbase: got %x", got)
	}
}
