package job

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
)

// BuildParams are the pool-wide inputs of a job besides the template.
type BuildParams struct {
	PayoutScript    []byte // output script paid by the coinbase; required
	Tag             []byte // pool tag in the coinbase scriptSig
	Extranonce1Size int
	Extranonce2Size int
	// NoAuxFlags leaves the node's coinbaseaux.flags out of the scriptSig.
	NoAuxFlags bool
}

// NewJob builds an immutable job from a template. It is pure: the witness
// commitment is recomputed from the template's wtxids (the node's field is
// only compared, never trusted), the coinbase is built by btc.BuildCoinbase
// and the merkle branch from the txids. created stamps Job.Created.
func NewJob(id string, tpl *chain.Template, p BuildParams, clean bool, created time.Time) (*Job, error) {
	if tpl == nil {
		return nil, errors.New("job: nil template")
	}
	if len(p.PayoutScript) == 0 {
		return nil, errors.New("job: payout script is required")
	}
	txids := make([][32]byte, len(tpl.Txs))
	wtxids := make([][32]byte, len(tpl.Txs))
	raw := make([][]byte, len(tpl.Txs))
	for i, tx := range tpl.Txs {
		txids[i], wtxids[i], raw[i] = tx.TxID, tx.WTxID, tx.Data
	}
	j := &Job{
		ID:                id,
		Height:            tpl.Height,
		PrevHash:          tpl.PrevHash,
		Branch:            btc.MerkleBranch(txids),
		Version:           tpl.Version,
		Bits:              tpl.Bits,
		Time:              tpl.CurTime,
		MinTime:           tpl.MinTime,
		Clean:             clean,
		NetworkTarget:     tpl.Target,
		Extranonce1Size:   p.Extranonce1Size,
		Extranonce2Size:   p.Extranonce2Size,
		Witness:           tpl.Segwit,
		CoinbaseValueSats: tpl.CoinbaseValueSats,
		Txs:               raw,
		Created:           created,
	}
	if j.Time < j.MinTime {
		j.Time = j.MinTime
	}
	var commitment []byte
	if tpl.Segwit {
		commitment = btc.WitnessCommitmentScript(wtxids)
		if tpl.WitnessCommitment != nil && !bytes.Equal(tpl.WitnessCommitment, commitment) {
			j.CommitmentMismatch = true
		}
	}
	var aux []byte
	if !p.NoAuxFlags {
		aux = tpl.CoinbaseAuxFlags
	}
	cb, err := btc.BuildCoinbase(btc.CoinbaseConfig{
		Height:            tpl.Height,
		ValueSats:         tpl.CoinbaseValueSats,
		PayoutScript:      p.PayoutScript,
		WitnessCommitment: commitment,
		Tag:               p.Tag,
		AuxFlags:          aux,
		Extranonce1Size:   p.Extranonce1Size,
		Extranonce2Size:   p.Extranonce2Size,
	})
	if err != nil && aux != nil {
		// An oversized aux push must not cost us the job; drop it.
		cb, err = btc.BuildCoinbase(btc.CoinbaseConfig{
			Height: tpl.Height, ValueSats: tpl.CoinbaseValueSats, PayoutScript: p.PayoutScript,
			WitnessCommitment: commitment, Tag: p.Tag,
			Extranonce1Size: p.Extranonce1Size, Extranonce2Size: p.Extranonce2Size,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("job: build coinbase for height %d: %w", tpl.Height, err)
	}
	j.Coinb1, j.Coinb2 = cb.Coinb1, cb.Coinb2
	return j, nil
}

// withTime returns a copy of j with a new ID and ntime, for ntime refresh.
func (j *Job) withTime(id string, ntime uint32, created time.Time) *Job {
	c := *j
	c.ID, c.Time, c.Clean, c.Created = id, ntime, false, created
	return &c
}

// AssembleBlock serializes the block that share fields en1, en2, ntime,
// nonce and version (full) produce on j, ready for submitblock.
func (j *Job) AssembleBlock(en1, en2 []byte, ntime, nonce, version uint32) []byte {
	w := j.Work()
	header := w.Header(en1, en2, ntime, nonce, version)
	return btc.SerializeBlock(header, w.Coinbase(en1, en2), j.Txs, j.Witness)
}
