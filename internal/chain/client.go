package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/backoff"
)

// Config configures a Client. Defaults are applied by New.
type Config struct {
	// URL of the node's JSON-RPC endpoint, e.g. "http://127.0.0.1:18443".
	// User information in the URL is ignored; use User/Password.
	URL string
	// User and Password for HTTP basic auth. Ignored when CookieFile is set.
	User, Password string
	// CookieFile is the node's .cookie file ("__cookie__:secret"). It is
	// read by New and read again after a 401, since a restarted node writes
	// a new cookie.
	CookieFile string
	// Timeout bounds one HTTP attempt of an ordinary call; default 30s.
	// Longpoll getblocktemplate calls are bounded only by their context.
	Timeout time.Duration
	// Retries is how many times a retryable failure is retried; default 4.
	// Negative means no retries.
	Retries int
	// BackoffMin and BackoffMax bound the exponential retry backoff;
	// defaults 100ms and 5s.
	BackoffMin, BackoffMax time.Duration
	// HTTPClient is the transport; default a dedicated client with TCP
	// keep-alives. Its Timeout must be zero (timeouts come from contexts).
	HTTPClient *http.Client
	// Logger receives debug and warning logs; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the client's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Validate reports whether cfg is usable. It does not modify cfg.
func (cfg Config) Validate() error {
	if cfg.URL == "" {
		return errors.New("chain: config: URL is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return fmt.Errorf("chain: config: URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("chain: config: URL scheme %q, want http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("chain: config: URL has no host")
	}
	if cfg.Timeout < 0 || cfg.BackoffMin < 0 || cfg.BackoffMax < 0 {
		return errors.New("chain: config: negative duration")
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Timeout != 0 {
		return errors.New("chain: config: HTTPClient.Timeout must be 0 (longpoll needs no cap)")
	}
	return nil
}

// Client is a JSON-RPC client for bitcoind and btcd. It is safe for
// concurrent use by many goroutines.
type Client struct {
	url        string
	cookieFile string
	timeout    time.Duration
	retries    int
	backoffMin time.Duration
	backoffMax time.Duration
	hc         *http.Client
	log        *slog.Logger
	met        *metrics
	nextID     atomic.Uint64

	// mu guards the credentials, which change when the cookie is re-read.
	mu       sync.Mutex
	user     string
	password string
}

// New returns a Client for cfg. It reads the cookie file, if any, but does
// not contact the node.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	u.User = nil
	c := &Client{
		url:        u.String(),
		cookieFile: cfg.CookieFile,
		timeout:    cfg.Timeout,
		retries:    cfg.Retries,
		backoffMin: cfg.BackoffMin,
		backoffMax: cfg.BackoffMax,
		hc:         cfg.HTTPClient,
		log:        cfg.Logger,
		user:       cfg.User,
		password:   cfg.Password,
	}
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	if c.retries == 0 {
		c.retries = 4
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.backoffMin == 0 {
		c.backoffMin = 100 * time.Millisecond
	}
	if c.backoffMax == 0 {
		c.backoffMax = 5 * time.Second
	}
	if c.backoffMax < c.backoffMin {
		c.backoffMax = c.backoffMin
	}
	if c.hc == nil {
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}
		c.hc = &http.Client{Transport: tr}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("node", u.Host)
	c.met = newMetrics(cfg.Registerer)
	if c.cookieFile != "" {
		if err := c.readCookie(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readCookie loads "user:password" from the cookie file.
func (c *Client) readCookie() error {
	b, err := os.ReadFile(c.cookieFile)
	if err != nil {
		return fmt.Errorf("chain: read cookie file: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" {
		return fmt.Errorf("chain: cookie file %s: want user:password", c.cookieFile)
	}
	c.mu.Lock()
	c.user, c.password = user, pass
	c.mu.Unlock()
	return nil
}

func (c *Client) creds() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user, c.password
}

// RPCError is an error object returned by the node.
type RPCError struct {
	Method  string
	Code    int
	Message string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("chain: %s: rpc error %d: %s", e.Method, e.Code, e.Message)
}

// Well-known JSON-RPC error codes (Bitcoin Core's rpc/protocol.h; btcd uses
// the same numbers).
const (
	CodeMethodNotFound     = -32601
	CodeInvalidParams      = -32602
	CodeInternal           = -32603
	CodeMisc               = -1
	CodeInvalidParameter   = -8
	CodeClientNotConnected = -9
	CodeInInitialDownload  = -10
	CodeDeserialization    = -22
	CodeVerify             = -25
	CodeInWarmup           = -28
	CodeBlockNotFound      = -5
)

// ErrUnauthorized is returned (wrapped) when the node answers HTTP 401/403.
var ErrUnauthorized = errors.New("chain: unauthorized (check rpc user/password or cookie)")

// HTTPError is a non-JSON-RPC HTTP failure (e.g. a proxy's 502).
type HTTPError struct {
	Method     string
	StatusCode int
	Body       string // first bytes of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("chain: %s: http %d: %s", e.Method, e.StatusCode, e.Body)
}

// DecodeError means the node's reply could not be decoded.
type DecodeError struct {
	Method string
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("chain: %s: decode reply: %v", e.Method, e.Err)
}
func (e *DecodeError) Unwrap() error { return e.Err }

// Retryable reports whether err is a transient failure worth retrying: a
// transport error, a timeout, an HTTP 5xx without a JSON-RPC body, or the
// node warming up after a restart.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if rpcErr, ok := errors.AsType[*RPCError](err); ok {
		return rpcErr.Code == CodeInWarmup
	}
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests
	}
	if errors.Is(err, ErrUnauthorized) {
		return false
	}
	if _, ok := errors.AsType[*DecodeError](err); ok {
		// A truncated body (node died mid-reply) decodes badly too.
		return errors.Is(err, io.ErrUnexpectedEOF)
	}
	return true // transport errors: refused, reset, timeout, EOF
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// maxReplyBytes bounds a reply; a mainnet template is a few MB of hex.
const maxReplyBytes = 64 << 20

// Call invokes method with params and decodes the result into result (a
// pointer, or nil to discard). Retryable failures are retried with backoff
// up to Config.Retries times.
func (c *Client) Call(ctx context.Context, method string, params []any, result any) error {
	return c.call(ctx, method, params, result, c.timeout)
}

// call is Call with an explicit per-attempt timeout (0 = none).
func (c *Client) call(ctx context.Context, method string, params []any, result any, timeout time.Duration) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: c.nextID.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("chain: %s: encode params: %w", method, err)
	}
	bo := backoff.Backoff{Min: c.backoffMin, Max: c.backoffMax}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		raw, err := c.do(ctx, method, body, timeout)
		if err == nil && result != nil {
			if uerr := json.Unmarshal(raw, result); uerr != nil {
				err = &DecodeError{Method: method, Err: uerr}
			}
		}
		c.met.observe(method, err, time.Since(start))
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrUnauthorized) && c.cookieFile != "" && attempt < c.retries {
			// The node may have restarted and written a new cookie.
			if rerr := c.readCookie(); rerr == nil {
				c.log.Warn("rpc unauthorized; re-read cookie file", "method", method)
			}
		} else if !Retryable(err) || attempt >= c.retries || ctx.Err() != nil {
			return err
		}
		c.met.retries.WithLabelValues(method).Inc()
		sleep := bo.Next()
		c.log.Warn("rpc call failed; retrying", "method", method, "attempt", attempt+1, "in", sleep, "err", err)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("chain: %s: %w (last error: %v)", method, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// do performs one HTTP attempt and returns the raw result.
func (c *Client) do(ctx context.Context, method string, body []byte, timeout time.Duration) (json.RawMessage, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("chain: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user, pass := c.creds(); user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chain: %s: %w", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("chain: %s: http %d: %w", method, resp.StatusCode, ErrUnauthorized)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("chain: %s: read reply: %w", method, err)
	}
	if len(data) > maxReplyBytes {
		return nil, &DecodeError{Method: method, Err: fmt.Errorf("reply larger than %d bytes", maxReplyBytes)}
	}
	res, err := decodeResponse(method, data)
	if err != nil {
		if _, isDecode := errors.AsType[*DecodeError](err); isDecode && resp.StatusCode != http.StatusOK {
			// Core answers errors with HTTP 500/404 and a JSON-RPC body; a
			// non-JSON body with a bad status is an HTTP-level failure.
			return nil, &HTTPError{Method: method, StatusCode: resp.StatusCode, Body: snippet(data)}
		}
		return nil, err
	}
	return res, nil
}

// decodeResponse parses one JSON-RPC reply body.
func decodeResponse(method string, data []byte) (json.RawMessage, error) {
	var r rpcResponse
	if err := json.Unmarshal(data, &r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset >= int64(len(bytes.TrimSpace(data))) {
			return nil, &DecodeError{Method: method, Err: fmt.Errorf("%w: %v", io.ErrUnexpectedEOF, err)}
		}
		return nil, &DecodeError{Method: method, Err: err}
	}
	if r.Error != nil {
		return nil, &RPCError{Method: method, Code: r.Error.Code, Message: r.Error.Message}
	}
	if r.Result == nil {
		// "result" absent entirely (not null) with no error.
		if !bytes.Contains(data, []byte(`"result"`)) {
			return nil, &DecodeError{Method: method, Err: errors.New("reply has neither result nor error")}
		}
		r.Result = json.RawMessage("null")
	}
	return r.Result, nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.TrimSpace(s)
}
