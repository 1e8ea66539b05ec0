package btc

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
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

// Vector A: a real Stratum share with version rolling, from public-pool's
// test suite (github.com/benjamin-wilson/public-pool,
// test/models/MockRecording1.ts: the recorded session's mining.notify and
// mining.submit; src/models/StratumV1Client.spec.ts expects the share
// accepted at difficulty 512). The expected txid, root, header and hash
// were recomputed with Python's hashlib (mining-protocols.md §1.8 of the
// project's reference notes), not with this package.
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
// height push, raw tag, then the extranonce slot) byte for byte. coinb2 is
// not public-pool's: BuildCoinbase follows Bitcoin Core's miner (nSequence
// 0xfffffffe, nLockTime = height-1, mining-protocols.md "nLockTime and
// nSequence"; BIP54) and pays one output. Those fields are read back with
// btcd's transaction parser, an implementation independent of ours,
// rather than compared with bytes this package wrote.
func TestVectorABuildCoinbase(t *testing.T) {
	payout := mustHex(t, "0014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc")
	commit := mustHex(t, "6a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c")
	const height = 2442185
	cb, err := BuildCoinbase(CoinbaseConfig{
		Height: height, ValueSats: 0x250f3b, PayoutScript: payout, WitnessCommitment: commit,
		Tag: []byte(`\public-pool\`), Extranonce1Size: 4, Extranonce2Size: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(cb.Coinb1); got != vaCoinb1 {
		t.Errorf("coinb1:\n got %s\nwant %s", got, vaCoinb1)
	}
	en1, en2 := mustHex(t, vaEn1), mustHex(t, vaEn2)
	raw := slices.Concat(cb.Coinb1, en1, en2, cb.Coinb2)
	var tx wire.MsgTx
	if err := tx.DeserializeNoWitness(bytes.NewReader(raw)); err != nil {
		t.Fatalf("btcd cannot parse the coinbase %x: %v", raw, err)
	}
	if tx.Version != 2 || len(tx.TxIn) != 1 || tx.TxIn[0].PreviousOutPoint.Index != math.MaxUint32 ||
		tx.TxIn[0].PreviousOutPoint.Hash != (chainhash.Hash{}) {
		t.Errorf("version %d, %d inputs, prevout %v: want version 2 and one null prevout", tx.Version, len(tx.TxIn), tx.TxIn[0].PreviousOutPoint)
	}
	if got, want := tx.TxIn[0].SignatureScript, slices.Concat(mustHex(t, vaCoinb1)[42:], en1, en2); !bytes.Equal(got, want) {
		t.Errorf("scriptSig: got %x, want %x (height, tag, extranonce)", got, want)
	}
	if tx.TxIn[0].Sequence != 0xfffffffe || tx.LockTime != height-1 {
		t.Errorf("nSequence %08x, nLockTime %d: want fffffffe and %d (Core's miner)", tx.TxIn[0].Sequence, tx.LockTime, height-1)
	}
	if len(tx.TxOut) != 2 || tx.TxOut[0].Value != 0x250f3b || !bytes.Equal(tx.TxOut[0].PkScript, payout) ||
		tx.TxOut[1].Value != 0 || !bytes.Equal(tx.TxOut[1].PkScript, commit) {
		t.Errorf("outputs %+v: want the payout, then the witness commitment last", tx.TxOut)
	}
	if got, want := HashString(TxID(raw)), tx.TxHash().String(); got != want {
		t.Errorf("txid: got %s, btcd says %s", got, want)
	}
}

// Vector E: mainnet block 277647 (hash below), a real block whose coinbase
// carries a BIP34 height push. Source: btcd v0.26.2's
// blockchain/testdata/277647.dat.bz2 (in the module cache), decoded with
// btcd's wire package; the merkle branch of its coinbase (213
// transactions) was computed with btcd's blockchain.BuildMerkleTreeStore.
// The coinbase is cut into coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 (4
// bytes each after the height push, an arbitrary cut: any cut must
// rebuild the same transaction), and the job must rebuild the real
// transaction, merkle root, header and block hash byte for byte.
const (
	veHeight   = 277647
	veCoinbase = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff53038f3c040400003d8b45124d696e656420627920425443204775696c642cfabe6d6d180ec2f9a5ff672bb0b3df6e14703defe4b6570194be38428122c0b001c5445b010000000000000008000008d700000dceffffffff014b424b95000000001976a91427a1f12771de5cc3b73941664b2537c15316be4388ac00000000"
	veCbTxid   = "0fc1f998e6fc1fa43a879cea4a54fe9947e02b925ebc46237a2406c50e0f07ea"
	veHeader   = "0200000053e679859867227ce7365a95043041ec3946be2fab2668c80000000000000000c306afc96d3c0258c1952b53c660455e700451635d771fbe235cb08e2931ac36feccc0520ca303195d03ba96"
	veHash     = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"
)

var veBranch = []string{ // internal byte order, as a pool sends merkle_branch
	"d13b2b355e2ee2409ff60658165669ea9a6701cb68871ac02d588cbeea94e5d1",
	"ce942884ce161c622faee119b7b7ac0947f41a722e60555f90d675e270614236",
	"08efe8ac3436b4165800748b4fdb4b9d5b770a2cc550a0ff31045728601f25ff",
	"b902b31d8b2310e8b8cd0c5d54c0df9eb2aa7260ead268fcaf7cfe4889ba8fc2",
	"bc9740fae067b042c16cb2d404e33b505f47518974c5f21cce9a5e5f970f307d",
	"5c17fa21aa629c904ab742d32cafa3964b02e9163d0c236d2a80b7379d5f4da6",
	"1e0d4e80a2eeaacb7445d19831c32aee111a7781458f35095eae4a3033aea424",
	"16007c3cf351bc102bb58e4fc3f05734b6fbf2452d37cbe11928241db9febd83",
}

func TestVectorEMainnetBlock277647(t *testing.T) {
	raw, hdr := mustHex(t, veCoinbase), mustHex(t, veHeader)
	// The coinbase starts with the BIP34 push of the block's height.
	hs, err := HeightScript(veHeight)
	if err != nil {
		t.Fatal(err)
	}
	const sigAt = 4 + 1 + 36 + 1 // version, input count, prevout, scriptSig length
	if !bytes.Equal(raw[sigAt:sigAt+len(hs)], hs) {
		t.Fatalf("scriptSig starts %x, want the height push %x", raw[sigAt:sigAt+len(hs)], hs)
	}
	cut := sigAt + len(hs)
	coinb1, en1, en2, coinb2 := raw[:cut], raw[cut:cut+4], raw[cut+4:cut+8], raw[cut+8:]
	var prev [32]byte
	copy(prev[:], hdr[4:36])
	le := func(b []byte) string { return fmt.Sprintf("%08x", binary.LittleEndian.Uint32(b)) }
	w, err := ParseNotify(StratumPrevHash(prev), hex.EncodeToString(coinb1), hex.EncodeToString(coinb2), veBranch,
		le(hdr[0:4]), le(hdr[72:76]), le(hdr[68:72]))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Coinbase(en1, en2); !bytes.Equal(got, raw) {
		t.Errorf("coinbase rebuilt:\n got %x\nwant %x", got, raw)
	}
	if got := HashString(w.CoinbaseTxID(en1, en2)); got != veCbTxid {
		t.Errorf("coinbase txid: got %s, want %s", got, veCbTxid)
	}
	if got := w.MerkleRoot(en1, en2); !bytes.Equal(got[:], hdr[36:68]) {
		t.Errorf("merkle root: got %x, want the header's %x", got, hdr[36:68])
	}
	h := w.Header(en1, en2, w.Time, binary.LittleEndian.Uint32(hdr[76:80]), w.Version)
	if !bytes.Equal(h[:], hdr) {
		t.Errorf("header:\n got %x\nwant %s", h, veHeader)
	}
	hash := BlockHash(&h)
	if got := HashString(hash); got != veHash {
		t.Errorf("block hash: got %s, want %s", got, veHash)
	}
	target, err := CompactToTarget(w.Bits)
	if err != nil || !MeetsTarget(&hash, &target) {
		t.Errorf("block hash does not meet its nbits %08x (%v)", w.Bits, err)
	}
	// btcd's own parser agrees on the transaction.
	var tx wire.MsgTx
	if err := tx.DeserializeNoWitness(bytes.NewReader(raw)); err != nil || tx.TxHash().String() != veCbTxid {
		t.Errorf("btcd: txid %v, %v; want %s", tx.TxHash(), err, veCbTxid)
	}
}
