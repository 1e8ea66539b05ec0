package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/database"
	"github.com/btcsuite/btcd/wire/v2"
)

// Version reported by getnetworkinfo: a Core-compatible number (pools
// compare it) and a subversion that says what this really is.
const (
	reportedVersion    = 280000
	reportedSubversion = "/hashfleet-node:0.1.0(btcd-0.26.2)/"
	protocolVersion    = 70016
)

var methods map[string]method

func init() {
	methods = map[string]method{
		"getblocktemplate":   {params: []string{"template_request"}, fn: rpcGetBlockTemplate},
		"submitblock":        {params: []string{"hexdata", "dummy"}, required: 1, fn: rpcSubmitBlock},
		"getblockcount":      {fn: rpcGetBlockCount},
		"getbestblockhash":   {fn: rpcGetBestBlockHash},
		"getblockhash":       {params: []string{"height"}, required: 1, fn: rpcGetBlockHash},
		"getblock":           {params: []string{"blockhash", "verbosity"}, required: 1, fn: rpcGetBlock},
		"getblockheader":     {params: []string{"blockhash", "verbose"}, required: 1, fn: rpcGetBlockHeader},
		"getblockchaininfo":  {fn: rpcGetBlockchainInfo},
		"getmininginfo":      {fn: rpcGetMiningInfo},
		"getnetworkinfo":     {fn: rpcGetNetworkInfo},
		"sendrawtransaction": {params: []string{"hexstring", "maxfeerate", "maxburnamount"}, required: 1, fn: rpcSendRawTransaction},
		"getrawmempool":      {params: []string{"verbose", "mempool_sequence"}, fn: rpcGetRawMempool},
		"generatetoaddress":  {params: []string{"nblocks", "address", "maxtries"}, required: 2, fn: rpcGenerateToAddress},
		"getchaintips":       {fn: rpcGetChainTips},
		"uptime": {fn: func(_ context.Context, n *Node, _ params) (any, error) {
			return int64(time.Since(n.start).Seconds()), nil
		}},
	}
}

func rpcGetBlockTemplate(ctx context.Context, n *Node, p params) (any, error) {
	var req struct {
		Mode       string   `json:"mode"`
		Rules      []string `json:"rules"`
		LongPollID *string  `json:"longpollid"`
		Data       string   `json:"data"`
	}
	if p.has(0) {
		if err := json.Unmarshal(p[0], &req); err != nil {
			return nil, rpcErr(CodeTypeError, "template_request must be an object: %v", err)
		}
	}
	switch req.Mode {
	case "", "template":
	case "proposal":
		if req.Data == "" {
			return nil, rpcErr(CodeTypeError, "Missing data String key for proposal")
		}
		msg, err := decodeBlock(req.Data)
		if err != nil {
			return nil, err
		}
		res, err := n.ProposeBlock(msg)
		if err != nil {
			return nil, blockError(err)
		}
		return nullIfEmpty(res), nil
	default:
		return nil, rpcErr(CodeInvalidParameter, "Invalid mode")
	}
	segwit := false
	for _, r := range req.Rules {
		segwit = segwit || r == "segwit"
	}
	if !segwit {
		return nil, rpcErr(CodeInvalidParameter, `getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})`)
	}
	if req.LongPollID != nil {
		tip, updates := parseLongPollID(*req.LongPollID)
		if err := n.waitLongPoll(ctx, tip, updates); err != nil {
			return nil, err
		}
	}
	select {
	case <-n.stopping:
		return nil, errShuttingDown
	default:
	}
	t, err := n.newTemplate()
	if err != nil {
		return nil, err
	}
	return t.gbt(), nil
}

func decodeBlock(s string) (*wire.MsgBlock, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, rpcErr(CodeDeserialization, "Block decode failed")
	}
	var msg wire.MsgBlock
	if err := msg.Deserialize(bytes.NewReader(b)); err != nil {
		return nil, rpcErr(CodeDeserialization, "Block decode failed")
	}
	return &msg, nil
}

func blockError(err error) error {
	if _, ok := errors.AsType[*RPCError](err); ok {
		return err
	}
	if errors.Is(err, errNoCoinbase) {
		return rpcErr(CodeDeserialization, "%s", err.Error())
	}
	return rpcErr(CodeVerifyError, "%s", err.Error())
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func rpcSubmitBlock(_ context.Context, n *Node, p params) (any, error) {
	s, err := p.str(0, "hexdata")
	if err != nil {
		return nil, err
	}
	msg, err := decodeBlock(s)
	if err != nil {
		return nil, err
	}
	res, err := n.SubmitBlock(msg)
	if err != nil {
		return nil, blockError(err)
	}
	if res != "" {
		n.log.Info("block rejected", "hash", msg.BlockHash().String(), "reason", res)
	}
	return nullIfEmpty(res), nil
}

func rpcGetBlockCount(_ context.Context, n *Node, _ params) (any, error) {
	return n.Height(), nil
}

func rpcGetBestBlockHash(_ context.Context, n *Node, _ params) (any, error) {
	return n.chain.BestSnapshot().Hash.String(), nil
}

func rpcGetBlockHash(_ context.Context, n *Node, p params) (any, error) {
	h, err := p.int32(0, "height")
	if err != nil {
		return nil, err
	}
	if h < 0 || int64(h) > n.Height() {
		return nil, rpcErr(CodeInvalidParameter, "Block height out of range")
	}
	hash, err := n.chain.BlockHashByHeight(h)
	if err != nil {
		return nil, rpcErr(CodeInvalidParameter, "Block height out of range")
	}
	return hash.String(), nil
}

func parseHash(p params, i int, name string) (*chainhash.Hash, error) {
	s, err := p.str(i, name)
	if err != nil {
		return nil, err
	}
	if len(s) != 64 {
		return nil, rpcErr(CodeInvalidParameter, "%s must be of length 64 (not %d, for '%s')", name, len(s), s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return nil, rpcErr(CodeInvalidParameter, "%s must be hexadecimal string (not '%s')", name, s)
	}
	return chainhash.NewHashFromStr(s)
}

// headerInfo is Core's getblockheader verbose result; getblock adds to it.
type headerInfo struct {
	Hash              string  `json:"hash"`
	Confirmations     int64   `json:"confirmations"`
	Height            int64   `json:"height"`
	Version           int32   `json:"version"`
	VersionHex        string  `json:"versionHex"`
	MerkleRoot        string  `json:"merkleroot"`
	Time              int64   `json:"time"`
	MedianTime        int64   `json:"mediantime"`
	Nonce             uint32  `json:"nonce"`
	Bits              string  `json:"bits"`
	Target            string  `json:"target"`
	Difficulty        float64 `json:"difficulty"`
	ChainWork         string  `json:"chainwork"`
	NTx               int     `json:"nTx"`
	PreviousBlockHash string  `json:"previousblockhash,omitempty"`
	NextBlockHash     string  `json:"nextblockhash,omitempty"`
}

// blockInfo is Core's getblock verbosity-1 result (tx holds txids) or
// verbosity-2 result (tx holds objects).
type blockInfo struct {
	headerInfo
	StrippedSize int   `json:"strippedsize"`
	Size         int   `json:"size"`
	Weight       int64 `json:"weight"`
	Tx           []any `json:"tx"`
}

// lookupBlock loads a known block (main or side chain) and its header info.
func (n *Node) lookupBlock(hash *chainhash.Hash) (*btcutil.Block, *headerInfo, error) {
	blk, err := n.fetchBlock(hash)
	if err != nil {
		return nil, nil, rpcErr(CodeInvalidAddress, "Block not found")
	}
	hdr := &blk.MsgBlock().Header
	best := n.chain.BestSnapshot()
	info := &headerInfo{
		Hash:       hash.String(),
		Version:    hdr.Version,
		VersionHex: fmt.Sprintf("%08x", uint32(hdr.Version)),
		MerkleRoot: hdr.MerkleRoot.String(),
		Time:       hdr.Timestamp.Unix(),
		Nonce:      hdr.Nonce,
		Bits:       fmt.Sprintf("%08x", hdr.Bits),
		Target:     targetHex(hdr.Bits),
		Difficulty: difficulty(hdr.Bits),
		NTx:        len(blk.MsgBlock().Transactions),
	}
	if hdr.PrevBlock != (chainhash.Hash{}) {
		info.PreviousBlockHash = hdr.PrevBlock.String()
	}
	if mt, err := n.chain.PastMedianTime(hdr); err == nil {
		info.MedianTime = mt.Unix()
	} else {
		info.MedianTime = info.Time // genesis
	}
	if h, err := n.chain.BlockHeightByHash(hash); err == nil {
		info.Height = int64(h)
		info.Confirmations = int64(best.Height) - info.Height + 1
		if next, err := n.chain.BlockHashByHeight(h + 1); err == nil {
			info.NextBlockHash = next.String()
		}
	} else {
		info.Height = n.sideHeight(hdr)
		info.Confirmations = -1 // Core: not on the main chain
	}
	info.ChainWork = chainWork(hdr.Bits, info.Height)
	return blk, info, nil
}

// fetchBlock loads a block from the main chain or, failing that, from the
// database (side-chain blocks).
func (n *Node) fetchBlock(hash *chainhash.Hash) (*btcutil.Block, error) {
	if blk, err := n.chain.BlockByHash(hash); err == nil {
		return blk, nil
	}
	var raw []byte
	err := n.db.View(func(tx database.Tx) error {
		b, err := tx.FetchBlock(hash)
		raw = bytes.Clone(b) // only valid during the transaction
		return err
	})
	if err != nil {
		return nil, err
	}
	return btcutil.NewBlockFromBytes(raw)
}

// sideHeight finds a side-chain block's height by walking back to the main
// chain.
func (n *Node) sideHeight(hdr *wire.BlockHeader) int64 {
	var steps int64 = 1
	prev := hdr.PrevBlock
	for range 10000 {
		if h, err := n.chain.BlockHeightByHash(&prev); err == nil {
			return int64(h) + steps
		}
		ph, err := n.chain.HeaderByHash(&prev)
		if err != nil {
			break
		}
		prev = ph.PrevBlock
		steps++
	}
	return -1
}

func rpcGetBlockHeader(_ context.Context, n *Node, p params) (any, error) {
	hash, err := parseHash(p, 0, "hash")
	if err != nil {
		return nil, err
	}
	verbose := true
	if p.has(1) {
		if verbose, err = p.boolean(1, "verbose"); err != nil {
			return nil, err
		}
	}
	blk, info, err := n.lookupBlock(hash)
	if err != nil {
		return nil, err
	}
	if !verbose {
		var b bytes.Buffer
		blk.MsgBlock().Header.Serialize(&b)
		return hex.EncodeToString(b.Bytes()), nil
	}
	return info, nil
}

// txInfo is a minimal decoded transaction for getblock verbosity 2.
type txInfo struct {
	TxID     string `json:"txid"`
	Hash     string `json:"hash"`
	Version  int32  `json:"version"`
	Size     int    `json:"size"`
	VSize    int64  `json:"vsize"`
	Weight   int64  `json:"weight"`
	LockTime uint32 `json:"locktime"`
	Hex      string `json:"hex"`
}

func rpcGetBlock(_ context.Context, n *Node, p params) (any, error) {
	hash, err := parseHash(p, 0, "blockhash")
	if err != nil {
		return nil, err
	}
	verbosity := int64(1)
	if p.has(1) {
		if verbosity, err = p.intOrBool(1, "verbosity"); err != nil {
			return nil, err
		}
	}
	blk, info, err := n.lookupBlock(hash)
	if err != nil {
		return nil, err
	}
	msg := blk.MsgBlock()
	if verbosity <= 0 {
		var b bytes.Buffer
		if err := msg.Serialize(&b); err != nil {
			return nil, err
		}
		return hex.EncodeToString(b.Bytes()), nil
	}
	res := blockInfo{
		headerInfo:   *info,
		StrippedSize: msg.SerializeSizeStripped(),
		Size:         msg.SerializeSize(),
		Weight:       blockchain.GetBlockWeight(blk),
	}
	for _, tx := range blk.Transactions() {
		if verbosity == 1 {
			res.Tx = append(res.Tx, tx.Hash().String())
			continue
		}
		var b bytes.Buffer
		tx.MsgTx().Serialize(&b)
		w := blockchain.GetTransactionWeight(tx)
		res.Tx = append(res.Tx, txInfo{
			TxID: tx.Hash().String(), Hash: tx.WitnessHash().String(), Version: tx.MsgTx().Version,
			Size: b.Len(), VSize: (w + 3) / 4, Weight: w, LockTime: tx.MsgTx().LockTime,
			Hex: hex.EncodeToString(b.Bytes()),
		})
	}
	return res, nil
}

func rpcGetBlockchainInfo(_ context.Context, n *Node, _ params) (any, error) {
	best := n.chain.BestSnapshot()
	hdr, err := n.chain.HeaderByHash(&best.Hash)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"chain":                "regtest",
		"blocks":               best.Height,
		"headers":              best.Height,
		"bestblockhash":        best.Hash.String(),
		"bits":                 fmt.Sprintf("%08x", best.Bits),
		"target":               targetHex(best.Bits),
		"difficulty":           difficulty(best.Bits),
		"time":                 hdr.Timestamp.Unix(),
		"mediantime":           best.MedianTime.Unix(),
		"verificationprogress": 1,
		"initialblockdownload": false,
		"chainwork":            chainWork(best.Bits, int64(best.Height)),
		"size_on_disk":         dirSize(filepath.Join(n.dataDir, n.params.Name)),
		"pruned":               false,
		"warnings":             []string{},
	}, nil
}

func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func rpcGetMiningInfo(_ context.Context, n *Node, _ params) (any, error) {
	best := n.chain.BestSnapshot()
	return map[string]any{
		"blocks":        best.Height,
		"bits":          fmt.Sprintf("%08x", best.Bits),
		"difficulty":    difficulty(best.Bits),
		"target":        targetHex(best.Bits),
		"networkhashps": n.networkHashPS(120),
		"pooledtx":      n.mp.Count(),
		"chain":         "regtest",
		"warnings":      []string{},
	}, nil
}

// networkHashPS estimates hashes per second over the last window blocks,
// as Core's getnetworkhashps: work done / time between first and last.
func (n *Node) networkHashPS(window int32) float64 {
	best := n.chain.BestSnapshot()
	if best.Height == 0 {
		return 0
	}
	first := max(best.Height-window, 0)
	fh, err1 := n.chain.BlockHashByHeight(first)
	if err1 != nil {
		return 0
	}
	a, err1 := n.chain.HeaderByHash(fh)
	b, err2 := n.chain.HeaderByHash(&best.Hash)
	if err1 != nil || err2 != nil {
		return 0
	}
	secs := b.Timestamp.Sub(a.Timestamp).Seconds()
	if secs <= 0 {
		return 0
	}
	work, _ := new(big.Float).SetInt(blockchain.CalcWork(best.Bits)).Float64()
	return work * float64(best.Height-first) / secs
}

func rpcGetNetworkInfo(_ context.Context, n *Node, _ params) (any, error) {
	return map[string]any{
		"version":            reportedVersion,
		"subversion":         reportedSubversion,
		"protocolversion":    protocolVersion,
		"localservices":      "0000000000000409",
		"localservicesnames": []string{"NETWORK", "WITNESS", "NETWORK_LIMITED"},
		"localrelay":         true,
		"timeoffset":         0,
		"networkactive":      true,
		"connections":        0,
		"connections_in":     0,
		"connections_out":    0,
		"networks":           []any{},
		"relayfee":           0.00001,
		"incrementalfee":     0.00001,
		"localaddresses":     []any{},
		"warnings":           []string{},
	}, nil
}

func rpcSendRawTransaction(_ context.Context, n *Node, p params) (any, error) {
	s, err := p.str(0, "hexstring")
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	var tx wire.MsgTx
	if err == nil {
		err = tx.Deserialize(bytes.NewReader(b))
	}
	if err != nil || len(tx.TxIn) == 0 {
		return nil, rpcErr(CodeDeserialization, "TX decode failed. Make sure the tx has at least one input.")
	}
	maxFee := int64(10_000_000) // Core's default maxfeerate: 0.10 BTC/kvB
	if p.has(1) {
		var btcPerKvB float64
		if err := json.Unmarshal(p[1], &btcPerKvB); err != nil || btcPerKvB < 0 {
			return nil, rpcErr(CodeTypeError, "maxfeerate must be a non-negative amount")
		}
		maxFee = int64(btcPerKvB*1e8 + 0.5)
	}
	hash, err := n.SendRawTransaction(&tx, maxFee)
	if err != nil {
		return nil, err
	}
	return hash.String(), nil
}

// mempoolEntry is Core's getrawmempool verbose entry (subset).
type mempoolEntry struct {
	VSize   int64              `json:"vsize"`
	Weight  int64              `json:"weight"`
	Time    int64              `json:"time"`
	Height  int64              `json:"height"`
	WTxID   string             `json:"wtxid"`
	Fees    map[string]float64 `json:"fees"`
	Depends []string           `json:"depends"`
}

func rpcGetRawMempool(_ context.Context, n *Node, p params) (any, error) {
	verbose := false
	if p.has(0) {
		var err error
		if verbose, err = p.boolean(0, "verbose"); err != nil {
			return nil, err
		}
	}
	if err := n.lock(); err != nil {
		return nil, err
	}
	defer n.stateMu.Unlock()
	descs := n.mp.TxDescs()
	if !verbose {
		ids := make([]string, 0, len(descs))
		for _, d := range descs {
			ids = append(ids, d.Tx.Hash().String())
		}
		return ids, nil
	}
	out := make(map[string]mempoolEntry, len(descs))
	for _, d := range descs {
		w := blockchain.GetTransactionWeight(d.Tx)
		e := mempoolEntry{
			VSize: (w + 3) / 4, Weight: w, Time: d.Added.Unix(), Height: int64(d.Height),
			WTxID: d.Tx.WitnessHash().String(),
			Fees:  map[string]float64{"base": float64(d.Fee) / 1e8, "modified": float64(d.Fee) / 1e8},
		}
		e.Depends = []string{}
		for _, in := range d.Tx.MsgTx().TxIn {
			if n.mp.HaveTransaction(&in.PreviousOutPoint.Hash) {
				e.Depends = append(e.Depends, in.PreviousOutPoint.Hash.String())
			}
		}
		out[d.Tx.Hash().String()] = e
	}
	return out, nil
}

func rpcGenerateToAddress(ctx context.Context, n *Node, p params) (any, error) {
	count, err := p.int32(0, "nblocks") // Core's int: the bound, checked before anything is sized
	if err != nil {
		return nil, err
	}
	addr, err := p.str(1, "address")
	if err != nil {
		return nil, err
	}
	var tries uint64
	if p.has(2) {
		if tries, err = p.uint64(2, "maxtries"); err != nil {
			return nil, err
		}
	}
	if count < 0 {
		return nil, rpcErr(CodeInvalidParameter, "nblocks must be non-negative")
	}
	hashes, err := n.GenerateToAddress(ctx, int(count), addr, tries)
	if errors.Is(err, errInvalidAddress) {
		return nil, rpcErr(CodeInvalidAddress, "Error: Invalid address")
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = h.String()
	}
	return out, nil
}

func rpcGetChainTips(_ context.Context, n *Node, _ params) (any, error) {
	var out []map[string]any
	for _, t := range n.chain.ChainTips() {
		out = append(out, map[string]any{
			"height":    t.Height,
			"hash":      t.BlockHash.String(),
			"branchlen": t.BranchLen,
			"status":    t.Status.String(),
		})
	}
	return out, nil
}
