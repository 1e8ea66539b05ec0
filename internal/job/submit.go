package job

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// blockTask is one found block, submitted once and settled by one
// goroutine.
type blockTask struct {
	hash   [32]byte
	height int64
	worker string
	data   []byte
	done   chan struct{} // closed when result is final
	result Block         // written before done is closed
}

// submitBlock assembles the block for a solving share and hands it to
// the settler unless that hash was found before. It never waits for the
// node: a new block comes back Pending, a replayed one with its outcome so
// far.
func (m *Manager) submitBlock(j *Job, sh *Share, v Verdict) Block {
	m.blockMu.Lock()
	task, seen := m.blocks[v.Hash]
	if !seen {
		w := j.Work()
		task = &blockTask{
			hash:   v.Hash,
			height: j.Height,
			worker: sh.Worker,
			data:   btc.SerializeBlock(v.Header, w.Coinbase(sh.Extranonce1, sh.Extranonce2), j.Txs, j.Witness),
			done:   make(chan struct{}),
		}
		m.blocks[v.Hash] = task
		m.blocksFound.Add(1)
		m.met.blocksFound.Inc()
	}
	m.blockMu.Unlock()
	if seen {
		select {
		case <-task.done:
			return task.result
		default:
			return task.pending()
		}
	}
	// Recorded (and on disk) before the share is answered, and before the
	// settler can record the outcome.
	m.recordFound(task.pending())
	m.log.Info("share solves a block; submitting", "hash", btc.HashString(v.Hash), "height", j.Height,
		"job", j.ID, "worker", sh.Worker, "bytes", len(task.data))
	m.blockMu.Lock()
	closed := m.closed
	if !closed {
		m.queued = append(m.queued, task)
	}
	m.blockMu.Unlock()
	if closed {
		// Run has stopped: no settler; try within ShutdownGrace.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownGrace)
			defer cancel()
			m.settle(ctx, task)
		}()
	} else {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
	return task.pending()
}

func (t *blockTask) pending() Block {
	return Block{Hash: t.hash, Height: t.height, Worker: t.worker, Pending: true, NodeResult: "submission in progress"}
}

// settleLoop is the settler: it settles found blocks one at a time, in
// the order they were found, so the node sees them in that order (a block
// that builds on another, or two at one height, reach it as they were
// mined). Once ctx is cancelled it settles what is queued within
// ShutdownGrace, closes the queue and returns.
func (m *Manager) settleLoop(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, func() { // the shutdown grace
		t := time.NewTimer(m.cfg.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-sctx.Done():
		}
	})()
	for {
		for t := m.popQueued(ctx.Err() != nil); t != nil; t = m.popQueued(ctx.Err() != nil) {
			m.settle(sctx, t)
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-m.wake:
		case <-ctx.Done():
		}
	}
}

// popQueued takes the oldest queued block, nil when there is none; with
// close, an empty queue is closed (later blocks are settled on their own).
func (m *Manager) popQueued(close bool) *blockTask {
	m.blockMu.Lock()
	defer m.blockMu.Unlock()
	if len(m.queued) == 0 {
		m.closed = m.closed || close
		return nil
	}
	t := m.queued[0]
	m.queued = m.queued[1:]
	return t
}

// waitSettled waits until every block submitted so far has settled.
func (m *Manager) waitSettled() {
	m.blockMu.Lock()
	var pending []chan struct{}
	for _, t := range m.blocks {
		pending = append(pending, t.done)
	}
	m.blockMu.Unlock()
	for _, ch := range pending {
		<-ch
	}
}

// nodeRetry paces the tries of one block's submission and of its
// main-chain check: 250 ms doubling to 10 s, with jitter.
func nodeRetry() backoff.Backoff {
	return backoff.Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second}
}

// settle submits task until the node gives a definite answer, then checks
// that an unrejected block is really in the main chain. Node errors,
// timeouts and restarts are retried for SubmitRetryFor, or until ctx ends
// (the settler's shutdown grace).
func (m *Manager) settle(ctx context.Context, task *blockTask) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.SubmitRetryFor)
	defer cancel()
	log := m.log.With("hash", btc.HashString(task.hash), "height", task.height)
	res := Block{Hash: task.hash, Height: task.height, Worker: task.worker}
	defer func() {
		m.recordFound(res)
		task.result = res
		close(task.done)
		m.publishBlock(res)
	}()
	nodeResult, failed := m.deliverBlock(ctx, task.data, log)
	if failed != "" {
		res.NodeResult = nodeResult
		m.met.blocks.WithLabelValues(failed).Inc()
		return
	}
	res.Accepted, res.NodeResult = true, nodeResult
	if m.cfg.Checker != nil {
		res.Accepted, res.NodeResult = m.verify(ctx, task.hash, nodeResult, log)
	}
	if !res.Accepted {
		m.met.blocks.WithLabelValues("not_main_chain").Inc()
		log.Warn("block not in the node's main chain", "result", res.NodeResult)
		return
	}
	m.blocksOK.Add(1)
	m.met.blocks.WithLabelValues("accepted").Inc()
	log.Info("block accepted", "result", nodeResult)
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// deliverBlock submits data until the node answers or ctx ends. The node
// took it when failed is "": result is then its word ("" for null, or why
// it already has the block). Otherwise failed is the outcome label
// (rejected, error, lost) and result says why.
func (m *Manager) deliverBlock(ctx context.Context, data []byte, log *slog.Logger) (result, failed string) {
	bo := nodeRetry()
	for attempt := 1; ; attempt++ {
		err := m.cfg.Submitter.SubmitBlock(ctx, data)
		if err == nil {
			return "", ""
		}
		if known, ok := errors.AsType[*chain.BlockKnownError](err); ok {
			return known.Result, "" // e.g. an earlier try landed
		}
		if rej, ok := errors.AsType[*chain.BlockRejectedError](err); ok {
			log.Error("node rejected block", "result", rej.Reason)
			return rej.Reason, "rejected"
		}
		if rpcErr, ok := errors.AsType[*chain.RPCError](err); ok && !chain.Retryable(rpcErr) {
			// A definite JSON-RPC error (e.g. -22 decode failed): no retry helps.
			log.Error("block submission failed", "err", err)
			return err.Error(), "error"
		}
		m.met.submitRetries.Inc()
		d := bo.Next()
		if ctx.Err() == nil {
			log.Warn("block submission failed; retrying", "attempt", attempt, "in", d, "err", err)
		}
		if backoff.Sleep(ctx, d) != nil {
			log.Error("block submission gave up; node unreachable", "attempts", attempt, "err", err)
			return "gave up: " + err.Error(), "lost"
		}
	}
}

// verify asks the node where it has the block, retrying node errors.
func (m *Manager) verify(ctx context.Context, hash [32]byte, nodeResult string, log *slog.Logger) (bool, string) {
	bo := nodeRetry()
	for {
		st, err := m.cfg.Checker.BlockStatus(ctx, hash)
		if err == nil {
			switch st {
			case chain.BlockMainChain:
				return true, nodeResult
			case chain.BlockSideChain:
				return false, "side-chain"
			default:
				return false, "orphan"
			}
		}
		log.Warn("block status check failed; retrying", "err", err)
		if backoff.Sleep(ctx, bo.Next()) != nil {
			// Could not verify: the node did not reject it, report its word.
			return true, nodeResult + " (unverified)"
		}
	}
}
