package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/obs"
)

// newNodeCmd is `hashfleet node`: the embedded regtest node behind a
// bitcoind-compatible JSON-RPC subset.
func newNodeCmd() *cobra.Command {
	var (
		listen, user, passFile, cookie, dataDir string
		ephemeral                               bool
		logFormat, logLevel                     string
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Embedded regtest Bitcoin node (btcd consensus) with a bitcoind-compatible JSON-RPC subset",
		Long: `Runs a regtest chain validated by btcd's consensus code in-process and serves
bitcoind-style JSON-RPC over HTTP: getblocktemplate (with longpoll), submitblock,
getblockcount, getbestblockhash, getblockhash, getblock, getblockheader,
getblockchaininfo, getmininginfo, getnetworkinfo, sendrawtransaction,
getrawmempool, generatetoaddress, getchaintips.

Authentication is HTTP basic auth: --rpc-user with the password from
--rpc-password-file or $` + envRPCPassword + `, or, by default, Bitcoin Core's
cookie file (<datadir>/regtest/.cookie, or --rpc-cookie=FILE), holding
"__cookie__:<password>", removed on exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := obs.NewLogger(os.Stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg := node.Config{RPCListen: listen, Ephemeral: ephemeral, Logger: log.With("component", "node")}
			switch {
			case ephemeral && cmd.Flags().Changed("datadir"):
				return errors.New("node: --datadir and --ephemeral are exclusive")
			case !ephemeral:
				cfg.DataDir = dataDir
				if cfg.DataDir == "" {
					home, err := os.UserHomeDir()
					if err != nil {
						return fmt.Errorf("node: no --datadir and no home directory: %w", err)
					}
					cfg.DataDir = filepath.Join(home, ".hashfleet", "node")
				}
			}
			if user != "" {
				if cmd.Flags().Changed("rpc-cookie") {
					return errors.New("node: --rpc-user and --rpc-cookie are exclusive")
				}
				pass, err := nodeRPCPassword(passFile)
				if err != nil {
					return err
				}
				cfg.RPCUser, cfg.RPCPassword = user, pass
			} else {
				if passFile != "" {
					return errors.New("node: --rpc-password-file needs --rpc-user")
				}
				if cookie != "" && cookie != "default" {
					cfg.CookieFile = cookie
				}
			}
			n, err := node.New(cfg)
			if err != nil {
				return err
			}
			auth := "user " + user
			if n.CookieFile() != "" {
				auth = "cookie " + n.CookieFile()
			}
			log.Info("hashfleet node ready", "rpc", n.URL(), "auth", auth, "datadir", n.DataDir(), "height", n.Height())
			return n.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "rpc-listen", node.DefaultRPCListen, "JSON-RPC listen address")
	f.StringVar(&user, "rpc-user", "", "RPC user (password from --rpc-password-file or $"+envRPCPassword+"); default: cookie auth")
	f.StringVar(&passFile, "rpc-password-file", "", "file holding the RPC password")
	f.StringVar(&cookie, "rpc-cookie", "", "cookie auth (the default without --rpc-user); --rpc-cookie=FILE writes the cookie to FILE")
	f.Lookup("rpc-cookie").NoOptDefVal = "default"
	f.StringVar(&dataDir, "datadir", "", "data directory (default ~/.hashfleet/node); the chain persists across restarts")
	f.BoolVar(&ephemeral, "ephemeral", false, "keep the chain in a temporary directory removed on exit")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// nodeRPCPassword reads the password from a file, or from
// $HASHFLEET_RPC_PASSWORD (envRPCPassword); never from argv.
func nodeRPCPassword(file string) (string, error) {
	p, err := requireSecret("--rpc-password-file", file, envRPCPassword)
	if err != nil {
		return "", fmt.Errorf("node: rpc password: %w", err)
	}
	return p, nil
}
