package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

func TestNodeCmdFlagErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HASHFLEET_RPC_PASSWORD", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "datadir and ephemeral", args: []string{"--ephemeral", "--datadir", dir}, want: "exclusive"},
		{name: "password file without user", args: []string{"--ephemeral", "--rpc-password-file", pw}, want: "needs --rpc-user"},
		{name: "user without password", args: []string{"--ephemeral", "--rpc-user", "u"}, want: "--rpc-password-file"},
		{name: "user and cookie", args: []string{"--ephemeral", "--rpc-user", "u", "--rpc-password-file", pw, "--rpc-cookie"}, want: "exclusive"},
		{name: "missing password file", args: []string{"--ephemeral", "--rpc-user", "u", "--rpc-password-file", filepath.Join(dir, "nope")}, want: "--rpc-password-file: open"},
		{name: "positional arg", args: []string{"--ephemeral", "extra"}, want: "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newNodeCmd()
			cmd.SetArgs(tc.args)
			cmd.SetOut(new(strings.Builder))
			cmd.SetErr(new(strings.Builder))
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestNodeCmdServes runs `hashfleet node` with a user and password file on
// a datadir, mines through RPC, stops it, and starts it again at the same
// height.
func TestNodeCmdServes(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := porttest.Addr(t) // the node restarts on the same address
	run := func(wantHeight int64, mine int) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := newNodeCmd()
		cmd.SetArgs([]string{"--datadir", filepath.Join(dir, "data"), "--rpc-listen", addr,
			"--rpc-user", "alice", "--rpc-password-file", pw, "--log-level", "warn"})
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(ctx) }()
		n := &nodetest.RPCNode{URL: "http://" + addr, User: "alice", Password: "s3cret", Kind: nodetest.KindEmbedded}
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, cc := context.WithTimeout(context.Background(), time.Second)
			_, err := n.Call(c, "getblockcount")
			cc()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("node did not answer: %v (%v)", err, <-done)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := n.BlockCount(t); got != wantHeight {
			t.Errorf("height: got %d, want %d", got, wantHeight)
		}
		if mine > 0 {
			n.Generate(t, mine, "")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("node command: %v", err)
		}
	}
	run(0, 7)
	run(7, 0)
}
