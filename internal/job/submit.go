package job

import (
	"context"
	"errors"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// blockTask is one found block, submitted once and settled by one
// goroutine.
type blockTask struct {
	hash   [32]byte
	height int64
	data   []byte
	done   chan struct{} // closed when result is final
	result Block         // written before done is closed
}

// submitBlock assembles the block for a solving share and submits it
// unless that hash was submitted before. It waits up to SubmitWait (or
// ctx) for the outcome; the submission itself continues independently of
// ctx.
func (m *Manager) submitBlock(ctx context.Context, j *Job, sh *Share, v Verdict) Block {
	m.blockMu.Lock()
	task, seen := m.blocks[v.Hash]
	if !seen {
		w := j.Work()
		task = &blockTask{
			hash:   v.Hash,
			height: j.Height,
			data:   btc.SerializeBlock(v.Header, w.Coinbase(sh.Extranonce1, sh.Extranonce2), j.Txs, j.Witness),
			done:   make(chan struct{}),
		}
		m.blocks[v.Hash] = task
		m.blocksFound.Add(1)
		m.met.blocksFound.Inc()
	}
	m.blockMu.Unlock()
	if !seen {
		m.log.Info("share solves a block; submitting", "hash", btc.HashString(v.Hash), "height", j.Height,
			"job", j.ID, "worker", sh.Worker, "bytes", len(task.data))
		go m.settle(task)
	}
	t := time.NewTimer(m.cfg.SubmitWait)
	defer t.Stop()
	select {
	case <-task.done:
		return task.result
	case <-ctx.Done():
	case <-t.C:
	}
	return Block{Hash: task.hash, Height: task.height, Pending: true, NodeResult: "submission in progress"}
}

// ErrUnknownBlock is returned by WaitBlock for a hash this manager never
// submitted (or, in proxy mode, forwarded upstream and cannot follow).
var ErrUnknownBlock = errors.New("job: unknown block")

// WaitBlock waits until the submission of the block with this hash (internal
// byte order) has settled and returns its final result: for a Block that
// Submit reported as Pending, this is the node's eventual answer. It is safe
// for concurrent use.
func (m *Manager) WaitBlock(ctx context.Context, hash [32]byte) (Block, error) {
	m.blockMu.Lock()
	task := m.blocks[hash]
	m.blockMu.Unlock()
	if task == nil {
		return Block{}, ErrUnknownBlock
	}
	select {
	case <-task.done:
		return task.result, nil
	case <-ctx.Done():
		return Block{}, ctx.Err()
	}
}

// ConfirmationCounter is implemented by node clients that report a
// block's depth in the main chain (*chain.Client does): ≥ 1 in it, -1 off
// it, 0 unknown to the node.
type ConfirmationCounter interface {
	Confirmations(ctx context.Context, hash [32]byte) (int64, error)
}

// ErrCannotFollow is returned by BlockConfirmations when the manager's node
// client cannot report confirmations (e.g. in proxy mode).
var ErrCannotFollow = errors.New("job: node client cannot report block confirmations")

// BlockConfirmations reports how deep the block hash (internal order) is in
// the node's main chain, as ConfirmationCounter; the pool follows its found
// blocks with it until they are buried or orphaned. Safe for concurrent use.
func (m *Manager) BlockConfirmations(ctx context.Context, hash [32]byte) (int64, error) {
	cc, ok := m.cfg.Checker.(ConfirmationCounter)
	if !ok {
		return 0, ErrCannotFollow
	}
	return cc.Confirmations(ctx, hash)
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

// settle submits task until the node gives a definite answer, then checks
// that an unrejected block is really in the main chain. Node errors,
// timeouts and restarts are retried for SubmitRetryFor (cut to
// ShutdownGrace once Run stops).
func (m *Manager) settle(task *blockTask) {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.SubmitRetryFor)
	defer cancel()
	go func() {
		select {
		case <-m.stopping:
			t := time.NewTimer(m.cfg.ShutdownGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
	log := m.log.With("hash", btc.HashString(task.hash), "height", task.height)
	res := Block{Hash: task.hash, Height: task.height}
	defer func() {
		task.result = res
		close(task.done)
	}()
	var nodeResult string
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := m.cfg.Submitter.SubmitBlock(ctx, task.data)
		if err == nil {
			break
		}
		if known, ok := errors.AsType[*chain.BlockKnownError](err); ok {
			nodeResult = known.Result // e.g. an earlier try landed
			break
		}
		if rej, ok := errors.AsType[*chain.BlockRejectedError](err); ok {
			res.NodeResult = rej.Reason
			m.met.blocks.WithLabelValues("rejected").Inc()
			log.Error("node rejected block", "result", rej.Reason)
			return
		}
		if rpcErr, ok := errors.AsType[*chain.RPCError](err); ok && !chain.Retryable(rpcErr) {
			// A definite JSON-RPC error (e.g. -22 decode failed): no retry helps.
			res.NodeResult = err.Error()
			m.met.blocks.WithLabelValues("error").Inc()
			log.Error("block submission failed", "err", err)
			return
		}
		m.met.submitRetries.Inc()
		if ctx.Err() != nil {
			res.NodeResult = "gave up: " + err.Error()
			m.met.blocks.WithLabelValues("lost").Inc()
			log.Error("block submission gave up; node unreachable", "attempts", attempt, "err", err)
			return
		}
		log.Warn("block submission failed; retrying", "attempt", attempt, "in", backoff, "err", err)
		if sleepCtx(ctx, backoff) != nil {
			res.NodeResult = "gave up: " + err.Error()
			m.met.blocks.WithLabelValues("lost").Inc()
			log.Error("block submission gave up; node unreachable", "attempts", attempt, "err", err)
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	res.NodeResult = nodeResult
	if m.cfg.Checker == nil {
		res.Accepted = true
	} else {
		res.Accepted, res.NodeResult = m.verify(ctx, task.hash, nodeResult, log)
	}
	if res.Accepted {
		m.blocksOK.Add(1)
		m.met.blocks.WithLabelValues("accepted").Inc()
		log.Info("block accepted", "result", nodeResult)
		select {
		case m.kick <- struct{}{}:
		default:
		}
	} else {
		m.met.blocks.WithLabelValues("not_main_chain").Inc()
		log.Warn("block not in the node's main chain", "result", res.NodeResult)
	}
}

// verify asks the node where it has the block, retrying node errors.
func (m *Manager) verify(ctx context.Context, hash [32]byte, nodeResult string, log interface {
	Warn(string, ...any)
}) (bool, string) {
	backoff := 250 * time.Millisecond
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
		if sleepCtx(ctx, backoff) != nil {
			// Could not verify: the node did not reject it, report its word.
			return true, nodeResult + " (unverified)"
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
