package chain

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashfleet/hashfleet/internal/btc"
)

// GetBlockTemplate asks the node for a block template, with rules
// ["segwit"] in coinbasevalue mode. With a non-empty longPollID it is a
// BIP22 longpoll: the node holds the request until the template changes,
// and only ctx bounds the wait.
func (c *Client) GetBlockTemplate(ctx context.Context, longPollID string) (*Template, error) {
	req := map[string]any{
		"rules":        []string{"segwit"},
		"capabilities": []string{"coinbasevalue", "longpoll", "proposal"},
	}
	timeout := c.timeout
	if longPollID != "" {
		req["longpollid"] = longPollID
		timeout = 0
	}
	var raw json.RawMessage
	if err := c.call(ctx, "getblocktemplate", []any{req}, &raw, timeout); err != nil {
		return nil, err
	}
	return ParseTemplate(raw)
}

// SubmitBlock submits a serialized block. It returns nil when the node
// answered null (Core: accepted; btcd: accepted OR stored on a side chain,
// see BlockStatus); a *BlockKnownError when the node already has the
// block; a *BlockRejectedError when it refused it. Any other error means
// no answer was obtained (transport, timeout, *RPCError), and retrying may
// help.
func (c *Client) SubmitBlock(ctx context.Context, block []byte) error {
	var res *string
	if err := c.call(ctx, "submitblock", []any{hex.EncodeToString(block)}, &res, c.timeout); err != nil {
		return err
	}
	return submitResult(res)
}

// BlockKnownError is a submitblock answer saying the node has the block
// already: Core's "duplicate" and "inconclusive" (stored, not the tip) and
// btcd's "rejected: already have block …". Result is the node's word.
type BlockKnownError struct {
	Result string
}

func (e *BlockKnownError) Error() string {
	return "chain: submitblock: node has the block: " + e.Result
}

// BlockRejectedError is a node's definite refusal of a block: Reason is
// Core's BIP22 token ("high-hash", "bad-cb-amount", …) or btcd's
// "rejected: <text>". Submitting the same bytes again cannot help.
type BlockRejectedError struct {
	Reason string
}

func (e *BlockRejectedError) Error() string {
	return "chain: submitblock: rejected: " + e.Reason
}

// submitResult classifies a submitblock answer (nil for JSON null).
func submitResult(res *string) error {
	switch {
	case res == nil || *res == "":
		return nil
	case *res == "duplicate", *res == "inconclusive", strings.HasPrefix(*res, "rejected: already have block"):
		return &BlockKnownError{Result: *res}
	}
	return &BlockRejectedError{Reason: *res}
}

// BlockChainInfo is the subset of getblockchaininfo that hashfleet uses.
type BlockChainInfo struct {
	Chain                string  `json:"chain"` // "main", "test", "testnet4", "signet", "regtest"
	Blocks               int64   `json:"blocks"`
	Headers              int64   `json:"headers"`
	BestBlockHash        string  `json:"bestblockhash"` // display hex
	Difficulty           float64 `json:"difficulty"`
	MedianTime           int64   `json:"mediantime"`
	InitialBlockDownload bool    `json:"initialblockdownload"` // Core only
}

// GetBlockChainInfo calls getblockchaininfo.
func (c *Client) GetBlockChainInfo(ctx context.Context) (*BlockChainInfo, error) {
	var info BlockChainInfo
	if err := c.Call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return nil, err
	}
	if info.Chain == "" {
		return nil, &DecodeError{Method: "getblockchaininfo", Err: errors.New("no chain field")}
	}
	return &info, nil
}

// GetBestBlockHash returns the tip hash in internal byte order.
func (c *Client) GetBestBlockHash(ctx context.Context) ([32]byte, error) {
	var s string
	if err := c.Call(ctx, "getbestblockhash", nil, &s); err != nil {
		return [32]byte{}, err
	}
	h, err := btc.ParseHash("getbestblockhash", s)
	if err != nil {
		return h, &DecodeError{Method: "getbestblockhash", Err: err}
	}
	return h, nil
}

// BlockHeader is the subset of verbose getblockheader that hashfleet uses.
type BlockHeader struct {
	Hash          string `json:"hash"`
	Confirmations int64  `json:"confirmations"` // -1 (Core) when not in the main chain
	Height        int64  `json:"height"`
	PreviousHash  string `json:"previousblockhash"`
}

// GetBlockHeader returns the verbose header of hash (internal order).
func (c *Client) GetBlockHeader(ctx context.Context, hash [32]byte) (*BlockHeader, error) {
	var h BlockHeader
	if err := c.Call(ctx, "getblockheader", []any{btc.HashString(hash), true}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// BlockStatus is the node's view of a block after submission.
type BlockStatus int

const (
	// BlockUnknown: the node does not have the block (or an orphan).
	BlockUnknown BlockStatus = iota
	// BlockSideChain: the node has the block, but not in its main chain.
	BlockSideChain
	// BlockMainChain: the block is in the node's main chain.
	BlockMainChain
)

func (s BlockStatus) String() string {
	switch s {
	case BlockSideChain:
		return "side-chain"
	case BlockMainChain:
		return "main-chain"
	}
	return "unknown"
}

// Confirmations reports how deep the block hash (internal order) is in the
// node's main chain: ≥ 1 in it, -1 when the node has it off its main
// chain, 0 when the node does not have it. It copes with Core's and btcd's
// dialects as BlockStatus does.
func (c *Client) Confirmations(ctx context.Context, hash [32]byte) (int64, error) {
	h, err := c.GetBlockHeader(ctx, hash)
	if err != nil {
		if rpcErr, ok := errors.AsType[*RPCError](err); ok {
			switch {
			case rpcErr.Code == CodeBlockNotFound:
				return 0, nil
			case strings.Contains(rpcErr.Message, "not in the main chain"):
				return -1, nil
			}
		}
		return 0, err
	}
	if h.Hash != "" && h.Hash != btc.HashString(hash) {
		return 0, &DecodeError{Method: "getblockheader", Err: fmt.Errorf("asked for %s, got %s", btc.HashString(hash), h.Hash)}
	}
	if h.Confirmations < 0 {
		return -1, nil
	}
	return h.Confirmations, nil
}

// BlockStatus reports where the node has the block hash (internal order).
// It copes with both dialects: Core returns confirmations -1 for a
// side-chain header, btcd returns error -32603 "not in the main chain";
// both return -5 for an unknown block.
func (c *Client) BlockStatus(ctx context.Context, hash [32]byte) (BlockStatus, error) {
	h, err := c.GetBlockHeader(ctx, hash)
	if err != nil {
		if rpcErr, ok := errors.AsType[*RPCError](err); ok {
			switch {
			case rpcErr.Code == CodeBlockNotFound:
				return BlockUnknown, nil
			case strings.Contains(rpcErr.Message, "not in the main chain"):
				return BlockSideChain, nil
			}
		}
		return BlockUnknown, err
	}
	if h.Hash != "" && h.Hash != btc.HashString(hash) {
		return BlockUnknown, &DecodeError{Method: "getblockheader", Err: fmt.Errorf("asked for %s, got %s", btc.HashString(hash), h.Hash)}
	}
	if h.Confirmations < 0 {
		return BlockSideChain, nil
	}
	return BlockMainChain, nil
}
