package btc

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func seqHashes(n int, salt byte) [][32]byte {
	hs := make([][32]byte, n)
	for i := range hs {
		hs[i] = TxID([]byte{salt, byte(i), byte(i >> 8)})
	}
	return hs
}

// TestMerkleBranchAgreesWithTree checks that folding the coinbase txid
// through MerkleBranch gives the full-tree root for every count 0..70,
// including all odd counts.
func TestMerkleBranchAgreesWithTree(t *testing.T) {
	cb := TxID([]byte("coinbase"))
	for n := 0; n <= 70; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			txids := seqHashes(n, 7)
			orig := append([][32]byte(nil), txids...)
			branch := MerkleBranch(txids)
			wantLen := 0
			for (1 << wantLen) < n+1 {
				wantLen++
			}
			if len(branch) != wantLen {
				t.Errorf("branch length: got %d, want %d", len(branch), wantLen)
			}
			leaves := append([][32]byte{cb}, txids...)
			if got, want := MerkleRoot(cb, branch), MerkleTreeRoot(leaves); got != want {
				t.Errorf("root: got %x, want %x", got, want)
			}
			for i := range txids {
				if txids[i] != orig[i] {
					t.Fatalf("MerkleBranch modified its input at %d", i)
				}
			}
		})
	}
}

func TestMerkleTreeRootSmall(t *testing.T) {
	a, b, c := TxID([]byte("a")), TxID([]byte("b")), TxID([]byte("c"))
	tests := []struct {
		name   string
		leaves [][32]byte
		want   [32]byte
	}{
		{name: "none", leaves: nil, want: [32]byte{}},
		{name: "one", leaves: [][32]byte{a}, want: a},
		{name: "two", leaves: [][32]byte{a, b}, want: hashPair(&a, &b)},
		{name: "three duplicates last", leaves: [][32]byte{a, b, c}, want: func() [32]byte {
			l, r := hashPair(&a, &b), hashPair(&c, &c)
			return hashPair(&l, &r)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MerkleTreeRoot(tt.leaves); got != tt.want {
				t.Errorf("got %x, want %x", got, tt.want)
			}
		})
	}
}

func TestNormalizeCommitment(t *testing.T) {
	c := WitnessCommitment(nil)
	full := WitnessCommitmentScript(nil)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr bool
	}{
		{name: "nil", in: nil, want: nil},
		{name: "32 bytes (btcd)", in: c[:], want: full},
		{name: "38 bytes (core)", in: full, want: full},
		{name: "38 bytes wrong magic", in: append([]byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xee}, c[:]...), wantErr: true},
		{name: "37 bytes", in: full[:37], wantErr: true},
		{name: "39 bytes", in: append(append([]byte{}, full...), 0), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeCommitment(tt.in)
			if tt.wantErr {
				if fe, ok := errors.AsType[*FieldError](err); !ok || fe.Field != "WitnessCommitment" {
					t.Fatalf("got (%x, %v), want *FieldError for WitnessCommitment", got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got (%x, %v), want %x", got, err, tt.want)
			}
			if len(tt.in) == 38 && len(got) > 0 && &got[0] == &tt.in[0] {
				t.Errorf("returned the caller's slice, want a copy")
			}
		})
	}
}

// TestWitnessCommitmentManual recomputes a 2-tx commitment by hand.
func TestWitnessCommitmentManual(t *testing.T) {
	w1 := TxID([]byte("wtx1"))
	var zero [32]byte
	root := hashPair(&zero, &w1)
	want := hashPair(&root, &zero)
	if got := WitnessCommitment([][32]byte{w1}); got != want {
		t.Errorf("got %x, want %x", got, want)
	}
	if got := WitnessCommitmentScript([][32]byte{w1}); !bytes.Equal(got, append(append([]byte{}, WitnessMagic...), want[:]...)) {
		t.Errorf("script: got %x", got)
	}
}

// TestLargeCoinbaseTxID covers coinbases beyond the stack buffer.
func TestLargeCoinbaseTxID(t *testing.T) {
	for _, n := range []int{MaxStackCoinbase - 20, MaxStackCoinbase - 12, MaxStackCoinbase - 11, 5000} {
		w := Work{Coinb1: bytes.Repeat([]byte{1}, 10), Coinb2: bytes.Repeat([]byte{2}, n)}
		en1, en2 := []byte{3, 3, 3, 3}, []byte{4, 4, 4, 4, 4, 4, 4, 4}
		if got, want := w.CoinbaseTxID(en1, en2), TxID(w.Coinbase(en1, en2)); got != want {
			t.Errorf("coinb2 %d bytes: got %x, want %x", n, got, want)
		}
	}
}
