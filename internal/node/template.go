package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// template is a block template in the node's own terms: everything but the
// coinbase, which the caller (a pool, or generatetoaddress) builds.
type template struct {
	height            int64
	version           int32
	prevHash          chainhash.Hash
	bits              uint32
	curTime, minTime  time.Time
	coinbaseValueSats int64
	txs               []*btcutil.Tx // non-coinbase, in block order
	fees, sigOpCosts  []int64       // per tx in txs
	commitment        []byte        // witness commitment output script (always present: segwit is active)
	updates           uint64        // mempool update counter at build time
}

// newTemplate builds a template on the current tip from the mempool with
// btcd's generator (which validates the block with
// CheckConnectBlockTemplate). The caller must not hold stateMu.
func (n *Node) newTemplate() (*template, error) {
	if err := n.lock(); err != nil {
		return nil, err
	}
	defer n.stateMu.Unlock()
	_, updates := n.changes.state()
	bt, err := n.gen.NewBlockTemplate(nil)
	if err != nil {
		return nil, fmt.Errorf("node: build template: %w", err)
	}
	best := n.chain.BestSnapshot()
	blk := bt.Block
	t := &template{
		height:            int64(bt.Height),
		version:           blk.Header.Version,
		prevHash:          blk.Header.PrevBlock,
		bits:              blk.Header.Bits,
		curTime:           blk.Header.Timestamp,
		minTime:           best.MedianTime.Add(time.Second),
		coinbaseValueSats: blk.Transactions[0].TxOut[0].Value,
		updates:           updates,
	}
	for i, tx := range blk.Transactions[1:] {
		t.txs = append(t.txs, btcutil.NewTx(tx))
		t.fees = append(t.fees, bt.Fees[i+1])
		t.sigOpCosts = append(t.sigOpCosts, bt.SigOpCosts[i+1])
	}
	t.commitment = witnessCommitmentScript(t.txs)
	return t, nil
}

// witnessCommitmentScript is the BIP141 commitment output script for a
// block with these non-coinbase txs and a zero witness reserved value.
func witnessCommitmentScript(txs []*btcutil.Tx) []byte {
	all := make([]*btcutil.Tx, 0, len(txs)+1)
	all = append(all, btcutil.NewTx(wire.NewMsgTx(1))) // coinbase wtxid is taken as zero
	all = append(all, txs...)
	root := blockchain.CalcMerkleRoot(all, true)
	var pre [64]byte
	copy(pre[:32], root[:])
	script := make([]byte, 0, 38)
	script = append(script, blockchain.WitnessMagicBytes...)
	return append(script, chainhash.DoubleHashB(pre[:])...)
}

// coinbaseTx builds a coinbase the way Core's miner does: BIP34 height then
// extranonce in the scriptSig, nSequence 0xfffffffe, nLockTime height-1, the
// payout, the witness commitment last and the zero witness reserved value.
func coinbaseTx(t *template, payScript []byte, extraNonce int64) (*wire.MsgTx, error) {
	sig, err := txscript.NewScriptBuilder().AddInt64(t.height).AddInt64(extraNonce).AddData([]byte("/hashfleet/")).Script()
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  sig,
		Sequence:         wire.MaxTxInSequenceNum - 1,
		Witness:          wire.TxWitness{make([]byte, blockchain.CoinbaseWitnessDataLen)},
	})
	tx.AddTxOut(wire.NewTxOut(t.coinbaseValueSats, payScript))
	tx.AddTxOut(wire.NewTxOut(0, t.commitment))
	tx.LockTime = uint32(t.height - 1)
	return tx, nil
}

// block assembles an unsolved block from t with the given coinbase.
func (t *template) block(coinbase *wire.MsgTx) *wire.MsgBlock {
	msg := &wire.MsgBlock{Header: wire.BlockHeader{
		Version:   t.version,
		PrevBlock: t.prevHash,
		Timestamp: t.curTime,
		Bits:      t.bits,
	}}
	txs := make([]*btcutil.Tx, 0, len(t.txs)+1)
	txs = append(txs, btcutil.NewTx(coinbase))
	msg.AddTransaction(coinbase)
	for _, tx := range t.txs {
		msg.AddTransaction(tx.MsgTx())
		txs = append(txs, tx)
	}
	msg.Header.MerkleRoot = blockchain.CalcMerkleRoot(txs, false)
	return msg
}

// gbtTx is one entry of getblocktemplate's "transactions".
type gbtTx struct {
	Data    string `json:"data"`
	TxID    string `json:"txid"`
	Hash    string `json:"hash"`
	Depends []int  `json:"depends"`
	Fee     int64  `json:"fee"`
	SigOps  int64  `json:"sigops"`
	Weight  int64  `json:"weight"`
}

// gbtResult is Bitcoin Core's getblocktemplate result (field order as Core).
type gbtResult struct {
	Capabilities             []string          `json:"capabilities"`
	Version                  int32             `json:"version"`
	Rules                    []string          `json:"rules"`
	VBAvailable              map[string]int    `json:"vbavailable"`
	VBRequired               int               `json:"vbrequired"`
	PreviousBlockHash        string            `json:"previousblockhash"`
	Transactions             []gbtTx           `json:"transactions"`
	CoinbaseAux              map[string]string `json:"coinbaseaux"`
	CoinbaseValue            int64             `json:"coinbasevalue"`
	LongPollID               string            `json:"longpollid"`
	Target                   string            `json:"target"`
	MinTime                  int64             `json:"mintime"`
	Mutable                  []string          `json:"mutable"`
	NonceRange               string            `json:"noncerange"`
	SigOpLimit               int64             `json:"sigoplimit"`
	SizeLimit                int64             `json:"sizelimit"`
	WeightLimit              int64             `json:"weightlimit"`
	CurTime                  int64             `json:"curtime"`
	Bits                     string            `json:"bits"`
	Height                   int64             `json:"height"`
	DefaultWitnessCommitment string            `json:"default_witness_commitment"`
}

// gbt formats t as Core does.
func (t *template) gbt() *gbtResult {
	r := &gbtResult{
		Capabilities:             []string{"proposal"},
		Version:                  t.version,
		Rules:                    []string{"csv", "!segwit", "taproot"},
		VBAvailable:              map[string]int{},
		PreviousBlockHash:        t.prevHash.String(),
		Transactions:             make([]gbtTx, 0, len(t.txs)),
		CoinbaseAux:              map[string]string{},
		CoinbaseValue:            t.coinbaseValueSats,
		LongPollID:               longPollID(t.prevHash, t.updates),
		Target:                   targetHex(t.bits),
		MinTime:                  t.minTime.Unix(),
		Mutable:                  []string{"time", "transactions", "prevblock"},
		NonceRange:               "00000000ffffffff",
		SigOpLimit:               blockchain.MaxBlockSigOpsCost,
		SizeLimit:                blockchain.MaxBlockWeight, // Core: MAX_BLOCK_SERIALIZED_SIZE
		WeightLimit:              blockchain.MaxBlockWeight,
		CurTime:                  t.curTime.Unix(),
		Bits:                     fmt.Sprintf("%08x", t.bits),
		Height:                   t.height,
		DefaultWitnessCommitment: hex.EncodeToString(t.commitment),
	}
	index := make(map[chainhash.Hash]int, len(t.txs))
	for i, tx := range t.txs {
		index[*tx.Hash()] = i + 1
		var buf bytes.Buffer
		tx.MsgTx().Serialize(&buf) // cannot fail on a bytes.Buffer
		deps := []int{}
		seen := map[int]bool{}
		for _, in := range tx.MsgTx().TxIn {
			if j, ok := index[in.PreviousOutPoint.Hash]; ok && !seen[j] {
				seen[j] = true
				deps = append(deps, j)
			}
		}
		r.Transactions = append(r.Transactions, gbtTx{
			Data:    hex.EncodeToString(buf.Bytes()),
			TxID:    tx.Hash().String(),
			Hash:    tx.WitnessHash().String(),
			Depends: deps,
			Fee:     t.fees[i],
			SigOps:  t.sigOpCosts[i],
			Weight:  blockchain.GetTransactionWeight(tx),
		})
	}
	return r
}

// longPollID is Core's format: tip hash (display hex) then the mempool
// update counter in decimal.
func longPollID(tip chainhash.Hash, updates uint64) string {
	return tip.String() + strconv.FormatUint(updates, 10)
}

// parseLongPollID splits a longpollid; like Core it is lenient: a malformed
// counter reads as 0, and a malformed hash matches no tip.
func parseLongPollID(id string) (chainhash.Hash, uint64) {
	var h chainhash.Hash
	if len(id) < 64 {
		return h, 0
	}
	if p, err := chainhash.NewHashFromStr(id[:64]); err == nil {
		h = *p
	}
	c, _ := strconv.ParseUint(id[64:], 10, 64)
	return h, c
}

// waitLongPoll blocks as Core's getblocktemplate longpoll does: until the
// tip is no longer lpTip, or, once LongPollTxWait has passed, the mempool
// update counter differs from lpUpdates (checked every LongPollTxRecheck).
// It returns ctx's error if the client goes away and errShuttingDown when
// the node stops.
func (n *Node) waitLongPoll(ctx context.Context, lpTip chainhash.Hash, lpUpdates uint64) error {
	n.longpolls.Add(1)
	defer n.longpolls.Add(-1)
	checkAt := time.Now().Add(n.cfg.LongPollTxWait)
	for {
		ch, updates := n.changes.state()
		if n.chain.BestSnapshot().Hash != lpTip {
			return nil
		}
		now := time.Now()
		if !now.Before(checkAt) {
			if updates != lpUpdates {
				return nil
			}
			checkAt = now.Add(n.cfg.LongPollTxRecheck)
		}
		timer := time.NewTimer(time.Until(checkAt))
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-n.stopping:
			timer.Stop()
			return errShuttingDown
		}
		timer.Stop()
	}
}

// targetHex is the 64-hex-digit target for compact bits.
func targetHex(bits uint32) string {
	return fmt.Sprintf("%064x", blockchain.CompactToBig(bits))
}

// difficulty is Core's GetDifficulty for compact bits.
func difficulty(bits uint32) float64 {
	shift := int(bits>>24) & 0xff
	d := float64(0x0000ffff) / float64(bits&0x00ffffff)
	for ; shift < 29; shift++ {
		d *= 256
	}
	for ; shift > 29; shift-- {
		d /= 256
	}
	return d
}

// chainWork is the total work of a main-chain block at height with these
// bits. Exact on regtest, where every block must carry the same bits
// (PoWNoRetargeting, enforced as ErrUnexpectedDifficulty).
func chainWork(bits uint32, height int64) string {
	w := new(big.Int).Mul(blockchain.CalcWork(bits), big.NewInt(height+1))
	return fmt.Sprintf("%064x", w)
}
