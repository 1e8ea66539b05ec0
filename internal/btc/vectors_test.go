package btc

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
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

// Vector B (mining-protocols.md §1.8): mainnet block 125552.
var vbTxids = []string{ // display order
	"51d37bdd871c9e1f4d5541be67a6ab625e32028744d7d4609d0c37747b40cd2d", // coinbase
	"60c25dda8d41f8d3d7d5c6249e2ea1b05a25bf7ae2ad6d904b512b31f997e1a1",
	"01f314cdd8566d3e5dbdd97de2d9fbfbfd6873e916a00d48758282cbb81a45b9",
	"b519286a1040da6ad83c783eb2872659eaf57b1bec088e614776ffe7dc8f6d01",
}

const (
	vbBranch0    = "a1e197f9312b514b906dade27abf255ab0a12e9e24c6d5d7d3f8418dda5dc260"
	vbBranch1    = "5e996cc3307b11be5acab562575c583aba2f125ae82137bace5396db4b95aebf"
	vbOddBranch1 = "97cf15f55b6701d25728c6778756ba267aaba7aeb39647f6702b4f6c39eac9d3"
	vbRoot       = "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3" // display
	vbPrevGBT    = "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81"
	vbPrevStr    = "ab02cd818b9e567ee21793cddef299feb29ad444a41b85b8000008a300000000"
	vbHeader     = "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695"
	vbHashInt    = "1dbd981fe6985776b644b173a4d0385ddc1aa2a829688d1e0000000000000000"
	vbHashDisp   = "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d"
)

func vbIDs(t testing.TB) [][32]byte {
	ids := make([][32]byte, len(vbTxids))
	for i, s := range vbTxids {
		ids[i] = mustHash(t, s)
	}
	return ids
}

func TestVectorBBlock125552(t *testing.T) {
	ids := vbIDs(t)
	branch := MerkleBranch(ids[1:])
	want := [][32]byte{mustInternal(t, vbBranch0), mustInternal(t, vbBranch1)}
	if len(branch) != len(want) {
		t.Fatalf("branch length: got %d, want %d", len(branch), len(want))
	}
	for i := range want {
		if branch[i] != want[i] {
			t.Errorf("branch[%d]: got %x, want %x", i, branch[i], want[i])
		}
	}
	root := MerkleRoot(ids[0], branch)
	if got := HashString(root); got != vbRoot {
		t.Errorf("merkle root: got %s, want %s", got, vbRoot)
	}
	if got := MerkleTreeRoot(ids); got != root {
		t.Errorf("MerkleTreeRoot: got %x, want %x", got, root)
	}
	prev, err := ParseStratumPrevHash(vbPrevStr)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHash(t, vbPrevGBT); prev != want {
		t.Errorf("prevhash: got %x, want %x", prev, want)
	}
	if got := StratumPrevHash(prev); got != vbPrevStr {
		t.Errorf("StratumPrevHash: got %s, want %s", got, vbPrevStr)
	}
	ver, _ := ParseHexUint32("version", "00000001")
	ntime, _ := ParseHexUint32("ntime", "4dd7f5c7")
	nbits, _ := ParseHexUint32("nbits", "1a44b9f2")
	nonce, _ := ParseHexUint32("nonce", "9546a142")
	hdr := NewHeader(ver, prev, root, ntime, nbits, nonce)
	if got := hex.EncodeToString(hdr[:]); got != vbHeader {
		t.Errorf("header:\n got %s\nwant %s", got, vbHeader)
	}
	h := BlockHash(&hdr)
	if got := hex.EncodeToString(h[:]); got != vbHashInt {
		t.Errorf("hash (internal): got %s, want %s", got, vbHashInt)
	}
	if got := HashString(h); got != vbHashDisp {
		t.Errorf("hash (display): got %s, want %s", got, vbHashDisp)
	}
	target, err := CompactToTarget(nbits)
	if err != nil {
		t.Fatal(err)
	}
	if !MeetsTarget(&h, &target) {
		t.Errorf("block hash does not meet its own nbits target")
	}
	if got := TargetToDifficulty(target); math.Abs(got-244112.49) > 0.005 {
		t.Errorf("difficulty of 1a44b9f2: got %.3f, want 244112.49", got)
	}
	if got := TargetToCompact(target); got != nbits {
		t.Errorf("TargetToCompact: got %08x, want %08x", got, nbits)
	}
}

func TestVectorBOddBranch(t *testing.T) {
	ids := vbIDs(t)
	branch := MerkleBranch(ids[1:3])
	want := [][32]byte{mustInternal(t, vbBranch0), mustInternal(t, vbOddBranch1)}
	if len(branch) != len(want) {
		t.Fatalf("branch length: got %d, want %d", len(branch), len(want))
	}
	for i := range want {
		if branch[i] != want[i] {
			t.Errorf("branch[%d]: got %x, want %x", i, branch[i], want[i])
		}
	}
	if got, want := MerkleRoot(ids[0], branch), MerkleTreeRoot(ids[:3]); got != want {
		t.Errorf("root: got %x, want %x", got, want)
	}
}

// Vector C (mining-protocols.md §1.8): the genesis block.
const (
	vcHeader = "01000000" + "0000000000000000000000000000000000000000000000000000000000000000" +
		"3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a" + "29ab5f49ffff001d1dac2b7c"
	vcHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
)

func TestVectorCGenesis(t *testing.T) {
	gb := chaincfg.MainNetParams.GenesisBlock
	var cb bytes.Buffer
	if err := gb.Transactions[0].SerializeNoWitness(&cb); err != nil {
		t.Fatal(err)
	}
	w := Work{Coinb1: cb.Bytes()[:10], Coinb2: cb.Bytes()[10:], Version: 1, Bits: 0x1d00ffff, Time: 0x495fab29}
	hdr := w.Header(nil, nil, w.Time, 0x7c2bac1d, w.Version)
	if got := hex.EncodeToString(hdr[:]); got != vcHeader {
		t.Errorf("header:\n got %s\nwant %s", got, vcHeader)
	}
	h := BlockHash(&hdr)
	if got := HashString(h); got != vcHash {
		t.Errorf("hash: got %s, want %s", got, vcHash)
	}
	if got, want := chainhash.Hash(h), gb.Header.BlockHash(); got != want {
		t.Errorf("hash vs btcd: got %s, want %s", got, want)
	}
	if !MeetsTarget(&h, &Diff1Target) {
		t.Errorf("genesis hash does not meet difficulty 1")
	}
	var full bytes.Buffer
	if err := gb.Serialize(&full); err != nil {
		t.Fatal(err)
	}
	if got := SerializeBlock(hdr, cb.Bytes(), nil, false); !bytes.Equal(got, full.Bytes()) {
		t.Errorf("SerializeBlock(genesis):\n got %x\nwant %x", got, full.Bytes())
	}
}

// Vector D (mining-protocols.md §1.8): witness commitment of a coinbase-only block.
const vdScript = "6a24aa21a9ed" + "e2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9"

func TestVectorDEmptyWitnessCommitment(t *testing.T) {
	if got := hex.EncodeToString(WitnessCommitmentScript(nil)); got != vdScript {
		t.Errorf("WitnessCommitmentScript(nil): got %s, want %s", got, vdScript)
	}
	c := WitnessCommitment(nil)
	if got := hex.EncodeToString(c[:]); got != vdScript[12:] {
		t.Errorf("WitnessCommitment(nil): got %s, want %s", got, vdScript[12:])
	}
	norm, err := NormalizeCommitment(c[:])
	if err != nil || hex.EncodeToString(norm) != vdScript {
		t.Errorf("NormalizeCommitment(32 bytes): got %x, %v; want %s", norm, err, vdScript)
	}
}

// TestVectorABuildCoinbase rebuilds vector A's coinb1 (public-pool layout:
// height push, raw tag, then the extranonce slot).
func TestVectorABuildCoinbase(t *testing.T) {
	payout := mustHex(t, "0014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc")
	commit := mustHex(t, "6a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c")
	cb, err := BuildCoinbase(CoinbaseConfig{
		Height: 2442185, ValueSats: 0x250f3b, PayoutScript: payout, WitnessCommitment: commit,
		Tag: []byte(`\public-pool\`), Extranonce1Size: 4, Extranonce2Size: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(cb.Coinb1); got != vaCoinb1 {
		t.Errorf("coinb1:\n got %s\nwant %s", got, vaCoinb1)
	}
	// Ours differs from public-pool's only in nSequence, the single payout
	// output and nLockTime = height-1 = 2442184 = 0x2543c8.
	wantCoinb2 := "feffffff" + "02" +
		"3b0f250000000000" + "16" + "0014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc" +
		"0000000000000000" + "26" + "6a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c" +
		"c8432500"
	if got := hex.EncodeToString(cb.Coinb2); got != wantCoinb2 {
		t.Errorf("coinb2:\n got %s\nwant %s", got, wantCoinb2)
	}
}
