package node_test

// Hostile RPC clients (with the password: the node trusts its RPC users
// with the chain, not with its life): counts that would exhaust memory,
// handlers that panic, garbage bodies. Each gets a JSON-RPC answer and the
// node keeps answering. FuzzRPC (core_test.go) throws random bodies.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node"
	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// rpcReply posts body and decodes the JSON-RPC reply; a dropped
// connection or a reply that is not JSON fails the test.
func rpcReply(t *testing.T, n *nodetest.RPCNode, body string) (status int, result json.RawMessage, rerr *nodetest.RPCError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	status, raw, err := n.Post(ctx, []byte(body), n.User, n.Password)
	if err != nil {
		t.Fatalf("%.80s: no answer: %v", body, err)
	}
	var r struct {
		Result json.RawMessage
		Error  *nodetest.RPCError
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%.80s: reply is not JSON-RPC (status %d): %q", body, status, raw)
	}
	return status, r.Result, r.Error
}

// alive checks that the node still answers a plain call.
func alive(t *testing.T, n *nodetest.RPCNode) int64 {
	t.Helper()
	_, res, rerr := rpcReply(t, n, `{"method":"getblockcount","id":1}`)
	var h int64
	if rerr != nil || json.Unmarshal(res, &h) != nil {
		t.Fatalf("getblockcount after the attack: got %s %+v", res, rerr)
	}
	return h
}

func TestHostileCounts(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	addr := nodetest.DefaultAddress()
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"nblocks 2^58", fmt.Sprintf(`{"method":"generatetoaddress","params":[%d,%q],"id":1}`, uint64(1)<<58, addr), -1, "JSON integer out of range"},
		{"nblocks 2^31", fmt.Sprintf(`{"method":"generatetoaddress","params":[2147483648,%q],"id":1}`, addr), -1, "JSON integer out of range"},
		{"nblocks 1e30", fmt.Sprintf(`{"method":"generatetoaddress","params":[1e30,%q],"id":1}`, addr), -3, ""},
		{"negative nblocks", fmt.Sprintf(`{"method":"generatetoaddress","params":[-5,%q],"id":1}`, addr), -8, ""},
		{"maxtries 2^64", fmt.Sprintf(`{"method":"generatetoaddress","params":[1,%q,18446744073709551616],"id":1}`, addr), -1, "JSON integer out of range"},
		{"height 2^40", `{"method":"getblockhash","params":[1099511627776],"id":1}`, -1, "JSON integer out of range"},
		{"height -1", `{"method":"getblockhash","params":[-1],"id":1}`, -8, "Block height out of range"},
		{"verbosity 2^62", `{"method":"getblock","params":["` + strings.Repeat("00", 32) + `",4611686018427387904],"id":1}`, -1, "JSON integer out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res, rerr := rpcReply(t, n, tc.body)
			if rerr == nil || rerr.Code != tc.code || !strings.Contains(rerr.Message, tc.msg) {
				t.Errorf("got result %s error %+v, want code %d %q", res, rerr, tc.code, tc.msg)
			}
		})
	}
	alive(t, n)
}

// TestGenerateHugeCount: generatetoaddress 1,000,000,000 must not
// allocate for the count up front (that was an out-of-memory crash): it
// mines until the client gives up, then stops, and the node carries on.
func TestGenerateHugeCount(t *testing.T) {
	finished := &callDone{method: "generatetoaddress", done: make(chan struct{})}
	n := nodetest.StartEmbeddedConfig(t, node.Config{Logger: slog.New(finished)})
	before := alive(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"method":"generatetoaddress","params":[1000000000,%q],"id":1}`, nodetest.DefaultAddress())
	if _, _, err := n.Post(ctx, []byte(body), n.User, n.Password); err == nil {
		t.Fatalf("generatetoaddress 1e9 answered within 2s; want it still mining")
	}
	select { // the node noticed the client left and the call returned
	case <-finished.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("generatetoaddress still running 60s after its client left")
	}
	h := alive(t, n)
	if h <= before {
		t.Errorf("height %d after 2s of generatetoaddress, want above %d", h, before)
	}
	if again := alive(t, n); again != h {
		t.Errorf("height moved from %d to %d after generatetoaddress returned", h, again)
	}
}

// callDone is a log handler that closes done when the node logs the end
// of an RPC call to method.
type callDone struct {
	method string
	once   sync.Once
	done   chan struct{}
}

func (h *callDone) Enabled(context.Context, slog.Level) bool { return true }
func (h *callDone) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *callDone) WithGroup(string) slog.Handler            { return h }
func (h *callDone) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "rpc" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "method" && a.Value.String() == h.method {
			h.once.Do(func() { close(h.done) })
		}
		return true
	})
	return nil
}

// TestHandlerPanic: a handler that panics gives the client a JSON-RPC
// internal error (in a batch, for that entry only) and the node serves on.
func TestHandlerPanic(t *testing.T) {
	remove := node.SetTestMethod("panicnow", func(context.Context) (any, error) { panic("boom") })
	defer remove()
	n := nodetest.StartEmbedded(t)
	status, _, rerr := rpcReply(t, n, `{"method":"panicnow","id":7}`)
	if rerr == nil || rerr.Code != -32603 || status != http.StatusInternalServerError {
		t.Errorf("panicking handler: got status %d error %+v, want 500 and code -32603", status, rerr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, raw, err := n.Post(ctx, []byte(`[{"method":"panicnow","id":1},{"method":"getblockcount","id":2}]`), n.User, n.Password)
	var batch []struct {
		Result json.RawMessage
		Error  *nodetest.RPCError
	}
	if err != nil || json.Unmarshal(raw, &batch) != nil || len(batch) != 2 || batch[0].Error == nil || batch[0].Error.Code != -32603 || batch[1].Error != nil {
		t.Errorf("batch with a panicking call: got %q (%v), want an internal error then a result", raw, err)
	}
	alive(t, n)
}

// TestGarbageBodies: bodies no client should send, each answered with a
// JSON-RPC error (or 413 for an oversized one), the node unharmed.
func TestGarbageBodies(t *testing.T) {
	n := nodetest.StartEmbedded(t)
	for _, body := range []string{
		"", "\x00\x01\x02", "null", "[]", "[[]]", "{}", "\"x\"", "123", "true",
		strings.Repeat("[", 100_000), strings.Repeat(`{"a":`, 50_000),
		`{"method":"getblockcount","params":` + strings.Repeat("[", 20_000) + `,"id":1}`,
		`{"method":"getblockcount","id":` + strings.Repeat("9", 100_000) + `}`,
		`{"method":"` + strings.Repeat("x", 1<<20) + `","id":1}`,
		"[" + strings.Repeat(`{"method":"getblockcount","id":1},`, 10_000) + `{"method":"getblockcount","id":1}]`,
		`{"method":"getblockhash","params":{"height":0,"height":1},"id":1}`,
		`{"method":"submitblock","params":["` + strings.Repeat("ff", 1<<20) + `"],"id":1}`,
		`{"jsonrpc":"2.0","method":"getblockcount","id":{"nested":[1,2,3]}}`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		status, raw, err := n.Post(ctx, []byte(body), n.User, n.Password)
		cancel()
		if err != nil {
			t.Fatalf("%.40q: no answer: %v", body, err)
		}
		if status != http.StatusNoContent && !json.Valid(raw) {
			t.Errorf("%.40q: status %d, reply not JSON: %.200q", body, status, raw)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	status, _, err := n.Post(ctx, bytes.Repeat([]byte(" "), 33<<20), n.User, n.Password)
	if err != nil || status != http.StatusRequestEntityTooLarge {
		t.Errorf("33 MB body: got status %d, %v; want 413", status, err)
	}
	alive(t, n)
}
