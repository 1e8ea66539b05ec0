package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// envCrashChild makes this test binary run a node on the given data dir
// instead of the tests (the child process of TestCrashKeepsAcceptedBlocks).
const envCrashChild = "HASHFLEET_NODE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashChild); dir != "" {
		os.Exit(crashChild(dir))
	}
	partstest.Main(m) // prints which integration parts were missing (docs/testing.md)
}

// crashChild serves a node on dir and prints "READY <url>" once it
// listens; it runs until killed (or SIGTERM, a clean stop).
func crashChild(dir string) int {
	n, err := node.New(node.Config{DataDir: dir, RPCListen: "127.0.0.1:0", RPCUser: "u", RPCPassword: "p"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("READY %s %d\n", n.URL(), n.Height())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashNode is a node child process.
type crashNode struct {
	cmd *exec.Cmd
	rpc *nodetest.RPCNode
}

func startCrashNode(t *testing.T, dir string) *crashNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("node child did not start: %v\n%s", err, stderr.String())
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "READY" {
		t.Fatalf("node child: unexpected first line %q", line)
	}
	rpc := &nodetest.RPCNode{URL: f[1], User: "u", Password: "p", Kind: nodetest.KindEmbedded, DataDir: dir, Client: &http.Client{}}
	c := &crashNode{cmd: cmd, rpc: rpc}
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *crashNode) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}
}

type minedBlock struct {
	height int64
	hash   string
}

// TestCrashKeepsAcceptedBlocks: a node mining through generatetoaddress
// and submitblock is SIGKILLed right after answering at seeded random
// moments (with another generatetoaddress in flight); after each restart on
// the same data dir, every block it had answered for is in its main chain.
func TestCrashKeepsAcceptedBlocks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HASHFLEET_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (HASHFLEET_CRASH_SEED=%d to repeat)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	var accepted []minedBlock
	for round := range 6 {
		n := startCrashNode(t, dir)
		checkMainChain(t, n.rpc, accepted, round)
		accepted = append(accepted, mineUntilKilled(t, n, 1+rng.IntN(6), rng.IntN(2) == 0)...)
	}
	n := startCrashNode(t, dir)
	checkMainChain(t, n.rpc, accepted, 6)
	if len(accepted) == 0 {
		t.Fatal("no block was accepted")
	}
}

// mineUntilKilled mines blocks from a goroutine until want of them are
// answered, SIGKILLs the node (the goroutine is then usually mid-call) and
// returns every block the node answered for. With viaSubmit, the blocks go
// through submitblock of a getblocktemplate block instead of
// generatetoaddress.
func mineUntilKilled(t *testing.T, n *crashNode, want int, viaSubmit bool) []minedBlock {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		got  []minedBlock
		done = make(chan struct{})
		hit  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			b, err := mineOne(ctx, n.rpc, viaSubmit)
			if err != nil {
				return // the node died
			}
			mu.Lock()
			got = append(got, b)
			if len(got) == want {
				close(hit)
			}
			mu.Unlock()
		}
	}()
	select {
	case <-hit:
	case <-done:
		t.Fatalf("mining stopped before %d blocks", want)
	}
	n.kill()
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return got
}

func mineOne(ctx context.Context, n *nodetest.RPCNode, viaSubmit bool) (minedBlock, error) {
	if !viaSubmit {
		raw, err := n.Call(ctx, "generatetoaddress", 1, nodetest.DefaultAddress())
		if err != nil {
			return minedBlock{}, err
		}
		var hashes []string
		if err := json.Unmarshal(raw, &hashes); err != nil || len(hashes) != 1 {
			return minedBlock{}, fmt.Errorf("generatetoaddress: %s", raw)
		}
		var hdr struct{ Height int64 }
		raw, err = n.Call(ctx, "getblockheader", hashes[0])
		if err == nil {
			err = json.Unmarshal(raw, &hdr)
		}
		return minedBlock{height: hdr.Height, hash: hashes[0]}, err
	}
	tmpl, err := n.GetBlockTemplate(ctx, "")
	if err != nil {
		return minedBlock{}, err
	}
	msg, err := nodetest.NewBlock(tmpl, []byte{0x51}, time.Now().UnixNano())
	if err != nil {
		return minedBlock{}, err
	}
	if err := nodetest.Solve(&msg.Header); err != nil {
		return minedBlock{}, err
	}
	res, err := n.SubmitBlock(ctx, msg)
	if err != nil {
		return minedBlock{}, err
	}
	if res != "" {
		return minedBlock{}, fmt.Errorf("submitblock: %s", res)
	}
	return minedBlock{height: tmpl.Height, hash: msg.BlockHash().String()}, nil
}

// checkMainChain fails unless every block is at its height in n's main chain.
func checkMainChain(t *testing.T, n *nodetest.RPCNode, blocks []minedBlock, round int) {
	t.Helper()
	for _, b := range blocks {
		var hash string
		raw, err := n.Call(context.Background(), "getblockhash", b.height)
		if err == nil {
			err = json.Unmarshal(raw, &hash)
		}
		if err != nil || hash != b.hash {
			t.Fatalf("after kill %d: block %s answered as accepted at height %d is lost (height %d has %q, err %v; tip height %d)",
				round, b.hash, b.height, b.height, hash, err, n.BlockCount(t))
		}
	}
}

// TestDBFlusherFindsInterval: the ffldb knob the flusher reaches by
// reflection is still where it was, with btcd's 300 s default.
func TestDBFlusherFindsInterval(t *testing.T) {
	n, err := node.New(node.Config{DataDir: t.TempDir(), RPCListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := node.FlushInterval(n); got != 300*time.Second {
		t.Fatalf("ffldb flush interval: got %v, want 5m0s", got)
	}
}
