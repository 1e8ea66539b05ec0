package master

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// pipeWriter is an http.ResponseWriter that streams the body into a pipe,
// so the real Handler can run inside a synctest bubble without sockets.
type pipeWriter struct {
	h    http.Header
	code int
	pw   *io.PipeWriter
}

func (p *pipeWriter) Header() http.Header         { return p.h }
func (p *pipeWriter) WriteHeader(code int)        { p.code = code }
func (p *pipeWriter) Write(b []byte) (int, error) { return p.pw.Write(b) }
func (p *pipeWriter) Flush()                      {}

// TestHeartbeatsAndFailoverTimeout runs the real master (Run + Handler) in
// fake time: HEARTBEAT right after SUBSCRIBED and every 15 s, and a
// disconnected framework removed exactly when failover_timeout expires.
func TestHeartbeatsAndFailoverTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- m.Run(ctx) }()

		fi := fwInfo("fw")
		fi.FailoverTimeout = 60
		body, _ := json.Marshal(mesos.Subscribe(fi))
		reqCtx, hangUp := context.WithCancel(ctx)
		req := httptest.NewRequestWithContext(reqCtx, http.MethodPost, "/api/v1/scheduler", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		pr, pw := io.Pipe()
		rw := &pipeWriter{h: http.Header{}, pw: pw}
		handlerDone := make(chan struct{})
		go func() {
			m.Handler().ServeHTTP(rw, req)
			pw.Close()
			close(handlerDone)
		}()
		dec := mesos.NewDecoder(pr, 0)
		start := time.Now()
		next := func(want mesos.EventType) time.Duration {
			t.Helper()
			var ev mesos.Event
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if ev.Type != want {
				t.Fatalf("event: got %s, want %s", ev.Type, want)
			}
			return time.Since(start)
		}
		next(mesos.EventSubscribed)
		for i, want := range []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second} {
			if got := next(mesos.EventHeartbeat); got != want {
				t.Errorf("heartbeat %d at %v, want %v", i, got, want)
			}
		}

		state := func() map[string]any {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("state: %v", err)
			}
			return doc
		}
		// The scheduler goes away.
		hangUp()
		go io.Copy(io.Discard, pr)
		<-handlerDone
		synctest.Wait()
		disconnectedAt := time.Now()
		time.Sleep(60*time.Second - time.Millisecond)
		synctest.Wait()
		if doc := state(); len(doc["frameworks"].([]any)) != 1 {
			t.Fatalf("framework removed before failover_timeout (after %v)", time.Since(disconnectedAt))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		doc := state()
		if n := len(doc["frameworks"].([]any)); n != 0 {
			t.Errorf("frameworks after failover_timeout: got %d, want 0", n)
		}
		if n := len(doc["completed_frameworks"].([]any)); n != 1 {
			t.Errorf("completed_frameworks: got %d, want 1", n)
		}
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestSlowSubscriberDropped: a scheduler that stops reading is dropped
// (and counted) once its bounded queue is full; the master is never
// blocked by it and treats the drop as a disconnection.
func TestSlowSubscriberDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(Config{Logger: slog.New(slog.DiscardHandler), StreamQueue: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- m.Run(ctx) }()

		fi := fwInfo("slow")
		body, _ := json.Marshal(mesos.Subscribe(fi))
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/scheduler", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		pr, pw := io.Pipe()
		handlerDone := make(chan struct{})
		go func() {
			m.Handler().ServeHTTP(&pipeWriter{h: http.Header{}, pw: pw}, req)
			close(handlerDone)
		}()
		// Read nothing: the handler blocks writing SUBSCRIBED, the queue
		// takes two heartbeats, the third overflows it.
		time.Sleep(46 * time.Second)
		synctest.Wait()
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
		var doc struct {
			Frameworks []struct {
				Connected bool `json:"connected"`
			} `json:"frameworks"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Frameworks) != 1 || doc.Frameworks[0].Connected {
			t.Errorf("frameworks after overflow: got %+v, want one disconnected", doc.Frameworks)
		}
		pr.Close() // the scheduler finally goes away
		<-handlerDone
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
