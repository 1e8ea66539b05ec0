package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/store"
)

// JobSource is what the pool needs from the job manager (*job.Manager
// and *job.Proxy satisfy it): the stream of jobs to broadcast, a unique
// extranonce1 per connection, share validation with block submission, the
// outcomes and records of found blocks, which the job source owns (it
// records, submits, follows and persists them).
type JobSource interface {
	// Subscribe delivers the newest job (buffer 1, newest wins) until the
	// returned func is called.
	Subscribe() (<-chan *job.Job, func())
	// Current returns the newest job, nil before the first template.
	Current() *job.Job
	// NewExtranonce1 returns an extranonce1 no other live connection has.
	NewExtranonce1() []byte
	// Extranonce2Size is the extranonce2 size miners must use (0 when it
	// is not known yet: proxy mode before the first upstream job).
	Extranonce2Size() int
	// Submit validates a share and, when it meets the network target,
	// hands the block to the source's settler; it never waits for the
	// node (the block comes back Pending). Rejections are
	// *stratum.RejectError.
	Submit(ctx context.Context, sh job.Share) (job.Result, error)
	// SubscribeBlocks delivers the outcome of every block the source
	// settles (none in proxy mode); the server tells the finder's
	// sessions. The channel is closed when the source's Run has returned
	// or by the returned func.
	SubscribeBlocks() (<-chan job.Block, func())
	// Blocks returns the record of every block found, oldest first, for
	// /api/stats and the workers' block counts. Safe for concurrent use.
	Blocks() []job.BlockRecord
}

// Config configures a Server. Zero values mean the documented defaults,
// applied by New; Validate reports what cannot be defaulted.
type Config struct {
	// Addr is the Stratum TCP listen address, e.g. ":3333". Ignored when
	// Listener is set.
	Addr string
	// Listener, if set, is used instead of listening on Addr (tests,
	// socket activation). Run closes it.
	Listener net.Listener
	// Jobs supplies jobs and validates shares. Required.
	Jobs JobSource
	// Extranonce2Size is the extranonce2 length announced to miners; it
	// must equal the job manager's. Default: Jobs.Extranonce2Size(), else 8. Submits are checked
	// against each job's own Extranonce2Size.
	Extranonce2Size int
	// Password, if non-empty, is required by mining.authorize.
	Password string
	// Network, if set, makes mining.authorize refuse a worker name whose
	// address part (before the first '.') is a Bitcoin address of another
	// network. Names that are no address at all are accepted as free names.
	Network *chaincfg.Params

	// InitialDiff is the share difficulty of a new session. Default 1.
	InitialDiff float64
	// MinDiff and MaxDiff bound vardiff and suggest_difficulty. Defaults
	// 1e-9 and 1e15.
	MinDiff, MaxDiff float64
	// ShareInterval is the vardiff target time between a session's shares.
	// Default 10 s.
	ShareInterval time.Duration
	// RetargetInterval is the vardiff window. Default 60 s.
	RetargetInterval time.Duration
	// VersionMask is offered to miners in mining.configure (BIP310).
	// Default 0x1fffe000.
	VersionMask uint32

	// MaxConns caps open connections; more are accepted and closed at once.
	// Default 10000. New lowers it to what the file-descriptor limit
	// (RLIMIT_NOFILE) allows after FDReserve, and logs a warning.
	MaxConns int
	// ConnsNeedNoFDs says Listener's connections hold no file descriptor
	// (an in-memory listener, for measuring the pool at scale): MaxConns
	// is then not fitted to RLIMIT_NOFILE.
	ConnsNeedNoFDs bool
	// FDReserve is how many file descriptors New keeps free for
	// everything but Stratum connections (the HTTP API, the node RPC, the
	// data dir, logs). Default 256.
	FDReserve int
	// MaxConnsPerIP caps open connections from one address (an IPv6
	// address counts by its /64). Default 256.
	MaxConnsPerIP int
	// ConnRatePerIP and ConnBurstPerIP bound new connections per address
	// (token bucket): beyond them a connection is accepted and closed at
	// once. Defaults 20/s and 100 (a farm behind one NAT reconnecting
	// after a pool restart gets in within seconds).
	ConnRatePerIP  float64
	ConnBurstPerIP int
	// ShareTimeout is the idle rule that mining.ping does not satisfy:
	// once the pool holds at least 90% of MaxConns, a session whose last
	// accepted share (or whose connect, when it has none) is older than
	// ShareTimeout is closed to make room for new miners. Vardiff lowers
	// the difficulty of a session without shares, so any live miner
	// submits well within it. Default 5 min.
	ShareTimeout time.Duration
	// MaxWorkerNames caps the worker names without an accepted share that
	// the stats table tracks; beyond it the least recently used such name
	// is dropped. Names are written to the data dir only once they have an
	// accepted share (or block), and a name without one is forgotten when
	// its last connection closes, so names cost a flooding client nothing
	// lasting and never crowd out a miner's credit. Default 10000.
	MaxWorkerNames int
	// SendQueueLen is the per-connection queue of outgoing lines. While
	// more than half of it is taken the pool reads no more requests from
	// that client (backpressure: a client may pipeline any number of
	// requests, up to MsgBurst, as long as it reads the answers); the other
	// half is for broadcasts. A client that lets it fill, or does not take
	// a write within WriteTimeout, has stopped reading: it is disconnected
	// and counted as slow_client. Default 64.
	SendQueueLen int
	// MaxLineLen caps an incoming line (requests are small). Default 4096.
	MaxLineLen int
	// MaxMsgRate and MsgBurst bound incoming messages per connection
	// (token bucket); a flooding client is disconnected. Defaults 500/s,
	// 1000: room for a fast miner's share burst before vardiff catches up.
	MaxMsgRate float64
	MsgBurst   int
	// HandshakeTimeout bounds the time from connect to a subscribed and
	// authorized session. Default 30 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a session that sends nothing for this long.
	// Default 10 min.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a client; a client that takes
	// longer is disconnected as slow_client. Default 10 s.
	WriteTimeout time.Duration

	// Store, if set, keeps the per-worker share totals (bucket "workers")
	// across restarts; New loads them. The job source keeps the found
	// blocks in the same file. The caller opens and closes it.
	Store *store.DB
	// FlushInterval is how often worker totals are written. Default 10 s.
	FlushInterval time.Duration

	// Logger receives structured logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the pool's metrics. Default: none.
	Registerer prometheus.Registerer
}

// Validate reports configuration errors that defaults cannot fix. It does
// not modify c.
func (c *Config) Validate() error {
	var errs []error
	if c.Jobs == nil {
		errs = append(errs, errors.New("Jobs is required"))
	}
	if c.Listener == nil && c.Addr == "" {
		errs = append(errs, errors.New("Addr or Listener is required"))
	}
	if c.Extranonce2Size != 0 && (c.Extranonce2Size < 2 || c.Extranonce2Size > 16) {
		errs = append(errs, fmt.Errorf("Extranonce2Size %d: want 2..16", c.Extranonce2Size))
	}
	if c.MinDiff < 0 || c.MaxDiff < 0 || c.InitialDiff < 0 {
		errs = append(errs, errors.New("difficulties must not be negative"))
	}
	if c.MinDiff > 0 && c.MaxDiff > 0 && c.MinDiff > c.MaxDiff {
		errs = append(errs, fmt.Errorf("MinDiff %g above MaxDiff %g", c.MinDiff, c.MaxDiff))
	}
	if c.MaxLineLen != 0 && c.MaxLineLen < 256 {
		errs = append(errs, fmt.Errorf("MaxLineLen %d: want at least 256", c.MaxLineLen))
	}
	if c.MaxConns < 0 || c.SendQueueLen < 0 || c.MsgBurst < 0 || c.MaxMsgRate < 0 ||
		c.MaxConnsPerIP < 0 || c.ConnRatePerIP < 0 || c.ConnBurstPerIP < 0 || c.MaxWorkerNames < 0 || c.FDReserve < 0 || c.ShareTimeout < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pool: config: %w", err)
	}
	return nil
}

// withDefaults returns c with zero fields filled in.
func (c Config) withDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.Extranonce2Size, 8)
	def(&c.InitialDiff, 1)
	def(&c.MinDiff, 1e-9)
	def(&c.MaxDiff, 1e15)
	defDur(&c.ShareInterval, 10*time.Second)
	defDur(&c.RetargetInterval, 60*time.Second)
	if c.VersionMask == 0 {
		c.VersionMask = 0x1fffe000
	}
	defInt(&c.MaxConns, 10000)
	defInt(&c.FDReserve, 256)
	defInt(&c.MaxConnsPerIP, 256)
	def(&c.ConnRatePerIP, 20)
	defInt(&c.ConnBurstPerIP, 100)
	defDur(&c.ShareTimeout, 5*time.Minute)
	defInt(&c.MaxWorkerNames, 10000)
	defInt(&c.SendQueueLen, 64)
	defInt(&c.MaxLineLen, 4096)
	def(&c.MaxMsgRate, 500)
	defInt(&c.MsgBurst, 1000)
	defDur(&c.HandshakeTimeout, 30*time.Second)
	defDur(&c.IdleTimeout, 10*time.Minute)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.FlushInterval, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.InitialDiff = min(max(c.InitialDiff, c.MinDiff), c.MaxDiff)
	return c
}
