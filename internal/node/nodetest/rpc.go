// Package nodetest starts Bitcoin nodes for tests: a real btcd binary built
// from the module cache (StartBtcd) and hashfleet's embedded node
// (StartEmbedded), both on loopback with regtest rules, plus a Wallet that
// mines to its own key and signs P2WPKH and P2PKH spends, so tests can fill
// block templates with real transactions.
//
// Tests that need btcd call t.Skip when it cannot be built, except when the
// environment sets HASHFLEET_REQUIRE_INTEGRATION=1 (CI), where they fail.
package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// Kinds of RPCNode.
const (
	KindBtcd     = "btcd"     // a real btcd process
	KindEmbedded = "embedded" // hashfleet's in-process node (internal/node)
)

// RPCNode is a running regtest node reachable over bitcoind-style JSON-RPC.
// It is safe for concurrent use.
type RPCNode struct {
	URL      string // http://127.0.0.1:PORT
	User     string
	Password string
	Kind     string // KindBtcd or KindEmbedded
	DataDir  string // the node's data directory
	Params   *chaincfg.Params

	// Client is used for all calls; it has no overall timeout so that
	// longpoll requests can wait. Calls are bounded by their context.
	Client *http.Client

	// Restart, for the embedded node, stops it and starts it again on the
	// same data directory and address (persistence tests). Nil for btcd.
	Restart func(t testing.TB)

	// LongPolls, for the embedded node, returns how many getblocktemplate
	// longpolls the running node is holding now. Nil for btcd.
	LongPolls func() int

	id atomic.Int64
}

// RPCError is a JSON-RPC error object returned by a node.
type RPCError struct {
	Code       int    `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"-"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpc error %d: %s (http %d)", e.Code, e.Message, e.HTTPStatus)
}

// HTTPError is a non-JSON reply, e.g. 401 Unauthorized.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("http %d: %q", e.Status, e.Body)
}

// Call makes one JSON-RPC call with positional params and returns the raw
// result. A JSON-RPC error comes back as *RPCError, a non-JSON HTTP reply as
// *HTTPError.
func (n *RPCNode) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{
		"jsonrpc": "1.0",
		"id":      n.id.Add(1),
		"method":  method,
		"params":  params,
	})
	if err != nil {
		return nil, fmt.Errorf("nodetest: encode %s: %w", method, err)
	}
	status, resp, err := n.Post(ctx, body, n.User, n.Password)
	if err != nil {
		return nil, fmt.Errorf("nodetest: %s: %w", method, err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, &HTTPError{Status: status, Body: string(resp)}
	}
	if r.Error != nil {
		r.Error.HTTPStatus = status
		return nil, r.Error
	}
	if status != http.StatusOK {
		return nil, &HTTPError{Status: status, Body: string(resp)}
	}
	return r.Result, nil
}

// Post sends a raw request body with the given basic-auth credentials (none
// when user and password are both empty) and returns the status and body.
func (n *RPCNode) Post(ctx context.Context, body []byte, user, password string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	c := n.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, b, nil
}

// MustCall is Call that fails the test on error, with a 60 s timeout.
func (n *RPCNode) MustCall(t testing.TB, method string, params ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := n.Call(ctx, method, params...)
	if err != nil {
		t.Fatalf("%s node: %s: %v", n.Kind, method, err)
	}
	return res
}

// MustDecode calls method and decodes its result into out.
func (n *RPCNode) MustDecode(t testing.TB, out any, method string, params ...any) {
	t.Helper()
	res := n.MustCall(t, method, params...)
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("%s node: %s: decode %s: %v", n.Kind, method, res, err)
	}
}

// BlockCount returns getblockcount.
func (n *RPCNode) BlockCount(t testing.TB) int64 {
	t.Helper()
	var h int64
	n.MustDecode(t, &h, "getblockcount")
	return h
}

// BestBlockHash returns getbestblockhash (display hex).
func (n *RPCNode) BestBlockHash(t testing.TB) string {
	t.Helper()
	var h string
	n.MustDecode(t, &h, "getbestblockhash")
	return h
}

// Generate mines count blocks with the node's own miner, paying to addr:
// generatetoaddress on the embedded node, and on btcd (which lacks it)
// "generate", which pays to the --miningaddr StartBtcd set, DefaultAddress.
// On btcd, addr must be "" or DefaultAddress(). It returns the block hashes.
func (n *RPCNode) Generate(t testing.TB, count int, addr string) []string {
	t.Helper()
	if addr == "" {
		addr = DefaultAddress()
	}
	var hashes []string
	switch n.Kind {
	case KindBtcd:
		if addr != DefaultAddress() {
			t.Fatalf("btcd node: generate can only pay to --miningaddr %s, not %s", DefaultAddress(), addr)
		}
		n.MustDecode(t, &hashes, "generate", count)
	default:
		n.MustDecode(t, &hashes, "generatetoaddress", count, addr)
	}
	if len(hashes) != count {
		t.Fatalf("%s node: generated %d blocks, want %d", n.Kind, len(hashes), count)
	}
	return hashes
}

// String names the node for test logs.
func (n *RPCNode) String() string { return n.Kind + "@" + n.URL }
