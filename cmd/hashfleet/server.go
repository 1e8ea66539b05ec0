package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/obs"
	"github.com/hashfleet/hashfleet/internal/pool"
	"github.com/hashfleet/hashfleet/internal/store"
)

// serverFlags are the `hashfleet server` options.
type serverFlags struct {
	nodeRPC, rpcUser, rpcPasswordFile, rpcCookie string
	payout, network                              string
	stratumListen, httpListen, dataDir, upstream string
	logFormat, logLevel, tag                     string
	poolPasswordFile                             string
	upstreamUser, upstreamPasswordFile           string
	initialDiff, minDiff                         float64
	shareInterval, shareTimeout                  time.Duration
	maxConns, maxConnsPerIP, connBurstPerIP      int
	connRatePerIP                                float64
	blockMaturity                                int
	blockCheck                                   time.Duration
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Stratum pool server in front of a Bitcoin node (bitcoind or btcd)",
		Long: `server gets block templates from a Bitcoin node over JSON-RPC and serves them
to miners over Stratum v1; shares meeting the network target become blocks,
submitted to the node. HTTP: /api/stats (JSON), /metrics, /healthz, /readyz.

The RPC password comes from the environment (` + envRPCPassword + `) or a file
(--rpc-password-file), or use the node's cookie file (--rpc-cookie); it never
appears in arguments, logs or the API. An optional Stratum password for
miners comes from ` + envPoolPassword + ` or --pool-password-file.

Proxy mode (--upstream stratum+tcp://host:port): jobs come from an upstream
Stratum pool instead of a node; the upstream's extranonce2 space is split
among our workers and shares meeting the upstream difficulty are forwarded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd.Context(), f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nodeRPC, "node-rpc", "http://127.0.0.1:18443", "node JSON-RPC URL")
	fl.StringVar(&f.rpcUser, "rpc-user", "", "node RPC user (password from $"+envRPCPassword+" or --rpc-password-file)")
	fl.StringVar(&f.rpcPasswordFile, "rpc-password-file", "", "file holding the node RPC password")
	fl.StringVar(&f.rpcCookie, "rpc-cookie", "", "node RPC cookie file (instead of user/password)")
	fl.StringVar(&f.payout, "payout", "", "address the coinbase pays (required)")
	fl.StringVar(&f.network, "network", "regtest", "network: regtest, testnet, testnet4, signet or mainnet")
	fl.StringVar(&f.stratumListen, "stratum-listen", "0.0.0.0:3333", "Stratum TCP listen address")
	fl.StringVar(&f.httpListen, "http-listen", "127.0.0.1:8080", "HTTP listen address (/api/stats, /metrics, /healthz, /readyz; /debug/pprof to loopback connections only); 0.0.0.0:8080 to serve the network")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for pool.db (found blocks, worker totals); empty keeps nothing across restarts")
	fl.StringVar(&f.upstream, "upstream", "", "proxy mode: mine for an upstream pool stratum+tcp://host:port instead of a node")
	fl.StringVar(&f.upstreamUser, "upstream-user", "", "proxy mode: user for the upstream pool (default: --payout)")
	fl.StringVar(&f.upstreamPasswordFile, "upstream-password-file", "", "proxy mode: file holding the upstream password (default: $"+envUpPassword+")")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.tag, "tag", "/hashfleet/", "coinbase tag")
	fl.StringVar(&f.poolPasswordFile, "pool-password-file", "", "file holding the password miners must send in mining.authorize")
	fl.Float64Var(&f.initialDiff, "initial-diff", 0, "starting share difficulty (0: 0.01 on regtest, else 1)")
	fl.Float64Var(&f.minDiff, "min-diff", 0, "lowest share difficulty (0: 1e-6 on regtest, else 0.001)")
	fl.DurationVar(&f.shareInterval, "share-interval", 10*time.Second, "vardiff target time between a worker's shares")
	fl.IntVar(&f.maxConns, "max-conns", 10000, "maximum concurrent Stratum connections (lowered, with a warning, to the file descriptor limit less 256)")
	fl.IntVar(&f.maxConnsPerIP, "max-conns-per-ip", 256, "maximum concurrent Stratum connections from one address (IPv6: one /64)")
	fl.Float64Var(&f.connRatePerIP, "conn-rate-per-ip", 20, "new Stratum connections per second one address may open (token bucket)")
	fl.IntVar(&f.connBurstPerIP, "conn-burst-per-ip", 100, "burst of new Stratum connections one address may open at once")
	fl.DurationVar(&f.shareTimeout, "share-timeout", 5*time.Minute, "when the server holds 90% of --max-conns, sessions with no accepted share for this long are closed (mining.ping does not count)")
	fl.IntVar(&f.blockMaturity, "block-maturity", 100, "confirmations after which a found block is confirmed (buried); until then one that leaves the node's main chain is marked orphaned")
	fl.DurationVar(&f.blockCheck, "block-check-interval", 30*time.Second, "how often found blocks are re-checked with the node, besides at each new tip")
	return cmd
}

// runServer runs the server until ctx is cancelled, logging to logw.
// defaultDiffs fills in the share difficulties left at 0: lower on regtest.
func (f *serverFlags) defaultDiffs(regtest bool) {
	if f.initialDiff == 0 {
		f.initialDiff = 1
		if regtest {
			f.initialDiff = 0.01
		}
	}
	if f.minDiff == 0 {
		f.minDiff = 0.001
		if regtest {
			f.minDiff = 1e-6
		}
	}
}

func runServer(ctx context.Context, f serverFlags, logw io.Writer) error {
	log, err := obs.NewLogger(logw, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	params, err := btc.NetworkParams(f.network)
	if err != nil {
		return fmt.Errorf("server: --network: %w", err)
	}
	poolPassword, err := readSecret("--pool-password-file", f.poolPasswordFile, envPoolPassword)
	if err != nil {
		return fmt.Errorf("server: pool password: %w", err)
	}
	f.defaultDiffs(params.Name == "regtest")
	reg := obs.NewRegistry()
	var st *store.DB // the state file: found blocks (job) and worker totals (pool)
	if f.dataDir != "" {
		if st, err = store.Open(f.dataDir); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		defer st.Close() // after both Run calls below have returned
	}
	var jobs jobSource
	if f.upstream != "" {
		jobs, err = newProxyJobs(f, st, log, reg)
	} else {
		jobs, err = newNodeJobs(f, params, st, log, reg)
	}
	if err != nil {
		return err
	}
	srv, err := pool.New(pool.Config{
		Addr:           f.stratumListen,
		Jobs:           jobs,
		Password:       poolPassword,
		Network:        params,
		InitialDiff:    f.initialDiff,
		MinDiff:        f.minDiff,
		ShareInterval:  f.shareInterval,
		MaxConns:       f.maxConns,
		MaxConnsPerIP:  f.maxConnsPerIP,
		ConnRatePerIP:  f.connRatePerIP,
		ConnBurstPerIP: f.connBurstPerIP,
		ShareTimeout:   f.shareTimeout,
		Store:          st,
		Logger:         log.With("component", "pool"),
		Registerer:     reg,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}

	mux := obs.NewMux(reg, srv.Ready)
	mux.Handle("GET /api/stats", srv.StatsHandler())
	mux.HandleFunc("GET /api/job", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jobs.Status())
	})

	log.Info("server starting", "node_rpc", f.nodeRPC, "upstream", redactUserinfo(f.upstream), "network", params.Name, "payout", f.payout,
		"stratum", f.stratumListen, "http", f.httpListen, "data_dir", f.dataDir, "auth", authKind(f))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return jobs.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return obs.ListenAndServe(gctx, f.httpListen, mux) })
	err = g.Wait()
	if ctx.Err() != nil && err == nil {
		log.Info("server stopped")
		return nil
	}
	return err
}

// jobSource is node mode (*job.Manager) or proxy mode (*job.Proxy).
type jobSource interface {
	pool.JobSource
	Run(ctx context.Context) error
	Status() job.Status
}

// newNodeJobs builds the job manager in front of a node's JSON-RPC.
func newNodeJobs(f serverFlags, params *chaincfg.Params, st *store.DB, log *slog.Logger, reg prometheus.Registerer) (*job.Manager, error) {
	if f.payout == "" {
		return nil, errors.New("server: --payout is required")
	}
	script, err := btc.PayoutScript(f.payout, params)
	if err != nil {
		return nil, fmt.Errorf("server: --payout: %w", err)
	}
	rpcPassword, err := readSecret("--rpc-password-file", f.rpcPasswordFile, envRPCPassword)
	if err != nil {
		return nil, fmt.Errorf("server: rpc password: %w", err)
	}
	if f.rpcCookie == "" && f.rpcUser == "" {
		return nil, errors.New("server: give --rpc-cookie or --rpc-user (password from $" + envRPCPassword + " or --rpc-password-file)")
	}
	node, err := chain.New(chain.Config{
		URL:        f.nodeRPC,
		User:       f.rpcUser,
		Password:   rpcPassword,
		CookieFile: f.rpcCookie,
		Logger:     log.With("component", "chain"),
		Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	jobs, err := job.New(job.Config{
		Source:       node,
		Submitter:    node,
		Checker:      node,
		PayoutScript: script,
		Tag:          []byte(f.tag),
		Store:        st,

		BlockMaturity:      f.blockMaturity,
		BlockCheckInterval: f.blockCheck,
		Logger:             log.With("component", "job"),
		Registerer:         reg,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return jobs, nil
}

// newProxyJobs builds the job manager in proxy mode, fed by an upstream
// Stratum pool.
func newProxyJobs(f serverFlags, st *store.DB, log *slog.Logger, reg prometheus.Registerer) (*job.Proxy, error) {
	// Credentials in the URL (stratum+tcp://user:pass@host:port, as
	// cpuminer accepts) are used when no flag or environment gives them.
	upURL, urlUser, urlPass := f.upstream, "", ""
	if u, err := url.Parse(f.upstream); err == nil && u.User != nil {
		urlUser = u.User.Username()
		urlPass, _ = u.User.Password()
		u.User = nil
		upURL = u.String()
	}
	user := cmp.Or(f.upstreamUser, urlUser, f.payout)
	if user == "" {
		return nil, errors.New("server: proxy mode needs --upstream-user, a user in the --upstream URL, or --payout")
	}
	password, err := readSecret("--upstream-password-file", f.upstreamPasswordFile, envUpPassword)
	if err != nil {
		return nil, fmt.Errorf("server: upstream password: %w", err)
	}
	password = cmp.Or(password, urlPass)
	up, err := chain.NewUpstream(chain.UpstreamConfig{
		URL:         upURL,
		User:        user,
		Password:    password,
		VersionMask: 0x1fffe000,
		Logger:      log.With("component", "upstream"),
		Registerer:  reg,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	jobs, err := job.NewProxy(job.ProxyConfig{
		Upstream:   up,
		Store:      st,
		Logger:     log.With("component", "job"),
		Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return jobs, nil
}

// redactUserinfo drops user:password@ from a URL for logs.
func redactUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "***@" + raw[i+1:]
		}
		return raw
	}
	u.User = nil
	return u.String()
}

// authKind names the RPC authentication in use, for logs (never the secret).
func authKind(f serverFlags) string {
	if f.upstream != "" {
		return "upstream"
	}
	if f.rpcCookie != "" {
		return "cookie"
	}
	return "user"
}
