package job

import (
	"context"
	"encoding/hex"
	"errors"
	"time"
)

// followCallTimeout bounds one Confirmations call of the follower.
const followCallTimeout = 10 * time.Second

// followLoop follows recorded blocks until they are buried or orphaned:
// at each new tip and every BlockCheckInterval. Run starts it when there
// is a BlockChecker.
func (m *Manager) followLoop(ctx context.Context) error {
	t := time.NewTicker(m.cfg.BlockCheckInterval)
	defer t.Stop()
	for tickOrKick(ctx, t, m.tipc) {
		m.checkBlocks(ctx)
	}
	return nil
}

// checkBlocks asks the node about each followed block once, and stops at
// the first call the node does not answer (the next round retries).
func (m *Manager) checkBlocks(ctx context.Context) {
	tip := int64(-1)
	if j := m.Current(); j != nil {
		tip = j.Height - 1
	}
	for _, b := range m.book.followed(tip, m.cfg.BlockMaturity) {
		hash, err := internalHash(b.Hash)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, followCallTimeout)
		conf, err := m.cfg.Checker.Confirmations(cctx, hash)
		cancel()
		if err != nil {
			m.log.Debug("block follow: node not answering; will retry", "hash", b.Hash, "err", err)
			return
		}
		state, reason := blockState(b, conf, m.cfg.BlockMaturity)
		rec, changed := m.book.follow(b.Hash, state, reason, conf)
		if !changed {
			continue
		}
		m.met.blockStates.WithLabelValues(state).Inc()
		if state == BlockOrphaned {
			m.log.Warn("block orphaned", "height", rec.Height, "hash", rec.Hash, "worker", rec.Worker, "reason", reason)
		} else {
			m.log.Info("block "+state, "height", rec.Height, "hash", rec.Hash, "worker", rec.Worker, "confirmations", conf)
		}
	}
}

// blockState decides a followed block's state from its depth in the
// node's main chain.
func blockState(b BlockRecord, conf int64, maturity int) (state, reason string) {
	switch {
	case conf >= int64(maturity):
		return BlockConfirmed, ""
	case conf > 0:
		return BlockAccepted, ""
	case stateOf(b) == BlockPending && conf == 0:
		return BlockRejected, "never reached the node: the server stopped while submitting it"
	case conf < 0:
		return BlockOrphaned, "not in the node's main chain: another block replaced it (reorg)"
	}
	return BlockOrphaned, "the node no longer has this block (it rolled back or lost it)"
}

// internalHash parses a display-order block hash into internal order.
func internalHash(display string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(display)
	if err != nil || len(b) != 32 {
		return h, errors.New("job: bad block hash " + display)
	}
	for i := range b {
		h[31-i] = b[i]
	}
	return h, nil
}
