package fleet

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hashfleet/hashfleet/internal/btc"
)

// EnvRPCPassword is the environment variable through which the node RPC
// password reaches the miner server; it is never an argument.
const EnvRPCPassword = "HASHFLEET_RPC_PASSWORD"

// Server is what the miner server's command line says.
type Server struct {
	NodeRPC       string // node JSON-RPC URL as the server reaches it
	RPCUser       string // optional; the password goes through EnvRPCPassword
	Payout        string
	Network       string
	StratumListen string // host:port
	HTTPListen    string // host:port
}

// CheckPayout reports whether payout is an address the miner server will
// accept on network ("" is regtest, the server's default), so that a
// scheduler refuses a bad one at its start instead of launching a server
// that exits at once, again and again.
func CheckPayout(network, payout string) error {
	params, err := btc.NetworkParams(cmp.Or(network, "regtest"))
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	if _, err := btc.PayoutScript(payout, params); err != nil {
		return fmt.Errorf("--payout: %w", err)
	}
	return nil
}

// ServerArgs returns the arguments after the binary name of the miner
// server ("server …"). They carry no secret.
func ServerArgs(s Server) []string {
	args := []string{"server",
		"--node-rpc", s.NodeRPC,
		"--payout", s.Payout,
		"--network", s.Network,
		"--stratum-listen", s.StratumListen,
		"--http-listen", s.HTTPListen,
		"--log-format", "json",
	}
	if s.RPCUser != "" {
		args = append(args, "--rpc-user", s.RPCUser)
	}
	return args
}

// WorkerArgs returns the arguments of a worker ("worker …") mining for the
// Stratum server at addr (host:port) as user, with one hashing thread per
// whole cpu (at least one).
func WorkerArgs(addr, user string, cpus float64) []string {
	threads := max(1, int(math.Floor(cpus+1e-9)))
	return []string{"worker",
		"-o", "stratum+tcp://" + addr,
		"-u", user,
		"-t", strconv.Itoa(threads),
		"--log-format", "json",
	}
}

// WorkerName is the Stratum user of a worker: USER.WORKER, as pools expect,
// with the last dash-separated part of the worker's id (at most 8
// characters) as the worker name, so that the server accounts each worker
// separately.
func WorkerName(user, id string) string {
	suffix := id
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		suffix = id[i+1:]
	}
	if len(suffix) > 8 {
		suffix = suffix[:8]
	}
	return user + "." + suffix
}
