package job

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// p2wpkh is a payout script for tests.
var p2wpkh = append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0x42}, 20)...)

var testParams = BuildParams{PayoutScript: p2wpkh, Tag: []byte("/hashfleet/"), Extranonce1Size: 4, Extranonce2Size: 8}

// fixtureTemplate parses one of chain's captured getblocktemplate replies.
func fixtureTemplate(t testing.TB, name string) *chain.Template {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "chain", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Body struct {
			Result json.RawMessage `json:"result"`
		} `json:"body"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	tpl, err := chain.ParseTemplate(f.Body.Result)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// decodeBlock parses an assembled block with btcd's wire package.
func decodeBlock(t *testing.T, raw []byte) *wire.MsgBlock {
	t.Helper()
	var msg wire.MsgBlock
	if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatalf("assembled block does not decode: %v", err)
	}
	return &msg
}

func TestNewJobAssemblesValidBlocks(t *testing.T) {
	tests := []struct {
		name        string
		fixture     string
		wantTxs     int
		wantWitness bool
	}{
		{name: "btcd coinbase only (no segwit signal)", fixture: "btcd_gbt_empty", wantTxs: 0, wantWitness: false},
		{name: "btcd witness and legacy txs", fixture: "btcd_gbt_mixed_txs", wantTxs: 6, wantWitness: true},
		{name: "core coinbase only", fixture: "core_gbt_empty", wantTxs: 0, wantWitness: true},
		{name: "core witness and legacy txs", fixture: "core_gbt_txs", wantTxs: 6, wantWitness: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := fixtureTemplate(t, tc.fixture)
			j, err := NewJob("1", tpl, testParams, true, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if j.CommitmentMismatch {
				t.Errorf("CommitmentMismatch: got true for the node's own commitment")
			}
			if j.Witness != tc.wantWitness {
				t.Errorf("Witness: got %v, want %v", j.Witness, tc.wantWitness)
			}
			en1, en2 := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8, 9, 10, 11, 12}
			raw := j.AssembleBlock(en1, en2, j.Time+5, 77, j.Version)
			msg := decodeBlock(t, raw)
			if got := len(msg.Transactions) - 1; got != tc.wantTxs {
				t.Fatalf("txs: got %d, want %d", got, tc.wantTxs)
			}
			// Header fields.
			h := msg.Header
			if [32]byte(h.PrevBlock) != tpl.PrevHash || h.Bits != tpl.Bits || uint32(h.Version) != tpl.Version ||
				uint32(h.Timestamp.Unix()) != j.Time+5 || h.Nonce != 77 {
				t.Errorf("header fields: got %+v", h)
			}
			// The stratum merkle branch folds to the full tree's root.
			var txids, wtxids [][32]byte
			for i, tx := range msg.Transactions {
				txids = append(txids, tx.TxHash())
				if i > 0 {
					wtxids = append(wtxids, tx.WitnessHash())
				}
			}
			if got, want := [32]byte(h.MerkleRoot), btc.MerkleTreeRoot(txids); got != want {
				t.Errorf("merkle root: got %x, want %x", got, want)
			}
			w := j.Work()
			if got := w.MerkleRoot(en1, en2); got != [32]byte(h.MerkleRoot) {
				t.Errorf("Work.MerkleRoot: got %x, want %x", got, h.MerkleRoot)
			}
			// Block hash equals the share hash Check computes.
			hdr := w.Header(en1, en2, j.Time+5, 77, j.Version)
			if got := btc.BlockHash(&hdr); got != [32]byte(msg.BlockHash()) {
				t.Errorf("block hash: got %x, want %x", got, msg.BlockHash())
			}
			cb := msg.Transactions[0]
			if !bytes.Equal(cb.TxIn[0].SignatureScript[len(cb.TxIn[0].SignatureScript)-12:], append(en1, en2...)) {
				t.Errorf("scriptSig does not end with en1||en2: %x", cb.TxIn[0].SignatureScript)
			}
			if cb.TxOut[0].Value != tpl.CoinbaseValueSats || !bytes.Equal(cb.TxOut[0].PkScript, p2wpkh) {
				t.Errorf("payout: got %d to %x", cb.TxOut[0].Value, cb.TxOut[0].PkScript)
			}
			last := cb.TxOut[len(cb.TxOut)-1].PkScript
			if tc.wantWitness {
				if want := btc.WitnessCommitmentScript(wtxids); !bytes.Equal(last, want) {
					t.Errorf("commitment output: got %x, want %x", last, want)
				}
				if tpl.WitnessCommitment != nil && !bytes.Equal(last, tpl.WitnessCommitment) {
					t.Errorf("commitment differs from node's: got %x, want %x", last, tpl.WitnessCommitment)
				}
				if len(cb.TxIn[0].Witness) != 1 || !bytes.Equal(cb.TxIn[0].Witness[0], make([]byte, 32)) {
					t.Errorf("coinbase witness: got %x, want one 32-byte zero item", cb.TxIn[0].Witness)
				}
			} else if cb.HasWitness() || len(cb.TxOut) != 1 {
				t.Errorf("coinbase-only btcd block must carry no witness/commitment")
			}
			// The template's transactions follow the coinbase verbatim.
			for i, tx := range tpl.Txs {
				var buf bytes.Buffer
				_ = msg.Transactions[i+1].Serialize(&buf)
				if !bytes.Equal(buf.Bytes(), tx.Data) {
					t.Errorf("tx %d not copied verbatim", i)
				}
			}
		})
	}
}

func TestNewJobBothDialectsAgree(t *testing.T) {
	p := testParams
	p.NoAuxFlags = true // btcd sends coinbaseaux flags, Core does not
	a, err := NewJob("a", fixtureTemplate(t, "btcd_gbt_mixed_txs"), p, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewJob("b", fixtureTemplate(t, "core_gbt_txs"), p, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Coinb1, b.Coinb1) || !bytes.Equal(a.Coinb2, b.Coinb2) {
		t.Errorf("coinbase differs:\nbtcd %x|%x\ncore %x|%x", a.Coinb1, a.Coinb2, b.Coinb1, b.Coinb2)
	}
	if len(a.Branch) != 3 || len(b.Branch) != 3 {
		t.Fatalf("branch length: got %d and %d, want 3 (7 txs)", len(a.Branch), len(b.Branch))
	}
	for i := range a.Branch {
		if a.Branch[i] != b.Branch[i] {
			t.Errorf("branch[%d] differs", i)
		}
	}
}

func TestNewJobDistrustsNodeCommitment(t *testing.T) {
	tpl := *fixtureTemplate(t, "core_gbt_txs")
	good := append([]byte(nil), tpl.WitnessCommitment...)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1
	tpl.WitnessCommitment = bad
	j, err := NewJob("1", &tpl, testParams, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !j.CommitmentMismatch {
		t.Error("CommitmentMismatch: got false, want true")
	}
	if !bytes.Contains(j.Coinb2, good) || bytes.Contains(j.Coinb2, bad) {
		t.Error("coinbase must carry the recomputed commitment, not the node's")
	}
}

func TestNewJobErrors(t *testing.T) {
	tpl := fixtureTemplate(t, "btcd_gbt_empty")
	tests := []struct {
		name string
		tpl  *chain.Template
		p    BuildParams
	}{
		{name: "nil template", tpl: nil, p: testParams},
		{name: "no payout", tpl: tpl, p: BuildParams{Extranonce1Size: 4, Extranonce2Size: 8}},
		{name: "scriptSig over 100 bytes", tpl: tpl, p: BuildParams{PayoutScript: p2wpkh, Tag: bytes.Repeat([]byte{'x'}, 90), Extranonce1Size: 4, Extranonce2Size: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewJob("1", tc.tpl, tc.p, true, time.Time{}); err == nil {
				t.Error("got no error")
			}
		})
	}
}
