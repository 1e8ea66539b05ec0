package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// BenchmarkSubmitBlockDataDir measures submitblock over RPC on a node with
// an on-disk data dir: the time from sending a solved block to the node's
// "accepted" answer, which includes making the block crash-safe. Building
// and solving the block is not timed.
func BenchmarkSubmitBlockDataDir(b *testing.B) {
	n := nodetest.StartEmbeddedConfig(b, node.Config{DataDir: b.TempDir()})
	ctx := context.Background()
	next := func(i int) *wire.MsgBlock {
		tmpl, err := n.GetBlockTemplate(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		msg, err := nodetest.NewBlock(tmpl, []byte{0x51}, int64(i))
		if err != nil {
			b.Fatal(err)
		}
		if err := nodetest.Solve(&msg.Header); err != nil {
			b.Fatal(err)
		}
		return msg
	}
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		msg := next(i)
		b.StartTimer()
		start := time.Now()
		res, err := n.SubmitBlock(ctx, msg)
		total += time.Since(start)
		if err != nil || res != "" {
			b.Fatalf("submitblock: %q %v", res, err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/submit")
}
