package mesos_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashfleet/hashfleet/internal/backoff"
	"github.com/hashfleet/hashfleet/internal/mesos"
)

// fakeMaster is a small leader that speaks the SUBSCRIBE stream and
// accepts calls, checking the headers real Mesos checks.
type fakeMaster struct {
	t         *testing.T
	mu        sync.Mutex
	calls     []mesos.Call
	unavail   int // SUBSCRIBE/call attempts answered 503 before success
	user, pw  string
	streamID  string
	heartbeat float64
	events    chan string // extra raw events pushed to the stream
}

func (m *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "content type", http.StatusUnsupportedMediaType)
		return
	}
	if m.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != m.user || p != m.pw {
			w.Header().Set("WWW-Authenticate", `Basic realm="mesos-master-scheduler"`)
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
	}
	m.mu.Lock()
	if m.unavail > 0 {
		m.unavail--
		m.mu.Unlock()
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return
	}
	m.mu.Unlock()
	var c mesos.Call
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.Type != mesos.CallSubscribe {
		if got := r.Header.Get(mesos.StreamIDHeader); got != m.streamID {
			http.Error(w, "stream id "+got, http.StatusBadRequest)
			return
		}
		if c.FrameworkID == nil || c.FrameworkID.Value != "fw-1" {
			http.Error(w, "Framework cannot be found", http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.calls = append(m.calls, c)
		m.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if r.Header.Get(mesos.StreamIDHeader) != "" {
		http.Error(w, "subscribe with stream id", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(mesos.StreamIDHeader, m.streamID)
	w.WriteHeader(http.StatusOK)
	enc := mesos.NewEncoder(w.(io.Writer))
	fl := w.(http.Flusher)
	write := func(v any) {
		enc.Encode(v)
		fl.Flush()
	}
	write(mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.EventSubscribedBody{FrameworkID: mesos.FrameworkID{Value: "fw-1"}, HeartbeatIntervalSeconds: m.heartbeat}})
	write(mesos.Event{Type: mesos.EventHeartbeat})
	for {
		select {
		case raw, ok := <-m.events:
			if !ok {
				return // stream EOF
			}
			w.Write([]byte(raw))
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

type recHandler struct {
	mu     sync.Mutex
	subs   int
	events []mesos.Event
	discon []error
	got    chan mesos.Event
}

func (h *recHandler) SubscribeCall() mesos.Call {
	return mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"})
}
func (h *recHandler) Subscribed(ctx context.Context, s mesos.EventSubscribedBody) {
	h.mu.Lock()
	h.subs++
	h.mu.Unlock()
}
func (h *recHandler) Event(ctx context.Context, e mesos.Event) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
	if h.got != nil {
		h.got <- e
	}
}
func (h *recHandler) Disconnected(err error, d time.Duration) {
	h.mu.Lock()
	h.discon = append(h.discon, err)
	h.mu.Unlock()
}

func TestClientRedirect503AuthAndCalls(t *testing.T) {
	m := &fakeMaster{t: t, unavail: 2, user: "p", pw: "s3cret", streamID: "stream-1", heartbeat: 15, events: make(chan string)}
	leader := httptest.NewServer(m)
	defer leader.Close()
	// The follower redirects protocol-relatively, as Mesos does.
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+strings.TrimPrefix(leader.URL, "http://")+"/master/api/v1/scheduler")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()

	det, _ := mesos.NewStaticDetector(strings.TrimPrefix(follower.URL, "http://"))
	c, err := mesos.NewClient(mesos.ClientConfig{Detector: det, Principal: "p", Secret: "s3cret",
		Backoff: backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	h := &recHandler{got: make(chan mesos.Event, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx, h) }()

	select {
	case e := <-h.got:
		if e.Type != mesos.EventHeartbeat {
			t.Fatalf("first event after SUBSCRIBED: got %s, want HEARTBEAT", e.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	if got := c.StreamID(); got != "stream-1" {
		t.Fatalf("stream id: got %q", got)
	}
	if !strings.HasPrefix(c.Endpoint(), leader.URL) {
		t.Fatalf("endpoint: got %q, want the leader %s", c.Endpoint(), leader.URL)
	}
	fw := mesos.FrameworkID{Value: "fw-1"}
	m.mu.Lock()
	m.unavail = 1 // the next call sees one 503 first
	m.mu.Unlock()
	if err := c.Call(ctx, mesos.Reconcile(fw)); err != nil {
		t.Fatalf("RECONCILE: %v", err)
	}
	if err := c.Call(ctx, mesos.Suppress(fw)); err != nil {
		t.Fatalf("SUPPRESS: %v", err)
	}
	var aerr *mesos.APIError
	if err := c.Call(ctx, mesos.Suppress(mesos.FrameworkID{Value: "other"})); !errors.As(err, &aerr) || aerr.Code != 400 {
		t.Fatalf("unknown framework: got %v, want 400", err)
	}
	m.mu.Lock()
	if len(m.calls) != 2 || m.calls[0].Type != mesos.CallReconcile || m.calls[0].Reconcile == nil {
		t.Fatalf("master saw %+v", m.calls)
	}
	m.mu.Unlock()

	// An ERROR event makes Run re-subscribe.
	m.events <- frame(`{"type":"ERROR","error":{"message":"Framework failed over"}}`)
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		subs := h.subs
		h.mu.Unlock()
		if subs >= 2 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("no re-subscription after ERROR")
		case <-time.After(10 * time.Millisecond):
		}
	}
	h.mu.Lock()
	var ee *mesos.ErrorEvent
	if len(h.discon) == 0 || !errors.As(h.discon[len(h.discon)-1], &ee) {
		t.Fatalf("disconnect reasons: %v, want an ErrorEvent last", h.discon)
	}
	h.mu.Unlock()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: got %v, want context.Canceled", err)
	}
}

func TestClientWrongSecret(t *testing.T) {
	m := &fakeMaster{t: t, user: "p", pw: "right", streamID: "s", heartbeat: 15}
	srv := httptest.NewServer(m)
	defer srv.Close()
	det, _ := mesos.NewStaticDetector(srv.URL)
	c, _ := mesos.NewClient(mesos.ClientConfig{Detector: det, Principal: "p", Secret: "wrong"})
	_, err := c.Subscribe(context.Background(), mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"}))
	var aerr *mesos.APIError
	if !errors.As(err, &aerr) || aerr.Code != http.StatusUnauthorized {
		t.Fatalf("got %v, want 401 APIError", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

func frame(s string) string { return itoa(len(s)) + "\n" + s }

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// pipeTransport serves each request by running handler in-process over
// io.Pipe, so that a synctest bubble sees only durably blocking operations.
type pipeTransport struct{ handler http.Handler }

type pipeRW struct {
	hdr  http.Header
	code chan int
	pw   *io.PipeWriter
	once sync.Once
}

func (p *pipeRW) Header() http.Header { return p.hdr }
func (p *pipeRW) WriteHeader(c int)   { p.once.Do(func() { p.code <- c }) }
func (p *pipeRW) Write(b []byte) (int, error) {
	p.WriteHeader(200)
	return p.pw.Write(b)
}
func (p *pipeRW) Flush() {}

func (tr pipeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeRW{hdr: http.Header{}, code: make(chan int, 1), pw: pw}
	go func() {
		tr.handler.ServeHTTP(rw, r)
		rw.WriteHeader(200)
		pw.Close()
	}()
	go func() {
		<-r.Context().Done()
		pw.CloseWithError(r.Context().Err())
	}()
	select {
	case code := <-rw.code:
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: rw.hdr, Body: pr, Request: r}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// TestHeartbeatWatchdog runs in fake time: the master sends SUBSCRIBED
// (heartbeat 15 s) and one HEARTBEAT and then goes silent; after 5 × 15 s
// without events the client must drop the stream and re-subscribe.
func TestHeartbeatWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeMaster{t: t, streamID: "s1", heartbeat: 15, events: make(chan string)}
		det, _ := mesos.NewStaticDetector("master.invalid:5050")
		c, err := mesos.NewClient(mesos.ClientConfig{Detector: det, Transport: pipeTransport{handler: m},
			Backoff: backoff.Backoff{Min: time.Second, Max: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		h := &recHandler{}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan error)
		go func() { done <- c.Run(ctx, h) }()

		synctest.Wait()
		h.mu.Lock()
		if h.subs != 1 || len(h.discon) != 0 {
			t.Fatalf("at start: subs %d, disconnects %v", h.subs, h.discon)
		}
		h.mu.Unlock()

		time.Sleep(74 * time.Second)
		synctest.Wait()
		h.mu.Lock()
		if len(h.discon) != 0 {
			t.Fatalf("watchdog fired early at %v: %v", time.Since(start), h.discon)
		}
		h.mu.Unlock()

		// An event in time keeps the stream: silence is measured from it.
		m.events <- frame(`{"type":"HEARTBEAT"}`)
		time.Sleep(74 * time.Second)
		synctest.Wait()
		h.mu.Lock()
		if len(h.discon) != 0 {
			t.Fatalf("watchdog fired although an event arrived: %v", h.discon)
		}
		h.mu.Unlock()

		time.Sleep(2 * time.Second)
		synctest.Wait()
		h.mu.Lock()
		if len(h.discon) != 1 || !errors.Is(h.discon[0], mesos.ErrHeartbeatTimeout) {
			t.Fatalf("after 75 s of silence: disconnects %v, want one ErrHeartbeatTimeout", h.discon)
		}
		h.mu.Unlock()

		time.Sleep(2 * time.Second) // backoff 0.5..1 s, then re-subscribe
		synctest.Wait()
		h.mu.Lock()
		if h.subs != 2 {
			t.Fatalf("re-subscriptions: got %d, want 2", h.subs)
		}
		h.mu.Unlock()
		cancel()
		<-done
	})
}

func TestClientTLS(t *testing.T) {
	m := &fakeMaster{t: t, streamID: "tls-stream", heartbeat: 15, events: make(chan string)}
	srv := httptest.NewTLSServer(m)
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	det, _ := mesos.NewStaticDetector(strings.TrimPrefix(srv.URL, "https://"))
	c, err := mesos.NewClient(mesos.ClientConfig{Detector: det, Scheme: "https", TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"}))
	if err != nil {
		t.Fatalf("subscribe over TLS: %v", err)
	}
	defer sub.Close()
	if !strings.HasPrefix(sub.Endpoint, "https://") || sub.StreamID != "tls-stream" {
		t.Fatalf("got endpoint %q stream %q", sub.Endpoint, sub.StreamID)
	}
	if err := c.Call(ctx, mesos.Reconcile(mesos.FrameworkID{Value: "fw-1"})); err != nil {
		t.Fatalf("call over TLS: %v", err)
	}

	// Without the CA the handshake fails.
	c2, _ := mesos.NewClient(mesos.ClientConfig{Detector: det, Scheme: "https"})
	if _, err := c2.Subscribe(ctx, mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"})); err == nil {
		t.Fatal("subscribed to an untrusted TLS master")
	}
}

func TestSubscribeErrorEventAndBadAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{name: "ERROR first", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(mesos.StreamIDHeader, "s")
			io.WriteString(w, frame(`{"type":"ERROR","error":{"message":"Framework has been removed"}}`))
		}, want: "Framework has been removed"},
		{name: "no stream id", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, frame(`{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}`))
		}, want: "Mesos-Stream-Id"},
		{name: "wrong content type", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set(mesos.StreamIDHeader, "s")
		}, want: "Content-Type"},
		{name: "heartbeat first", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(mesos.StreamIDHeader, "s")
			io.WriteString(w, frame(`{"type":"HEARTBEAT"}`))
		}, want: "want SUBSCRIBED"},
		{name: "oversized frame", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(mesos.StreamIDHeader, "s")
			io.WriteString(w, "99999999\n{")
		}, want: "too large"},
		{name: "503", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		}, want: "503"},
		{name: "redirect loop", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "//"+r.Host+"/master/api/v1/scheduler")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, want: "too many leader redirects"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			det, _ := mesos.NewStaticDetector(srv.URL)
			c, _ := mesos.NewClient(mesos.ClientConfig{Detector: det, MaxFrameSize: 1 << 20})
			_, err := c.Subscribe(context.Background(), mesos.Subscribe(mesos.FrameworkInfo{User: "u", Name: "n"}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if err := c.Call(context.Background(), mesos.Reconcile(mesos.FrameworkID{Value: "f"})); !errors.Is(err, mesos.ErrNotSubscribed) {
				t.Fatalf("call without a subscription: got %v, want ErrNotSubscribed", err)
			}
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		err  mesos.APIError
		want string
	}{
		{err: mesos.APIError{Call: "SUBSCRIBE", Code: 401, Status: "401 Unauthorized"}, want: "mesos: SUBSCRIBE: 401 Unauthorized"},
		{err: mesos.APIError{Call: "ACCEPT", Code: 400, Status: "400 Bad Request", Body: "Failed to validate"},
			want: "mesos: ACCEPT: 400 Bad Request: Failed to validate"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
