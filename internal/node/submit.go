package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Results of SubmitBlock besides a reject reason; "" means accepted (null).
const (
	SubmitDuplicate    = "duplicate"
	SubmitInconclusive = "inconclusive"
)

// SubmitBlock validates msg fully (btcd's ProcessBlock) and returns Bitcoin
// Core's submitblock result: "" (null: it is the new tip or extends a valid
// chain that became best), "duplicate", "inconclusive" (valid-looking but
// stored on a side chain), or a BIP22 reject reason such as "high-hash" or
// "bad-cb-amount". A returned error is an internal failure, not a verdict.
// Like Core, a coinbase without the witness reserved value gets the 32 zero
// bytes added when the block has a witness commitment.
//
// A block it stores (main or side chain) is written to disk before
// SubmitBlock returns, so a crash after the answer cannot lose it.
func (n *Node) SubmitBlock(msg *wire.MsgBlock) (string, error) {
	return n.submitBlock(msg, true)
}

// submitBlock is SubmitBlock; durable=false leaves the flush to the caller
// (generatetoaddress flushes once before answering for all its blocks).
func (n *Node) submitBlock(msg *wire.MsgBlock, durable bool) (string, error) {
	if len(msg.Transactions) == 0 || !blockchain.IsCoinBaseTx(msg.Transactions[0]) {
		return "", errNoCoinbase
	}
	addWitnessNonce(msg)
	block := btcutil.NewBlock(msg)
	if err := n.lock(); err != nil {
		return "", err
	}
	defer n.stateMu.Unlock()
	if have, err := n.chain.HaveBlock(block.Hash()); err != nil {
		return "", fmt.Errorf("node: submitblock: %w", err)
	} else if have {
		return SubmitDuplicate, nil
	}
	// Core checks the block on its own before looking at its parent.
	if err := blockchain.CheckBlockSanity(block, n.params.PowLimit, n.tsrc); err != nil {
		if re, ok := errors.AsType[blockchain.RuleError](err); ok && re.ErrorCode == blockchain.ErrUnexpectedDifficulty {
			return "high-hash", nil // bits easier than the pow limit: Core's CheckProofOfWork fails
		}
		return rejectReason(err)
	}
	if have, err := n.chain.HaveBlock(&msg.Header.PrevBlock); err != nil {
		return "", fmt.Errorf("node: submitblock: %w", err)
	} else if !have {
		return "prev-blk-not-found", nil // btcd would keep it as an orphan; Core rejects it
	}
	if !inputsInOrder(msg) {
		return "bad-txns-inputs-missingorspent", nil
	}
	isMain, isOrphan, err := n.chain.ProcessBlock(block, blockchain.BFNone)
	if durable && err == nil && !isOrphan {
		if ferr := n.flusher.flush(); ferr != nil {
			return "", ferr
		}
	}
	switch {
	case err != nil:
		return rejectReason(err)
	case isOrphan:
		return "prev-blk-not-found", nil
	case !isMain:
		return SubmitInconclusive, nil
	}
	n.log.Info("block accepted", "height", block.Height(), "hash", block.Hash().String(), "txs", len(msg.Transactions))
	return "", nil
}

// inputsInOrder reports whether no transaction spends an output of a
// transaction that comes later in the same block (Core rejects that as
// missing inputs). btcd v0.26.2 misses this case when another, later tx
// also spends the later tx: its input view then holds the later tx's
// outputs, validation passes, and connecting the block to the UTXO cache
// fails halfway with an AssertError ("missing input"), leaving the cache
// partly updated. So the node checks the order before btcd sees the block.
func inputsInOrder(msg *wire.MsgBlock) bool {
	pos := make(map[chainhash.Hash]int, len(msg.Transactions))
	for i, tx := range msg.Transactions {
		pos[tx.TxHash()] = i
	}
	for i, tx := range msg.Transactions[1:] {
		for _, in := range tx.TxIn {
			if j, ok := pos[in.PreviousOutPoint.Hash]; ok && j >= i+1 {
				return false
			}
		}
	}
	return true
}

// addWitnessNonce is Core's UpdateUncommittedBlockStructures: a coinbase
// with a witness commitment output but no witness gets the zero reserved
// value (it changes neither txid nor block hash).
func addWitnessNonce(msg *wire.MsgBlock) {
	cb := msg.Transactions[0]
	if len(cb.TxIn) == 0 || len(cb.TxIn[0].Witness) != 0 {
		return
	}
	for _, out := range cb.TxOut {
		if len(out.PkScript) >= 38 && bytes.HasPrefix(out.PkScript, blockchain.WitnessMagicBytes) {
			cb.TxIn[0].Witness = wire.TxWitness{make([]byte, blockchain.CoinbaseWitnessDataLen)}
			return
		}
	}
}

// ProposeBlock is getblocktemplate's BIP23 proposal mode: full validation
// except proof of work, without storing the block.
func (n *Node) ProposeBlock(msg *wire.MsgBlock) (string, error) {
	if len(msg.Transactions) == 0 || !blockchain.IsCoinBaseTx(msg.Transactions[0]) {
		return "", errNoCoinbase
	}
	block := btcutil.NewBlock(msg)
	if err := n.lock(); err != nil {
		return "", err
	}
	defer n.stateMu.Unlock()
	if have, err := n.chain.HaveBlock(block.Hash()); err != nil {
		return "", err
	} else if have {
		return SubmitDuplicate, nil
	}
	if msg.Header.PrevBlock != n.chain.BestSnapshot().Hash {
		return "inconclusive-not-best-prevblk", nil
	}
	if !inputsInOrder(msg) {
		return "bad-txns-inputs-missingorspent", nil
	}
	if err := n.chain.CheckConnectBlockTemplate(block); err != nil {
		return rejectReason(err)
	}
	return "", nil
}

var errNoCoinbase = errors.New("Block does not start with a coinbase")

// rejectReason maps a btcd validation error to Core's BIP22 reason; a
// non-rule error is returned as an error.
func rejectReason(err error) (string, error) {
	var re blockchain.RuleError
	if !errors.As(err, &re) {
		return "", err
	}
	if r, ok := reasons[re.ErrorCode]; ok {
		return r, nil
	}
	switch re.ErrorCode {
	case blockchain.ErrBadTxOutValue:
		if strings.Contains(re.Description, "negative") {
			return "bad-txns-vout-negative", nil
		}
		return "bad-txns-vout-toolarge", nil
	case blockchain.ErrBlockVersionTooOld:
		return "bad-version", nil
	}
	return "rejected", nil
}

// reasons maps btcd's rule errors to Bitcoin Core's reject reasons.
var reasons = map[blockchain.ErrorCode]string{
	blockchain.ErrDuplicateBlock:            "duplicate",
	blockchain.ErrKnownInvalidBlock:         "duplicate",
	blockchain.ErrBlockTooBig:               "bad-blk-length",
	blockchain.ErrBlockWeightTooHigh:        "bad-blk-weight",
	blockchain.ErrInvalidTime:               "time-invalid",
	blockchain.ErrTimeTooOld:                "time-too-old",
	blockchain.ErrTimeTooNew:                "time-too-new",
	blockchain.ErrTimewarpAttack:            "time-timewarp-attack",
	blockchain.ErrDifficultyTooLow:          "bad-diffbits",
	blockchain.ErrUnexpectedDifficulty:      "bad-diffbits",
	blockchain.ErrHighHash:                  "high-hash",
	blockchain.ErrBadMerkleRoot:             "bad-txnmrklroot",
	blockchain.ErrBadCheckpoint:             "checkpoint-mismatch",
	blockchain.ErrForkTooOld:                "bad-fork-prior-to-checkpoint",
	blockchain.ErrCheckpointTimeTooOld:      "checkpoint-time-too-old",
	blockchain.ErrNoTransactions:            "bad-blk-length",
	blockchain.ErrNoTxInputs:                "bad-txns-vin-empty",
	blockchain.ErrNoTxOutputs:               "bad-txns-vout-empty",
	blockchain.ErrTxTooBig:                  "bad-txns-oversize",
	blockchain.ErrDuplicateTxInputs:         "bad-txns-inputs-duplicate",
	blockchain.ErrBadTxInput:                "bad-txns-prevout-null",
	blockchain.ErrMissingTxOut:              "bad-txns-inputs-missingorspent",
	blockchain.ErrUnfinalizedTx:             "bad-txns-nonfinal",
	blockchain.ErrDuplicateTx:               "bad-txns-duplicate",
	blockchain.ErrOverwriteTx:               "bad-txns-BIP30",
	blockchain.ErrImmatureSpend:             "bad-txns-premature-spend-of-coinbase",
	blockchain.ErrSpendTooHigh:              "bad-txns-in-belowout",
	blockchain.ErrBadFees:                   "bad-txns-fee-outofrange",
	blockchain.ErrTooManySigOps:             "bad-blk-sigops",
	blockchain.ErrFirstTxNotCoinbase:        "bad-cb-missing",
	blockchain.ErrMultipleCoinbases:         "bad-cb-multiple",
	blockchain.ErrBadCoinbaseScriptLen:      "bad-cb-length",
	blockchain.ErrBadCoinbaseValue:          "bad-cb-amount",
	blockchain.ErrMissingCoinbaseHeight:     "bad-cb-height",
	blockchain.ErrBadCoinbaseHeight:         "bad-cb-height",
	blockchain.ErrScriptMalformed:           "mandatory-script-verify-flag-failed",
	blockchain.ErrScriptValidation:          "mandatory-script-verify-flag-failed",
	blockchain.ErrUnexpectedWitness:         "unexpected-witness",
	blockchain.ErrInvalidWitnessCommitment:  "bad-witness-nonce-size",
	blockchain.ErrWitnessCommitmentMismatch: "bad-witness-merkle-match",
	blockchain.ErrPreviousBlockUnknown:      "prev-blk-not-found",
	blockchain.ErrInvalidAncestorBlock:      "bad-prevblk",
	blockchain.ErrPrevBlockNotBest:          "inconclusive-not-best-prevblk",
}

// GenerateToAddress mines count blocks paying to addr (a regtest address),
// each with the mempool's transactions, as Core's generatetoaddress does.
// maxTries bounds the nonces tried per block (0: 1,000,000); when it runs
// out the blocks mined so far are returned.
//
// Its blocks are on disk before it returns (one flush for all of them).
func (n *Node) GenerateToAddress(ctx context.Context, count int, addr string, maxTries uint64) (_ []chainhash.Hash, retErr error) {
	a, err := address.DecodeAddress(addr, n.params)
	if err != nil || !a.IsForNet(n.params) {
		return nil, fmt.Errorf("%w: %s", errInvalidAddress, addr)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errInvalidAddress, addr)
	}
	if maxTries == 0 {
		maxTries = 1_000_000
	}
	defer func() {
		if err := n.flushDB(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	// Sized by what is mined, never by what is asked: a count is a wish
	// (the loop ends when ctx does, e.g. when the RPC client leaves).
	hashes := make([]chainhash.Hash, 0, min(count, 1024))
	for len(hashes) < count {
		if err := ctx.Err(); err != nil {
			return hashes, err
		}
		t, err := n.newTemplate()
		if err != nil {
			return hashes, err
		}
		cb, err := coinbaseTx(t, script, n.extraNonce.Add(1))
		if err != nil {
			return hashes, err
		}
		msg := t.block(cb)
		if !solve(&msg.Header, &maxTries) {
			break
		}
		res, err := n.submitBlock(msg, false)
		if err != nil {
			return hashes, err
		}
		if res == SubmitInconclusive || res == SubmitDuplicate {
			continue // another block won the race for this height; mine on the new tip
		}
		if res != "" {
			return hashes, fmt.Errorf("node: generated block %s rejected: %s", msg.BlockHash(), res)
		}
		hashes = append(hashes, msg.BlockHash())
	}
	return hashes, nil
}

// flushDB writes the database's cached changes to disk.
func (n *Node) flushDB() error {
	if err := n.lock(); err != nil {
		return err
	}
	defer n.stateMu.Unlock()
	return n.flusher.flush()
}

var errInvalidAddress = errors.New("Error: Invalid address")

// solve searches nonces for a header meeting its bits, spending *tries.
func solve(h *wire.BlockHeader, tries *uint64) bool {
	target := blockchain.CompactToBig(h.Bits)
	for nonce := uint64(0); nonce <= 0xffffffff && *tries > 0; nonce++ {
		*tries--
		h.Nonce = uint32(nonce)
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return true
		}
	}
	return false
}

// txError is a sendrawtransaction failure with Core's RPC code.
type txError struct {
	code int
	msg  string
}

func (e *txError) Error() string { return e.msg }

// Core's RPC codes for sendrawtransaction failures.
const (
	codeVerifyError         = -25 // RPC_VERIFY_ERROR / RPC_TRANSACTION_ERROR
	codeVerifyRejected      = -26 // RPC_VERIFY_REJECTED
	codeVerifyAlreadyInUTXO = -27 // RPC_VERIFY_ALREADY_IN_UTXO_SET
)

// SendRawTransaction adds tx to the mempool (btcd's policy and script
// checks) and returns its txid; like Core, a tx already in the mempool is
// not an error.
func (n *Node) SendRawTransaction(tx *wire.MsgTx, maxFeeRateSatPerKvB int64) (chainhash.Hash, error) {
	utx := btcutil.NewTx(tx)
	hash := *utx.Hash()
	if err := n.lock(); err != nil {
		return hash, err
	}
	defer n.stateMu.Unlock()
	if n.mp.HaveTransaction(&hash) {
		return hash, nil
	}
	for i := range tx.TxOut {
		e, err := n.chain.FetchUtxoEntry(wire.OutPoint{Hash: hash, Index: uint32(i)})
		if err == nil && e != nil && !e.IsSpent() {
			return hash, &txError{codeVerifyAlreadyInUTXO, "Transaction outputs already in utxo set"}
		}
	}
	if maxFeeRateSatPerKvB > 0 {
		if fee, ok := n.feeOf(tx); ok {
			vsize := (blockchain.GetTransactionWeight(utx) + 3) / 4
			if fee*1000 > maxFeeRateSatPerKvB*vsize {
				return hash, &txError{codeVerifyError, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"}
			}
		}
	}
	missing, _, err := n.mp.MaybeAcceptTransaction(utx, true, false)
	if err != nil {
		return hash, &txError{codeVerifyRejected, txRejectReason(err)}
	}
	if len(missing) > 0 {
		return hash, &txError{codeVerifyError, "bad-txns-inputs-missingorspent"}
	}
	n.mp.ProcessOrphans(utx)
	n.changes.notify(true)
	n.log.Debug("tx accepted", "txid", hash.String())
	return hash, nil
}

// feeOf computes tx's fee from the UTXO set and mempool; ok is false if an
// input is unknown (the mempool then reports it).
func (n *Node) feeOf(tx *wire.MsgTx) (int64, bool) {
	var in int64
	for _, txin := range tx.TxIn {
		op := txin.PreviousOutPoint
		if e, err := n.chain.FetchUtxoEntry(op); err == nil && e != nil && !e.IsSpent() {
			in += e.Amount()
			continue
		}
		ptx, err := n.mp.FetchTransaction(&op.Hash)
		if err != nil || int(op.Index) >= len(ptx.MsgTx().TxOut) {
			return 0, false
		}
		in += ptx.MsgTx().TxOut[op.Index].Value
	}
	var out int64
	for _, o := range tx.TxOut {
		out += o.Value
	}
	return in - out, true
}

// txRejectReason maps btcd mempool errors to Core-style reasons where Core
// has a fixed token, else btcd's description.
func txRejectReason(err error) string {
	var mre mempool.RuleError
	if errors.As(err, &mre) {
		err = mre.Err
	}
	var tre mempool.TxRuleError
	if errors.As(err, &tre) {
		d := tre.Description
		switch {
		case strings.Contains(d, "already spent by transaction"):
			return "txn-mempool-conflict"
		case tre.RejectCode == wire.RejectInsufficientFee:
			return "min relay fee not met: " + d
		case strings.Contains(d, "already have transaction"):
			return "txn-already-in-mempool"
		}
		return d
	}
	if r, rerr := rejectReason(err); rerr == nil {
		return r
	}
	return err.Error()
}
