package pool

import (
	"context"
	"encoding/hex"
	"errors"
	"time"
)

// Block states. A block is recorded once per hash when a share solves it
// and then only moves forward: pending → accepted or rejected (the node's
// answer); accepted → confirmed once buried BlockMaturity deep in the
// node's main chain, or → orphaned when the node's main chain no longer
// holds it (an orphaned block that comes back to the main chain within the
// maturity window is accepted again). A worker is credited with its
// accepted and confirmed blocks.
const (
	BlockPending   = "pending"
	BlockAccepted  = "accepted"
	BlockRejected  = "rejected"
	BlockConfirmed = "confirmed"
	BlockOrphaned  = "orphaned"
)

// stateOf is b's state, derived for records written before states existed.
func stateOf(b BlockRecord) string {
	switch {
	case b.State != "":
		return b.State
	case b.Pending:
		return BlockPending
	case b.Accepted:
		return BlockAccepted
	}
	return BlockRejected
}

// credited reports whether b counts for its worker.
func credited(b BlockRecord) bool {
	s := stateOf(b)
	return s == BlockAccepted || s == BlockConfirmed
}

// blockCredits counts each worker's credited blocks: the worker totals'
// Blocks are derived from the block records, so a block's credit is
// written in the same transaction as its record.
func blockCredits(blocks []BlockRecord) map[string]uint64 {
	out := make(map[string]uint64)
	for _, b := range blocks {
		if credited(b) {
			out[b.Worker]++
		}
	}
	return out
}

// found applies a share's report of block b. A hash seen before changes
// nothing (a replayed solving share) unless its record is pending and b
// settles it. It returns the record to persist and whether it changed.
func (l *ledger) found(b BlockRecord) (BlockRecord, bool) {
	b.State = stateOf(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.byHash[b.Hash]
	if !ok {
		l.byHash[b.Hash] = len(l.blocks)
		l.blocks = append(l.blocks, b)
		l.creditDelta(b.Worker, 0, b)
		return b, true
	}
	old := l.blocks[i]
	if stateOf(old) != BlockPending || b.State == BlockPending {
		return old, false
	}
	b.Worker, b.Time = old.Worker, old.Time
	l.blocks[i] = b
	l.creditDelta(b.Worker, boolInt(credited(old)), b)
	return b, true
}

// follow updates a followed block's state and confirmations; it returns
// the record and whether its state changed (confirmations alone are not
// persisted).
func (l *ledger) follow(hash, state, reason string, conf int64) (BlockRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.byHash[hash]
	if !ok {
		return BlockRecord{}, false
	}
	old := l.blocks[i]
	b := old
	b.Confirmations = conf
	if stateOf(old) == state {
		l.blocks[i] = b
		return b, false
	}
	b.State, b.Reason = state, reason
	if state != BlockPending {
		delete(l.stalePending, hash)
		b.Pending = false
		if state == BlockAccepted || state == BlockConfirmed {
			b.Accepted = true
		}
	}
	l.blocks[i] = b
	l.creditDelta(b.Worker, boolInt(credited(old)), b)
	return b, true
}

// creditDelta moves the worker's block credit from was (0 or 1) to what b
// now earns. l.mu must be held.
func (l *ledger) creditDelta(name string, was int, b BlockRecord) {
	now := boolInt(credited(b))
	if now == was {
		return
	}
	w := l.worker(name)
	if w == nil {
		return
	}
	if now > was {
		w.totals.Blocks++
	} else if w.totals.Blocks > 0 {
		w.totals.Blocks--
	}
	l.credit(name, w)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// followed returns the blocks still to follow: accepted ones, orphaned
// ones within maturity of the tip (a reorg may bring them back), and ones
// left pending by an earlier run.
func (l *ledger) followed(tip int64, maturity int) []BlockRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []BlockRecord
	for _, b := range l.blocks {
		switch stateOf(b) {
		case BlockAccepted:
			out = append(out, b)
		case BlockOrphaned:
			if tip-b.Height < int64(maturity) {
				out = append(out, b)
			}
		case BlockPending:
			if l.stalePending[b.Hash] {
				out = append(out, b)
			}
		}
	}
	return out
}

// confirmLoop follows recorded blocks until they are buried or orphaned:
// at each new tip and every BlockCheckInterval.
func (s *Server) confirmLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.BlockCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.tipc:
		}
		s.checkBlocks(ctx)
	}
}

// checkBlocks asks the node about each followed block once.
func (s *Server) checkBlocks(ctx context.Context) {
	tip := int64(-1)
	if bj := s.cur.Load(); bj != nil {
		tip = bj.job.Height - 1
	}
	for _, b := range s.ledger.followed(tip, s.cfg.BlockMaturity) {
		hash, err := internalHash(b.Hash)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conf, err := s.cfg.Jobs.BlockConfirmations(cctx, hash)
		cancel()
		if err != nil {
			s.log.Debug("block follow: node not answering; will retry", "hash", b.Hash, "err", err)
			return
		}
		state, reason := blockState(b, conf, s.cfg.BlockMaturity)
		if rec, changed := s.ledger.follow(b.Hash, state, reason, conf); changed {
			s.persistBlock(rec)
			s.m.blockStates.WithLabelValues(state).Inc()
			switch state {
			case BlockOrphaned:
				s.log.Warn("block orphaned", "height", rec.Height, "hash", rec.Hash, "worker", rec.Worker, "reason", reason)
			default:
				s.log.Info("block "+state, "height", rec.Height, "hash", rec.Hash, "worker", rec.Worker, "confirmations", conf)
			}
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
		return h, errors.New("pool: bad block hash " + display)
	}
	for i := range b {
		h[31-i] = b[i]
	}
	return h, nil
}

// persistBlock writes rec (and so its worker's credit) in one fsynced
// transaction.
func (s *Server) persistBlock(rec BlockRecord) {
	if s.store == nil {
		return
	}
	if err := s.store.putBlock(rec); err != nil {
		s.log.Error("persist block", "hash", rec.Hash, "err", err)
	}
}

// recordBlock applies a share's report of a found block: counted, written
// and logged once per hash (and once more when a pending one settles). It
// reports whether anything changed.
func (s *Server) recordBlock(b BlockRecord) (BlockRecord, bool) {
	rec, changed := s.ledger.found(b)
	if !changed {
		return rec, false
	}
	s.m.blocks.WithLabelValues(rec.State).Inc()
	s.persistBlock(rec)
	return rec, true
}
