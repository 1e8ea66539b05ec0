package loadgen

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// Chain is the template source of a scale run: a chain whose blocks need
// difficulty 1 (bits 1d00ffff, Bitcoin's minimum), so a share at the low
// difficulty the load asks for is never a block, and whose tip moves only
// when Advance is called. A regtest node cannot serve this purpose: its
// network difficulty (4.7e-10) is below any share difficulty, so there
// every share is a block and the load would be a block flood. It serves
// longpoll like a node. Safe for concurrent use.
type Chain struct {
	mu      sync.Mutex
	tpl     *chain.Template
	changed chan struct{}
	blocks  int
}

// chainBits is difficulty 1.
const chainBits = 0x1d00ffff

// NewChain returns a chain at height 100.
func NewChain() *Chain {
	c := &Chain{changed: make(chan struct{})}
	c.setTip(100)
	return c
}

func (c *Chain) setTip(height int64) {
	var prev [32]byte
	rand.Read(prev[:])
	target, _ := btc.CompactToTarget(chainBits)
	now := uint32(time.Now().Unix())
	c.tpl = &chain.Template{
		Version: 0x20000000, PrevHash: prev, Bits: chainBits,
		CurTime: now, MinTime: now - 600, Height: height,
		CoinbaseValueSats: 50_0000_0000, Target: target,
		LongPollID: fmt.Sprintf("%x-%d", prev[:4], height),
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the tip: a block found elsewhere.
func (c *Chain) Advance(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setTip(c.tpl.Height + 1)
	return nil
}

// Height is the current tip's template height.
func (c *Chain) Height() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tpl.Height
}

// Blocks is how many blocks were submitted (a correct load submits none).
func (c *Chain) Blocks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks
}

// GetBlockTemplate returns the current template, or waits for the next
// one when longPollID names the current one.
func (c *Chain) GetBlockTemplate(ctx context.Context, longPollID string) (*chain.Template, error) {
	c.mu.Lock()
	tpl, ch := c.tpl, c.changed
	c.mu.Unlock()
	if longPollID == "" || longPollID != tpl.LongPollID {
		return tpl, nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tpl, nil
}

// SubmitBlock counts the block and moves the tip, as a node would, and
// answers null (nil).
func (c *Chain) SubmitBlock(ctx context.Context, block []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks++
	c.setTip(c.tpl.Height + 1)
	return nil
}
