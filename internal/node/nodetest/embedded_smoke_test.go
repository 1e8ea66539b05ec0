package nodetest_test

import (
	"testing"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

func TestEmbeddedWallet(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	w := nodetest.NewWallet(t, n)
	w.Fund(t)
	if got, want := n.BlockCount(t), int64(101); got != want {
		t.Fatalf("block count: got %d, want %d", got, want)
	}
	w.SendTxs(t, 5)
	if got := len(n.Mempool(t)); got != 5 {
		t.Fatalf("mempool: got %d txs, want 5", got)
	}
	b := w.MineBlock(t)
	if got, want := len(b.Transactions), 6; got != want {
		t.Fatalf("block txs: got %d, want %d", got, want)
	}
	if got := len(n.Mempool(t)); got != 0 {
		t.Fatalf("mempool after block: got %d txs, want 0", got)
	}
	hashes := n.Generate(t, 2, "")
	if got := n.BestBlockHash(t); got != hashes[1] {
		t.Fatalf("best: got %s, want %s", got, hashes[1])
	}
	dw := nodetest.NewWalletWithKey(t, n, nodetest.DefaultKey())
	dw.Rescan(t)
	if got, want := dw.Balance(), int64(2*50e8); got != want {
		t.Errorf("default wallet balance: got %d, want %d", got, want)
	}
	n.Restart(t)
	if got, want := n.BlockCount(t), int64(104); got != want {
		t.Fatalf("after restart: got %d, want %d", got, want)
	}
}
