package obs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, format, level string
		wantErr             bool
		wantJSON            bool
	}{
		{name: "text", format: "text", level: "info"},
		{name: "json", format: "json", level: "debug", wantJSON: true},
		{name: "bad format", format: "xml", level: "info", wantErr: true},
		{name: "bad level", format: "text", level: "loud", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := NewLogger(&buf, tt.format, tt.level)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewLogger err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			log.Info("hello", "k", 1)
			if got := strings.HasPrefix(buf.String(), "{"); got != tt.wantJSON {
				t.Errorf("output %q: json = %v, want %v", buf.String(), got, tt.wantJSON)
			}
		})
	}
}

func TestMuxEndpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "hashfleet_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var ready atomic.Bool
	mux := NewMux(reg, func() error {
		if !ready.Load() {
			return errors.New("no template yet")
		}
		return nil
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, mux) }()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "hashfleet_test_total 3") {
		t.Errorf("/metrics = %d %q, want 200 with counter 3", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "no template yet") {
		t.Errorf("/readyz = %d %q, want 503 with reason", code, body)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz after ready = %d, want 200", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

// TestPprofOnlyOnLoopback: the profiling endpoints answer a connection to
// a loopback address and nothing else, whatever address the mux listens on.
func TestPprofOnlyOnLoopback(t *testing.T) {
	mux := NewMux(NewRegistry(), nil)
	for _, tt := range []struct {
		local, remote string
		want          int
	}{
		{"127.0.0.1:8080", "127.0.0.1:50000", http.StatusOK},
		{"[::1]:8080", "[::1]:50000", http.StatusOK},
		{"10.1.2.3:8080", "10.1.2.4:50000", http.StatusNotFound},
		{"172.17.0.2:8080", "127.0.0.1:50000", http.StatusNotFound}, // a container port reached through a proxy
		{"127.0.0.1:8080", "10.1.2.4:50000", http.StatusNotFound},
	} {
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/heap"} {
			local, _ := net.ResolveTCPAddr("tcp", tt.local)
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("GET %s on %s from %s: got %d, want %d", path, tt.local, tt.remote, w.Code, tt.want)
			}
		}
	}
	// And over a real socket on loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pprof over loopback: got %d, want 200", resp.StatusCode)
	}
}
