package job

import (
	"context"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/stratum"
)

// TemplateSource hands out block templates. A non-empty longPollID asks for
// a BIP22 longpoll: the call returns when the template changes. It is
// satisfied by *chain.Client.
type TemplateSource interface {
	GetBlockTemplate(ctx context.Context, longPollID string) (*chain.Template, error)
}

// BlockSubmitter submits a serialized block. nil means the node took it
// (answered null); a *chain.BlockKnownError that it has it already; a
// *chain.BlockRejectedError that it refused it. Any other error means no
// answer was obtained (transport failure, timeout, *chain.RPCError); the
// Manager retries those unless the RPC error is definite. It is satisfied
// by *chain.Client.
type BlockSubmitter interface {
	SubmitBlock(ctx context.Context, block []byte) error
}

// BlockChecker tells where the node has a block. The Manager checks
// BlockStatus after a submission the node did not reject, because btcd
// answers null for side-chain and orphan blocks too, and follows found
// blocks with Confirmations: ≥ 1 in the main chain, -1 off it, 0 unknown
// to the node. It is satisfied by *chain.Client.
type BlockChecker interface {
	BlockStatus(ctx context.Context, hash [32]byte) (chain.BlockStatus, error)
	Confirmations(ctx context.Context, hash [32]byte) (int64, error)
}

// Job is one unit of work sent to miners: a block template with our
// coinbase split at the extranonce slot. A *Job is immutable once the
// Manager publishes it and is safe for concurrent use; never modify one.
type Job struct {
	ID       string
	Height   int64
	PrevHash [32]byte // internal order
	Coinb1   []byte   // coinbase (non-witness) up to extranonce1
	Coinb2   []byte   // coinbase after extranonce2
	Branch   [][32]byte
	Version  uint32 // block version before rolling
	Bits     uint32
	Time     uint32 // ntime sent to miners
	MinTime  uint32 // template mintime (consensus lower bound)
	// Clean is true when miners must drop older jobs (a new tip).
	Clean bool
	// NetworkTarget is the block target (from bits), internal order.
	NetworkTarget [32]byte
	// Extranonce1Size and Extranonce2Size are the extranonce slot sizes.
	Extranonce1Size, Extranonce2Size int
	// Witness is true when the coinbase carries a witness commitment, so the
	// submitted block uses the coinbase's witness serialization.
	Witness bool
	// CoinbaseValueSats is what the coinbase pays (subsidy + fees).
	CoinbaseValueSats int64
	// Txs are the template's non-coinbase transactions (raw, as given), in
	// block order, for block assembly. Shared, never modified.
	Txs [][]byte
	// CommitmentMismatch is true when the node's default_witness_commitment
	// differed from ours (we always use ours).
	CommitmentMismatch bool
	// Created is when the job was built.
	Created time.Time
	// Upstream is set in proxy mode: where shares for this job go.
	Upstream *UpstreamJob

	// gen numbers the tip (node mode: previous block; proxy mode: also
	// upstream clean_jobs and sessions); a job of an older gen is stale.
	gen uint64
}

// UpstreamJob links a proxy-mode job to the upstream pool's job.
type UpstreamJob struct {
	JobID   string   // upstream job id
	Session uint64   // upstream connection the job came from
	Target  [32]byte // upstream share target when the job arrived
	// VersionMask is the version-rolling mask the upstream granted.
	VersionMask uint32
}

// Work returns the header-building view of j (shares j's slices).
func (j *Job) Work() btc.Work {
	return btc.Work{
		PrevHash: j.PrevHash,
		Coinb1:   j.Coinb1,
		Coinb2:   j.Coinb2,
		Branch:   j.Branch,
		Version:  j.Version,
		Bits:     j.Bits,
		Time:     j.Time,
	}
}

// Share is a miner's submission, decoded by the pool.
type Share struct {
	JobID       string
	Extranonce1 []byte // the connection's extranonce1
	Extranonce2 []byte
	NTime       uint32
	Nonce       uint32
	// Version is the full header version the miner used (after rolling);
	// 0 means the job's version.
	Version uint32
	// VersionMask is the BIP310 mask negotiated with this connection; 0
	// means no version rolling is allowed.
	VersionMask uint32
	// Target is the share target in force when the job was sent.
	Target [32]byte
	// Worker names the submitter, for logs.
	Worker string
}

// Result describes a validated share. Submit returns it also alongside a
// *stratum.RejectError whenever the header could be hashed (Hash != zero).
type Result struct {
	Hash       [32]byte // block header hash, internal order
	Difficulty float64  // share difficulty the hash achieves
	Stale      bool     // the job was from an earlier tip
	// Block is non-nil when the hash met the network target. The block was
	// assembled and handed to the settler: it is Pending, and its outcome
	// comes on SubscribeBlocks (a replayed solving share gets the final
	// outcome when it is known).
	Block *Block
}

// Block is the outcome of a block found by a share.
type Block struct {
	Hash   [32]byte // internal order
	Height int64
	Worker string // the share's worker name
	// Accepted is true when the node put the block in its main chain.
	Accepted bool
	// Pending is true while the submission is not settled: Submit never
	// waits for the node, the settler in Run retries and publishes the
	// final outcome on SubscribeBlocks.
	Pending bool
	// NodeResult is the node's submitblock answer ("" for null), or the
	// verification outcome ("side-chain", "orphan"), or the last error.
	NodeResult string
}

// Rejections, shared so that callers and tests can compare them by
// pointer. The kind decides the Stratum code, the metric label and the
// message (stratum.RejectKind).
var (
	errUnknownJob      = &stratum.RejectError{Kind: stratum.RejectJobNotFound}
	errStaleJob        = &stratum.RejectError{Kind: stratum.RejectStale}
	errEn1Size         = &stratum.RejectError{Kind: stratum.RejectOther, Detail: "invalid extranonce1 length"}
	errEn2Size         = &stratum.RejectError{Kind: stratum.RejectExtranonce}
	errNTime           = &stratum.RejectError{Kind: stratum.RejectNTime}
	errVersion         = &stratum.RejectError{Kind: stratum.RejectVersion}
	errUpstreamVersion = &stratum.RejectError{Kind: stratum.RejectVersion, Detail: "version bits outside the upstream pool's mask"}
	errDuplicate       = &stratum.RejectError{Kind: stratum.RejectDuplicate}
	errLowDiff         = &stratum.RejectError{Kind: stratum.RejectLowDifficulty}
)
