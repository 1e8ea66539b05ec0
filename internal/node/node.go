// Package node is hashfleet's embedded regtest Bitcoin node: btcd's own
// consensus code (blockchain.ProcessBlock with full validation, btcd's
// mempool and block template generator) in-process, behind a
// bitcoind-compatible JSON-RPC subset over HTTP (getblocktemplate with
// longpoll, submitblock, chain queries, sendrawtransaction,
// generatetoaddress). Where btcd's RPC differs from Bitcoin Core's, this
// node answers as Core does.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb" // registers the "ffldb" driver
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/mining"
	"github.com/btcsuite/btcd/txscript/v2"
)

// Defaults applied by New.
const (
	DefaultRPCListen         = "127.0.0.1:18443"
	DefaultLongPollTxWait    = time.Minute
	DefaultLongPollTxRecheck = 10 * time.Second
	DefaultUtxoCacheMaxSize  = 16 << 20
	cookieUser               = "__cookie__"
)

// Config configures a Node. Exactly one of DataDir and Ephemeral is set.
type Config struct {
	// DataDir holds the chain database (DataDir/regtest/blocks_ffldb);
	// a restart on the same DataDir continues at the same height.
	DataDir string
	// Ephemeral keeps the chain in a temporary directory that is removed
	// when the node shuts down.
	Ephemeral bool

	// RPCListen is the JSON-RPC listen address; default 127.0.0.1:18443.
	// Port 0 picks a free port (see Node.Addr).
	RPCListen string
	// Listener, if set, is used instead of listening on RPCListen.
	Listener net.Listener

	// RPCUser and RPCPassword are the basic-auth credentials. If both are
	// empty the node uses Bitcoin Core's cookie convention: a random
	// password written as "__cookie__:<hex>" to CookieFile (mode 0600),
	// removed on shutdown.
	RPCUser, RPCPassword string
	// CookieFile is where the cookie is written; default
	// <datadir>/regtest/.cookie.
	CookieFile string

	// LongPollTxWait is how long a longpoll waits before a mempool change
	// alone (no new block) answers it; default 1 minute, as Core.
	// LongPollTxRecheck is the mempool check interval after that;
	// default 10 s, as Core.
	LongPollTxWait, LongPollTxRecheck time.Duration

	// UtxoCacheMaxSize bounds btcd's UTXO cache in bytes; default 16 MiB.
	UtxoCacheMaxSize uint64

	// Logger receives operational logs; default discards.
	Logger *slog.Logger
}

// Validate reports a configuration error without changing c.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "" && !c.Ephemeral:
		return errors.New("node: config: one of DataDir and Ephemeral is required")
	case c.DataDir != "" && c.Ephemeral:
		return errors.New("node: config: DataDir and Ephemeral are exclusive")
	case (c.RPCUser == "") != (c.RPCPassword == ""):
		return errors.New("node: config: RPCUser and RPCPassword go together (or neither, for cookie auth)")
	case c.RPCUser == cookieUser:
		return fmt.Errorf("node: config: RPCUser %q is reserved for cookie auth", cookieUser)
	case c.LongPollTxWait < 0 || c.LongPollTxRecheck < 0:
		return errors.New("node: config: negative longpoll durations")
	}
	return nil
}

// Node is a running regtest chain with its RPC listener. Create it with New,
// then call Run; if Run is never called, call Close.
type Node struct {
	cfg       Config
	log       *slog.Logger
	params    *chaincfg.Params
	dataDir   string
	ephemeral bool
	cookie    string // cookie file path, "" with user/password auth
	user      string
	password  string

	db      database.DB
	flusher *dbFlusher // writes ffldb's cache to disk before a block is answered
	chain   *blockchain.BlockChain
	mp      *mempool.TxPool
	gen     *mining.BlkTmplGenerator
	tsrc    blockchain.MedianTimeSource
	ln      net.Listener
	http    *http.Server
	start   time.Time
	closed  atomic.Bool

	// stateMu serializes all work on btcd's chain, mempool and template
	// generator objects: changes (submitblock, generatetoaddress,
	// sendrawtransaction) so a template never sees a tip whose mempool has
	// not been pruned yet, and reads too, because btcutil.Tx caches its
	// hashes lazily without locking, so even two readers of a mempool tx
	// race. Held only while btcd works, never while waiting.
	stateMu sync.Mutex

	dbClosed bool // set under stateMu when closing: btcd may not be used any more

	// extraNonce makes generatetoaddress coinbases unique.
	extraNonce atomic.Int64

	// changes wakes longpolls: a new tip or a mempool change.
	changes changeNotifier
	// longpolls counts getblocktemplate longpolls waiting now.
	longpolls atomic.Int64

	stopping chan struct{} // closed when Run begins shutting down
	stopOnce sync.Once
}

// New opens (or creates) the chain and binds the RPC listener; it serves
// nothing until Run.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RPCListen == "" {
		cfg.RPCListen = DefaultRPCListen
	}
	if cfg.LongPollTxWait == 0 {
		cfg.LongPollTxWait = DefaultLongPollTxWait
	}
	if cfg.LongPollTxRecheck == 0 {
		cfg.LongPollTxRecheck = DefaultLongPollTxRecheck
	}
	if cfg.UtxoCacheMaxSize == 0 {
		cfg.UtxoCacheMaxSize = DefaultUtxoCacheMaxSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	params := chaincfg.RegressionNetParams // copy: btcd keeps pointers into it
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger,
		params:    &params,
		dataDir:   cfg.DataDir,
		ephemeral: cfg.Ephemeral,
		start:     time.Now(),
		stopping:  make(chan struct{}),
	}
	n.changes.init()
	if n.ephemeral {
		d, err := os.MkdirTemp("", "hashfleet-node-*")
		if err != nil {
			return nil, fmt.Errorf("node: temp datadir: %w", err)
		}
		n.dataDir = d
	}
	if err := n.open(); err != nil {
		n.closeAll()
		return nil, err
	}
	return n, nil
}

// open opens (or creates) the chain database under the data dir, loads
// the chain with its mempool and template generator, sets up the RPC
// credentials and listens. Close releases what it opened, also on error.
func (n *Node) open() error {
	netDir := filepath.Join(n.dataDir, n.params.Name)
	if err := os.MkdirAll(netDir, 0o700); err != nil {
		return fmt.Errorf("node: datadir: %w", err)
	}
	db, err := openDB(filepath.Join(netDir, "blocks_ffldb"), n.params)
	if err != nil {
		return err
	}
	n.db = db
	if n.flusher, err = newDBFlusher(db); err != nil {
		return err
	}
	if err := n.loadChain(); err != nil {
		return err
	}
	if err := n.setCredentials(netDir); err != nil {
		return err
	}
	n.ln = n.cfg.Listener
	if n.ln == nil {
		if n.ln, err = net.Listen("tcp", n.cfg.RPCListen); err != nil {
			return fmt.Errorf("node: rpc listen: %w", err)
		}
	}
	best := n.chain.BestSnapshot()
	n.log.Info("chain loaded", "datadir", n.dataDir, "ephemeral", n.ephemeral,
		"height", best.Height, "tip", best.Hash.String(), "rpc", n.ln.Addr().String(), "cookie", n.cookie)
	return nil
}

// openDB opens the ffldb block database of params' network at path,
// creating it when it does not exist yet.
func openDB(path string, params *chaincfg.Params) (database.DB, error) {
	db, err := database.Open("ffldb", path, params.Net)
	if err == nil {
		return db, nil
	}
	var dbErr database.Error
	if !errors.As(err, &dbErr) || dbErr.ErrorCode != database.ErrDbDoesNotExist {
		return nil, fmt.Errorf("node: open database %s: %w", path, err)
	}
	if db, err = database.Create("ffldb", path, params.Net); err != nil {
		return nil, fmt.Errorf("node: create database %s: %w", path, err)
	}
	return db, nil
}

// loadChain builds btcd's chain over n.db (full validation), the mempool
// that feeds templates and the template generator, and subscribes to the
// chain's events.
func (n *Node) loadChain() error {
	n.tsrc = blockchain.NewMedianTime()
	sigCache := txscript.NewSigCache(10000)
	hashCache := txscript.NewHashCache(10000)
	chain, err := blockchain.New(&blockchain.Config{
		DB:               n.db,
		ChainParams:      n.params,
		TimeSource:       n.tsrc,
		SigCache:         sigCache,
		HashCache:        hashCache,
		UtxoCacheMaxSize: n.cfg.UtxoCacheMaxSize,
	})
	if err != nil {
		return fmt.Errorf("node: load chain: %w", err)
	}
	n.chain = chain
	n.mp = mempool.New(&mempool.Config{
		Policy: mempool.Policy{
			MaxTxVersion:      2,
			AcceptNonStd:      n.params.RelayNonStdTxs,
			FreeTxRelayLimit:  15,
			MaxOrphanTxs:      100,
			MaxOrphanTxSize:   100000,
			MaxSigOpCostPerTx: blockchain.MaxBlockSigOpsCost / 4,
			MinRelayTxFee:     mempool.DefaultMinRelayTxFee,
		},
		ChainParams:    n.params,
		FetchUtxoView:  chain.FetchUtxoView,
		BestHeight:     func() int32 { return chain.BestSnapshot().Height },
		MedianTimePast: func() time.Time { return chain.BestSnapshot().MedianTime },
		CalcSequenceLock: func(tx *btcutil.Tx, view *blockchain.UtxoViewpoint) (*blockchain.SequenceLock, error) {
			return chain.CalcSequenceLock(tx, view, true)
		},
		IsDeploymentActive: chain.IsDeploymentActive,
		SigCache:           sigCache,
		HashCache:          hashCache,
	})
	n.gen = mining.NewBlkTmplGenerator(&mining.Policy{
		BlockMaxWeight: blockchain.MaxBlockWeight - 4000, // Core's default -blockmaxweight
		BlockMaxSize:   blockchain.MaxBlockBaseSize,
		TxMinFreeFee:   mempool.DefaultMinRelayTxFee,
	}, n.params, n.mp, chain, n.tsrc, sigCache, hashCache)
	chain.Subscribe(n.onChainEvent)
	return nil
}

// setCredentials takes the configured RPC user and password, or makes a
// random password and writes it to the cookie file (by default in
// netDir), as bitcoind does.
func (n *Node) setCredentials(netDir string) error {
	if n.cfg.RPCUser != "" {
		n.user, n.password = n.cfg.RPCUser, n.cfg.RPCPassword
		return nil
	}
	n.user, n.password = cookieUser, randomHex(32)
	n.cookie = n.cfg.CookieFile
	if n.cookie == "" {
		n.cookie = filepath.Join(netDir, ".cookie")
	}
	if err := writeCookie(n.cookie, n.user+":"+n.password); err != nil {
		n.cookie = ""
		return err
	}
	return nil
}

// writeCookie writes the cookie file atomically with owner-only access.
func writeCookie(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("node: cookie dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("node: write cookie: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("node: write cookie: %w", err)
	}
	return nil
}

// onChainEvent keeps the mempool in step with the chain (as btcd's sync
// manager does) and wakes longpolls. btcd calls it synchronously from
// ProcessBlock, which runs under stateMu.
func (n *Node) onChainEvent(nt *blockchain.Notification) {
	block, ok := nt.Data.(*btcutil.Block)
	if !ok {
		return
	}
	switch nt.Type {
	case blockchain.NTBlockConnected:
		for _, tx := range block.Transactions()[1:] {
			n.mp.RemoveTransaction(tx, false)
			n.mp.RemoveDoubleSpends(tx)
			n.mp.RemoveOrphan(tx)
			n.mp.ProcessOrphans(tx)
		}
		n.log.Debug("block connected", "height", block.Height(), "hash", block.Hash().String(), "txs", len(block.Transactions()))
		n.changes.notify(true)
	case blockchain.NTBlockDisconnected:
		for _, tx := range block.Transactions()[1:] {
			if _, _, err := n.mp.MaybeAcceptTransaction(tx, false, false); err != nil {
				n.mp.RemoveTransaction(tx, true)
			}
		}
		n.log.Info("block disconnected", "height", block.Height(), "hash", block.Hash().String())
		n.changes.notify(true)
	}
}

// Run serves JSON-RPC until ctx is cancelled, then shuts down: it ends
// pending longpolls, flushes the UTXO cache, closes the database, removes
// the cookie file and, for an ephemeral node, the data directory. It
// returns after everything has stopped.
func (n *Node) Run(ctx context.Context) error {
	if n.closed.Load() {
		return errors.New("node: Run after Close")
	}
	n.http = &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- n.http.Serve(n.ln) }()
	n.log.Info("rpc serving", "addr", n.ln.Addr().String())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	n.stopOnce.Do(func() { close(n.stopping) })
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := n.http.Shutdown(sctx); err != nil {
		n.http.Close()
	}
	cancel()
	if serveErr == nil {
		<-errc
	}
	err := n.closeAll()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("node: rpc serve: %w", serveErr)
	}
	return err
}

// Close releases a node whose Run was never called (Run closes on return).
func (n *Node) Close() error {
	n.stopOnce.Do(func() { close(n.stopping) })
	return n.closeAll()
}

func (n *Node) closeAll() error {
	if n.closed.Swap(true) {
		return nil
	}
	var errs []error
	if n.ln != nil {
		n.ln.Close()
	}
	if n.chain != nil {
		n.stateMu.Lock()
		n.dbClosed = true
		if err := n.chain.FlushUtxoCache(blockchain.FlushRequired); err != nil {
			errs = append(errs, fmt.Errorf("node: flush utxo cache: %w", err))
		}
		n.stateMu.Unlock()
	}
	if n.db != nil {
		if err := n.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("node: close database: %w", err))
		}
	}
	if n.cookie != "" {
		os.Remove(n.cookie)
	}
	if n.ephemeral && n.dataDir != "" {
		if err := os.RemoveAll(n.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("node: remove ephemeral datadir: %w", err))
		}
	}
	n.log.Info("node stopped", "datadir", n.dataDir)
	return errors.Join(errs...)
}

// lock takes stateMu, failing once the node has closed its database (a
// handler that outlived Run's shutdown).
func (n *Node) lock() error {
	n.stateMu.Lock()
	if n.dbClosed {
		n.stateMu.Unlock()
		return errShuttingDown
	}
	return nil
}

// Addr is the RPC listen address (useful with port 0).
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// URL is the RPC endpoint, http://host:port.
func (n *Node) URL() string { return "http://" + n.ln.Addr().String() }

// Credentials returns the RPC basic-auth user and password (for cookie
// auth, "__cookie__" and the cookie's password).
func (n *Node) Credentials() (user, password string) { return n.user, n.password }

// CookieFile is the cookie file path, or "" when a user/password is set.
func (n *Node) CookieFile() string { return n.cookie }

// DataDir is the node's data directory (a temporary one when ephemeral).
func (n *Node) DataDir() string { return n.dataDir }

// Height is the current main-chain height.
func (n *Node) Height() int64 { return int64(n.chain.BestSnapshot().Height) }

// LongPolls returns how many getblocktemplate longpolls are waiting now.
func (n *Node) LongPolls() int { return int(n.longpolls.Load()) }

// Params are the chain parameters (regtest).
func (n *Node) Params() *chaincfg.Params { return n.params }

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// changeNotifier broadcasts "something changed" to any number of waiters
// and counts mempool/tip changes (Core's nTransactionsUpdated).
type changeNotifier struct {
	mu      sync.Mutex
	ch      chan struct{} // closed and replaced on every change
	updates uint64
}

func (c *changeNotifier) init() { c.ch = make(chan struct{}) }

// notify records a change; txs says whether the transaction set changed.
func (c *changeNotifier) notify(txs bool) {
	c.mu.Lock()
	if txs {
		c.updates++
	}
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

// state returns the current wait channel and update counter.
func (c *changeNotifier) state() (<-chan struct{}, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch, c.updates
}
