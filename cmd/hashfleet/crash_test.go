package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// Environment knobs of TestCrashSafety: the number of kills (default 24)
// and the seed (default: the time; the test logs it).
const (
	envCrashKills = "HASHFLEET_CRASH_KILLS"
	envCrashSeed  = "HASHFLEET_CRASH_SEED"
)

// proc is one hashfleet process of the crash test, restartable with the
// same arguments.
type proc struct {
	name string
	bin  string
	args []string
	log  string // appended across restarts
	cmd  *exec.Cmd
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
}

// kill SIGKILLs the process and reaps it.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// crashStats is the part of the server's /api/stats the test checks.
type crashStats struct {
	Blocks []struct {
		Height     int64
		Hash       string
		Worker     string
		State      string
		Reason     string
		NodeResult string `json:"node_result"`
	}
	Workers []struct {
		Name   string
		Blocks uint64
	}
}

func (s crashStats) credited() int {
	n := 0
	for _, b := range s.Blocks {
		if b.State == "accepted" || b.State == "confirmed" {
			n++
		}
	}
	return n
}

// TestCrashSafety mines with the real binary (node on --datadir, server on
// --data-dir, a worker), SIGKILLs the node or the server at seeded random
// moments, restarts it, and checks at the end that every block the pool
// recorded as accepted is in the node's main chain (or marked orphaned
// with a reason) and that each worker's block credit equals the pool's
// block records for it.
func TestCrashSafety(t *testing.T) {
	bin := hashfleetBinary(t)
	kills := 24
	if s := os.Getenv(envCrashKills); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil || kills < 2 {
			t.Fatalf("%s=%q: want a number ≥ 2", envCrashKills, s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envCrashSeed); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (%s=%d to repeat), %d kills", seed, envCrashSeed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 2))

	dir := t.TempDir()
	pw := filepath.Join(dir, "rpc-password")
	if err := os.WriteFile(pw, []byte("crash-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodeAddr, stratumAddr, httpAddr := porttest.Addr(t), porttest.Addr(t), porttest.Addr(t)
	payout := nodetest.DefaultAddress()
	node := &proc{name: "node", bin: bin, log: filepath.Join(dir, "node.log"), args: []string{"node",
		"--datadir", filepath.Join(dir, "node"), "--rpc-listen", nodeAddr, "--rpc-user", "u", "--rpc-password-file", pw}}
	server := &proc{name: "server", bin: bin, log: filepath.Join(dir, "server.log"), args: []string{"server",
		"--node-rpc", "http://" + nodeAddr, "--rpc-user", "u", "--rpc-password-file", pw, "--payout", payout,
		"--network", "regtest", "--stratum-listen", stratumAddr, "--http-listen", httpAddr, "--data-dir", filepath.Join(dir, "pool"),
		"--share-interval", "300ms", "--block-maturity", "5", "--block-check-interval", "200ms"}}
	worker := &proc{name: "worker", bin: bin, log: filepath.Join(dir, "worker.log"), args: []string{"worker",
		"-o", "stratum+tcp://" + stratumAddr, "-u", payout + ".rig", "-t", "1", "-q"}}
	procs := []*proc{node, server, worker}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("--- %s log (tail):\n%s", p.name, p.tail())
			}
		}
	})
	for _, p := range procs {
		p.start(t)
	}
	rpc := &nodetest.RPCNode{URL: "http://" + nodeAddr, User: "u", Password: "crash-test", Kind: nodetest.KindEmbedded, Client: &http.Client{}}

	start := time.Now()
	credited := waitProgress(t, httpAddr, 0)
	var nodeKills, serverKills int
	for i := range kills {
		// At least a third of the kills for each process, the rest at random.
		victim := server
		if i%3 == 0 || (i%3 == 2 && rng.IntN(2) == 0) {
			victim = node
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // a random moment, not a synchronisation
		victim.kill()
		if victim == server {
			worker.kill()
			serverKills++
			server.start(t)
			worker.start(t)
		} else {
			nodeKills++
			node.start(t)
		}
		credited = waitProgress(t, httpAddr, credited)
	}
	worker.kill() // no new blocks from here on
	elapsed := time.Since(start)

	waitNodeAnswers(t, rpc) // the last kill may have been the node's
	st := settledStats(t, httpAddr)
	checkCrashInvariants(t, st, rpc)
	t.Logf("%d kills (%d node, %d server) in %v; %d blocks recorded, %d credited", nodeKills+serverKills, nodeKills, serverKills,
		elapsed.Round(time.Millisecond), len(st.Blocks), st.credited())
}

// getStats reads the server's /api/stats; an error while it restarts.
func getStats(httpAddr string) (crashStats, error) {
	var st crashStats
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+httpAddr+"/api/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("/api/stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitProgress waits until the pool has credited more than after blocks
// (the system got past the last restart) and returns the new count.
func waitProgress(t *testing.T, httpAddr string, after int) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := getStats(httpAddr)
		if err == nil && st.credited() > after {
			return st.credited()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new block credited within 90s (still %d; last error %v)", after, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNodeAnswers waits until the node's RPC answers again: a node just
// restarted may not be serving yet when the pool's stats already look
// settled (blocks keep being credited between kills).
func waitNodeAnswers(t *testing.T, rpc *nodetest.RPCNode) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := rpc.Call(context.Background(), "getblockcount")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not answering 60s after the last restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settledStats waits until no block is pending (a submission in flight, or
// one an earlier run left unsettled, which the server resolves with the
// node after a restart) and returns the stats.
func settledStats(t *testing.T, httpAddr string) crashStats {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := getStats(httpAddr)
		pending := 0
		for _, b := range st.Blocks {
			if b.State == "pending" {
				pending++
			}
		}
		if err == nil && pending == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocks still pending after 60s: %d (err %v)", pending, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkCrashInvariants: every credited block is in the node's main chain,
// every orphaned one says why, and worker credits equal the records.
func checkCrashInvariants(t *testing.T, st crashStats, rpc *nodetest.RPCNode) {
	t.Helper()
	want := map[string]uint64{}
	for _, b := range st.Blocks {
		switch b.State {
		case "accepted", "confirmed":
			want[b.Worker]++
			var hdr struct{ Confirmations, Height int64 }
			raw, err := rpc.Call(context.Background(), "getblockheader", b.Hash)
			if err == nil {
				err = json.Unmarshal(raw, &hdr)
			}
			if err != nil || hdr.Confirmations < 1 || hdr.Height != b.Height {
				t.Errorf("block %s at %d recorded %s: node says confirmations %d height %d (err %v)",
					b.Hash, b.Height, b.State, hdr.Confirmations, hdr.Height, err)
			}
		case "orphaned", "rejected":
			if b.Reason == "" && b.NodeResult == "" {
				t.Errorf("block %s %s without a reason", b.Hash, b.State)
			}
		default:
			t.Errorf("block %s: unexpected state %q", b.Hash, b.State)
		}
	}
	got := map[string]uint64{}
	for _, w := range st.Workers {
		if w.Blocks > 0 {
			got[w.Name] = w.Blocks
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("worker block credits %v, want the pool's records %v", got, want)
	}
	if len(want) == 0 {
		t.Error("no block credited at all")
	}
	var lines []string
	for _, b := range st.Blocks {
		if b.State != "accepted" && b.State != "confirmed" {
			lines = append(lines, fmt.Sprintf("%d %s %s %s %s", b.Height, b.Hash[:16], b.State, b.NodeResult, b.Reason))
		}
	}
	if len(lines) > 0 {
		t.Logf("blocks not credited:\n%s", strings.Join(lines, "\n"))
	}
}
