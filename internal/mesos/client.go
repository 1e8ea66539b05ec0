package mesos

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
)

// SchedulerPath is the scheduler API endpoint path on a master.
const SchedulerPath = "/api/v1/scheduler"

// StreamIDHeader carries the subscription's stream id.
const StreamIDHeader = "Mesos-Stream-Id"

// Errors returned by the client.
var (
	// ErrHeartbeatTimeout: no event arrived for HeartbeatMisses heartbeat intervals.
	ErrHeartbeatTimeout = errors.New("mesos: no event within the heartbeat timeout")
	// ErrNotSubscribed: a call was made with no open subscription.
	ErrNotSubscribed = errors.New("mesos: not subscribed")
	// ErrTooManyRedirects: the 307 chain was longer than the limit.
	ErrTooManyRedirects = errors.New("mesos: too many leader redirects")
)

// APIError is a non-success HTTP answer from the master.
type APIError struct {
	Call   CallType
	Code   int
	Status string
	Body   string // first bytes of the response body
}

func (e *APIError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("mesos: %s: %s", e.Call, e.Status)
	}
	return fmt.Sprintf("mesos: %s: %s: %s", e.Call, e.Status, e.Body)
}

// Temporary reports whether retrying later may succeed (503, 5xx, 429).
func (e *APIError) Temporary() bool {
	return e.Code == http.StatusServiceUnavailable || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// ErrorEvent is returned when the master sends an ERROR event.
type ErrorEvent struct{ Message string }

func (e *ErrorEvent) Error() string { return "mesos: master sent ERROR: " + e.Message }

// Detector finds the current leading master. Leader returns "host:port"
// (or a full http(s) URL).
type Detector interface {
	Leader(ctx context.Context) (string, error)
}

// StaticDetector returns the configured masters in turn, one per call, so
// that repeated failures rotate through them; a non-leader redirects.
type StaticDetector struct {
	mu    sync.Mutex
	addrs []string
	next  int
}

// NewStaticDetector returns a detector over a comma-separated list of
// host:port (or URL) entries.
func NewStaticDetector(list string) (*StaticDetector, error) {
	var addrs []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("mesos: no master address")
	}
	return &StaticDetector{addrs: addrs}, nil
}

// Leader implements Detector.
func (d *StaticDetector) Leader(context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.addrs[d.next%len(d.addrs)]
	d.next++
	return a, nil
}

// ClientConfig configures a Client.
type ClientConfig struct {
	Detector        Detector          // required: where the master is
	Scheme          string            // "http" (default) or "https" for host:port leaders
	TLSConfig       *tls.Config       // for https; nil = system roots
	Principal       string            // HTTP basic auth principal; empty = no auth
	Secret          string            // HTTP basic auth secret (never logged)
	CallTimeout     time.Duration     // per non-SUBSCRIBE call and for SUBSCRIBE headers; default 30 s
	HeartbeatMisses int               // watchdog fires after this many silent heartbeat intervals; default 5
	MaxFrameSize    int               // RecordIO frame limit; default DefaultMaxFrameSize
	MaxRedirects    int               // 307 hops per request; default 5
	Backoff         backoff.Backoff   // re-subscription backoff; zero value = 0.5 s .. 15 s
	Transport       http.RoundTripper // optional (tests); default: a dedicated HTTP/1.1 transport
	Logger          *slog.Logger
}

// Client talks to the leading master's scheduler endpoint. SUBSCRIBE opens a
// long-lived stream; every other call goes on its own request (the HTTP/1.1
// transport uses other connections while the stream is busy). Call is safe
// for concurrent use; Run must be called at most once at a time.
type Client struct {
	cfg  ClientConfig
	log  *slog.Logger
	http *http.Client

	mu       sync.Mutex // guards the fields below
	endpoint string     // URL of the master the stream is on
	streamID string
	fwID     FrameworkID
}

// NewClient returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Detector == nil {
		return nil, errors.New("mesos: ClientConfig.Detector is required")
	}
	if strings.ContainsRune(cfg.Principal, ':') {
		return nil, errors.New("mesos: principal must not contain ':' (HTTP basic auth)")
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.HeartbeatMisses <= 0 {
		cfg.HeartbeatMisses = 5
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rt := cfg.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.TLSConfig
		// libprocess speaks HTTP/1.1 only; keep the stream and the calls on
		// separate HTTP/1.1 connections.
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.DisableCompression = true
		rt = tr
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	c.http = &http.Client{
		Transport: rt,
		// Redirects are followed by hand: a 307 must re-POST the body to the
		// leader and update the endpoint.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// StreamID returns the current subscription's stream id ("" if none).
func (c *Client) StreamID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamID
}

// Endpoint returns the URL of the master of the current subscription.
func (c *Client) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoint
}

// endpointURL turns a detector answer into a scheduler endpoint URL.
func (c *Client) endpointURL(leader string) (string, error) {
	if strings.HasPrefix(leader, "http://") || strings.HasPrefix(leader, "https://") {
		u, err := url.Parse(leader)
		if err != nil {
			return "", fmt.Errorf("mesos: master URL %q: %w", leader, err)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = SchedulerPath
		}
		return u.String(), nil
	}
	if _, _, err := net.SplitHostPort(leader); err != nil {
		return "", fmt.Errorf("mesos: master address %q: want host:port", leader)
	}
	return c.cfg.Scheme + "://" + leader + SchedulerPath, nil
}

// redirectTarget resolves a 307 Location (often protocol-relative,
// "//host:port/master/api/v1/scheduler") against the current endpoint.
func redirectTarget(cur string, loc string) (string, error) {
	if loc == "" {
		return "", errors.New("mesos: 307 without Location")
	}
	base, err := url.Parse(cur)
	if err != nil {
		return "", err
	}
	u, err := base.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("mesos: bad redirect Location %q: %w", loc, err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = SchedulerPath
	}
	return u.String(), nil
}

func (c *Client) newRequest(ctx context.Context, endpoint string, body []byte, streamID string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if streamID != "" {
		req.Header.Set(StreamIDHeader, streamID)
	}
	if c.cfg.Principal != "" {
		req.SetBasicAuth(c.cfg.Principal, c.cfg.Secret)
	}
	return req, nil
}

func apiError(call CallType, resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &APIError{Call: call, Code: resp.StatusCode, Status: resp.Status, Body: strings.TrimSpace(string(b))}
}

// post sends body to endpoint, following up to MaxRedirects 307s. It
// returns the final response (status not checked) and the endpoint that
// produced it.
func (c *Client) post(ctx context.Context, endpoint string, call CallType, body []byte, streamID string) (*http.Response, string, error) {
	for hop := 0; ; hop++ {
		req, err := c.newRequest(ctx, endpoint, body, streamID)
		if err != nil {
			return nil, endpoint, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, endpoint, fmt.Errorf("mesos: %s: %w", call, err)
		}
		if resp.StatusCode != http.StatusTemporaryRedirect {
			return resp, endpoint, nil
		}
		loc := resp.Header.Get("Location")
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if hop >= c.cfg.MaxRedirects {
			return nil, endpoint, fmt.Errorf("%w (%s, last Location %q)", ErrTooManyRedirects, call, loc)
		}
		next, err := redirectTarget(endpoint, loc)
		if err != nil {
			return nil, endpoint, err
		}
		c.log.Info("mesos: following leader redirect", "call", call, "from", endpoint, "to", next)
		endpoint = next
	}
}

// Call sends a non-SUBSCRIBE call to the master of the current
// subscription with its stream id. 307 redirects are followed; 503 is
// retried with backoff until ctx or the call timeout ends. Success is 202
// (or 200 for UPDATE_FRAMEWORK); anything else is an *APIError.
func (c *Client) Call(ctx context.Context, call Call) error {
	if call.Type == CallSubscribe {
		return errors.New("mesos: use Subscribe/Run for SUBSCRIBE")
	}
	c.mu.Lock()
	endpoint, streamID := c.endpoint, c.streamID
	c.mu.Unlock()
	if endpoint == "" || streamID == "" {
		return fmt.Errorf("%w: %s", ErrNotSubscribed, call.Type)
	}
	body, err := json.Marshal(call)
	if err != nil {
		return fmt.Errorf("mesos: encode %s: %w", call.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	bo := backoff.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for {
		resp, _, err := c.post(ctx, endpoint, call.Type, body, streamID)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil
		}
		aerr := apiError(call.Type, resp)
		resp.Body.Close()
		if aerr.Code != http.StatusServiceUnavailable {
			return aerr
		}
		d := bo.Next()
		c.log.Warn("mesos: master unavailable, retrying call", "call", call.Type, "in", d, "err", aerr.Body)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last: %v)", ctx.Err(), aerr)
		case <-t.C:
		}
	}
}

// Subscription is one open SUBSCRIBE stream.
type Subscription struct {
	StreamID   string
	Endpoint   string
	Subscribed EventSubscribedBody // the first event
	body       io.ReadCloser
	dec        *Decoder
	cancel     context.CancelFunc
}

// Next reads the next event. Not safe for concurrent use.
func (s *Subscription) Next(e *Event) error { return s.dec.Decode(e) }

// Close ends the stream.
func (s *Subscription) Close() error {
	s.cancel()
	return s.body.Close()
}

// Subscribe asks the detector for the leader, sends SUBSCRIBE (following
// 307s), checks the answer and reads the first event, which must be
// SUBSCRIBED (an ERROR is returned as *ErrorEvent). On success the client
// uses the new stream id and endpoint for Call. The stream lives until
// ctx ends or Close.
func (c *Client) Subscribe(ctx context.Context, call Call) (*Subscription, error) {
	if call.Type != CallSubscribe || call.Subscribe == nil {
		return nil, errors.New("mesos: Subscribe needs a SUBSCRIBE call")
	}
	leader, err := c.cfg.Detector.Leader(ctx)
	if err != nil {
		return nil, fmt.Errorf("mesos: detect leader: %w", err)
	}
	endpoint, err := c.endpointURL(leader)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(call)
	if err != nil {
		return nil, fmt.Errorf("mesos: encode SUBSCRIBE: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	// Bound the wait for headers and the first event.
	hdrTimer := time.AfterFunc(c.cfg.CallTimeout, cancel)
	resp, endpoint, err := c.post(sctx, endpoint, CallSubscribe, body, "")
	if err != nil {
		hdrTimer.Stop()
		cancel()
		return nil, err
	}
	fail := func(err error) (*Subscription, error) {
		hdrTimer.Stop()
		resp.Body.Close()
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return fail(apiError(CallSubscribe, resp))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && mt != "application/recordio" {
		return fail(fmt.Errorf("mesos: SUBSCRIBE answered with Content-Type %q", resp.Header.Get("Content-Type")))
	}
	sid := resp.Header.Get(StreamIDHeader)
	if sid == "" {
		return fail(errors.New("mesos: SUBSCRIBE answer without Mesos-Stream-Id"))
	}
	s := &Subscription{StreamID: sid, Endpoint: endpoint, body: resp.Body, dec: NewDecoder(resp.Body, c.cfg.MaxFrameSize), cancel: cancel}
	var ev Event
	if err := s.Next(&ev); err != nil {
		return fail(fmt.Errorf("mesos: reading first event: %w", err))
	}
	hdrTimer.Stop()
	switch ev.Type {
	case EventSubscribed:
	case EventError:
		return fail(&ErrorEvent{Message: ev.Error.Message})
	default:
		return fail(fmt.Errorf("mesos: first event is %s, want SUBSCRIBED", ev.Type))
	}
	s.Subscribed = *ev.Subscribed
	c.mu.Lock()
	c.endpoint, c.streamID, c.fwID = endpoint, sid, ev.Subscribed.FrameworkID
	c.mu.Unlock()
	return s, nil
}

func (c *Client) clearStream(sid string) {
	c.mu.Lock()
	if c.streamID == sid {
		c.streamID = ""
	}
	c.mu.Unlock()
}

// Handler receives what Run sees. All methods are called from Run's
// goroutine, one at a time.
type Handler interface {
	// SubscribeCall returns the SUBSCRIBE call for the next attempt (it
	// should carry the stored framework id, if any).
	SubscribeCall() Call
	// Subscribed is called once per successful subscription, before any
	// further event of that stream.
	Subscribed(ctx context.Context, s EventSubscribedBody)
	// Event is called for every event after SUBSCRIBED (heartbeats included).
	Event(ctx context.Context, e Event)
	// Disconnected is called when a subscription attempt fails or a stream
	// ends, with the reason, and the delay before the next attempt.
	Disconnected(err error, retryIn time.Duration)
}

// Run subscribes and keeps the subscription alive until ctx ends:
// re-subscribing with capped exponential backoff after a failed attempt,
// an ERROR event, a stream EOF or error, 307/503 answers, or a heartbeat
// timeout (no event at all for HeartbeatMisses heartbeat intervals). It
// returns ctx's error.
func (c *Client) Run(ctx context.Context, h Handler) error {
	bo := c.cfg.Backoff
	for {
		err := c.runOnce(ctx, h, &bo)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := bo.Next()
		h.Disconnected(err, d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) runOnce(ctx context.Context, h Handler, bo *backoff.Backoff) error {
	sub, err := c.Subscribe(ctx, h.SubscribeCall())
	if err != nil {
		return err
	}
	defer sub.Close()
	defer c.clearStream(sub.StreamID)
	c.log.Info("mesos: subscribed", "framework_id", sub.Subscribed.FrameworkID.Value, "master", sub.Endpoint,
		"heartbeat", sub.Subscribed.HeartbeatInterval())
	h.Subscribed(ctx, sub.Subscribed)

	timeout := time.Duration(c.cfg.HeartbeatMisses) * sub.Subscribed.HeartbeatInterval()
	var (
		mu    sync.Mutex
		fired bool
	)
	wd := time.AfterFunc(timeout, func() {
		mu.Lock()
		fired = true
		mu.Unlock()
		sub.Close() // unblocks Next
	})
	defer wd.Stop()
	first := true
	for {
		var ev Event
		err := sub.Next(&ev)
		if err != nil {
			mu.Lock()
			f := fired
			mu.Unlock()
			if f {
				return fmt.Errorf("%w (%v)", ErrHeartbeatTimeout, timeout)
			}
			if errors.Is(err, io.EOF) {
				return errors.New("mesos: subscription stream closed by master")
			}
			return fmt.Errorf("mesos: subscription stream: %w", err)
		}
		wd.Reset(timeout)
		if first {
			// A stream that delivered an event after SUBSCRIBED is healthy.
			bo.Reset()
			first = false
		}
		if ev.Type == EventError {
			return &ErrorEvent{Message: ev.Error.Message}
		}
		h.Event(ctx, ev)
	}
}
