package nodetest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node"
)

// StartEmbedded starts hashfleet's embedded node (internal/node) on a free
// loopback port with a data directory under t.TempDir() and a random RPC
// password, and stops it in t.Cleanup. RPCNode.Restart stops it and starts
// it again on the same data directory and port.
func StartEmbedded(t testing.TB) *RPCNode {
	t.Helper()
	return StartEmbeddedConfig(t, node.Config{})
}

// StartEmbeddedConfig is StartEmbedded with extra settings: DataDir,
// RPCListen and the credentials are filled in when empty (an empty
// RPCUser/RPCPassword gets a random password, not cookie auth, unless
// CookieFile is set).
func StartEmbeddedConfig(t testing.TB, cfg node.Config) *RPCNode {
	t.Helper()
	if cfg.DataDir == "" && !cfg.Ephemeral {
		cfg.DataDir = t.TempDir()
	}
	if cfg.RPCListen == "" {
		cfg.RPCListen = "127.0.0.1:0"
	}
	if cfg.RPCUser == "" && cfg.CookieFile == "" {
		cfg.RPCUser, cfg.RPCPassword = "nodetest", randomHex(16)
	}
	e := &embedded{t: t, cfg: cfg}
	e.start(t)
	// Fix the port for restarts.
	e.cfg.RPCListen = e.node.Addr().String()
	user, pass := e.node.Credentials()
	n := &RPCNode{
		URL:      e.node.URL(),
		User:     user,
		Password: pass,
		Kind:     KindEmbedded,
		DataDir:  e.node.DataDir(),
		Params:   e.node.Params(),
		Client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		Restart: func(t testing.TB) {
			t.Helper()
			e.stop(t)
			e.start(t)
		},
		LongPolls: func() int { return e.node.LongPolls() },
	}
	e.rpc = n
	t.Cleanup(func() { e.stop(t) })
	return n
}

type embedded struct {
	t   testing.TB
	cfg node.Config
	rpc *RPCNode

	mu     sync.Mutex
	node   *node.Node
	cancel context.CancelFunc
	done   chan error
}

func (e *embedded) start(t testing.TB) {
	t.Helper()
	var nd *node.Node
	var err error
	for range 50 { // after a restart the port may take a moment to free
		nd, err = node.New(e.cfg)
		if err == nil {
			break
		}
		if _, ok := errors.AsType[*net.OpError](err); !ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("nodetest: start embedded node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nd.Run(ctx) }()
	e.mu.Lock()
	e.node, e.cancel, e.done = nd, cancel, done
	e.mu.Unlock()
	if e.rpc != nil {
		u, p := nd.Credentials()
		e.rpc.User, e.rpc.Password = u, p
	}
}

func (e *embedded) stop(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("nodetest: embedded node: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("nodetest: embedded node did not stop within 30s")
	}
}
