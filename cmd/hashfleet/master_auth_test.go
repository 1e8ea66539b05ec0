package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/minimesos"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMasterCredentialsFileErrors: a bad --credentials file stops the
// command before it listens, naming the problem but never a secret.
func TestMasterCredentialsFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "missing", path: filepath.Join(dir, "nope"), wantErr: "no such file"},
		{name: "empty", path: write("empty", "\n"), wantErr: "no credentials"},
		{name: "malformed line", path: write("bad", "hashfleet Sup3rSecret extra\n"), wantErr: "line 1"},
		{name: "bad json", path: write("bad.json", `{"credentials":[{"principal":"hashfleet","secret":"Sup3rSecret"`), wantErr: "invalid JSON"},
		{name: "colon in secret", path: write("colon", "hashfleet Sup3r:Secret\n"), wantErr: "contains ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newMasterCmd()
			cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--agents", "0", "--credentials", tt.path})
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := cmd.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "Sup3r") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

// TestMasterCommandAuthentication runs the command's wiring with a
// credentials file and drives it with the mesos client: a wrong secret
// gets 401, the right one subscribes, and no secret reaches the log.
func TestMasterCommandAuthentication(t *testing.T) {
	for _, format := range []struct{ name, content string }{
		{"text", "other 0therSecret\nhashfleet Sup3rSecret\n"},
		{"json", `{"credentials":[{"principal":"hashfleet","secret":"Sup3rSecret"},{"principal":"other","secret":"0therSecret"}]}`},
	} {
		t.Run(format.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "credentials")
			if err := os.WriteFile(file, []byte(format.content), 0o644); err != nil { // too open: warned about
				t.Fatal(err)
			}
			addr := porttest.Addr(t)
			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- runMasterCmd(ctx, masterOptions{Listen: addr, CredentialsFile: file, Config: minimesos.Config{
					Agents: 1, Resources: "cpus:1;mem:128", Containerizer: "process", WorkDir: t.TempDir(),
					Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("runMasterCmd: %v", err)
				}
				if strings.Contains(logs.String(), "Sup3r") || strings.Contains(logs.String(), "0ther") {
					t.Errorf("log leaks a secret:\n%s", logs.String())
				}
				if !strings.Contains(logs.String(), "too open") {
					t.Errorf("no warning about the 0644 credentials file:\n%s", logs.String())
				}
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "master ready") {
				if time.Now().After(deadline) {
					t.Fatalf("master not ready:\n%s", logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}

			fi := mesos.FrameworkInfo{User: "nobody", Name: "auth", FailoverTimeout: 60}
			tests := []struct {
				name, principal, secret string
				wantCode                int // 0: subscribed
			}{
				{name: "no credentials", wantCode: http.StatusUnauthorized},
				{name: "wrong secret", principal: "hashfleet", secret: "wrong", wantCode: http.StatusUnauthorized},
				{name: "unknown principal", principal: "nobody", secret: "Sup3rSecret", wantCode: http.StatusUnauthorized},
				{name: "right secret", principal: "hashfleet", secret: "Sup3rSecret"},
				{name: "other principal", principal: "other", secret: "0therSecret"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					det, _ := mesos.NewStaticDetector(addr)
					cl, err := mesos.NewClient(mesos.ClientConfig{Detector: det, Principal: tt.principal, Secret: tt.secret})
					if err != nil {
						t.Fatal(err)
					}
					sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
					defer scancel()
					sub, err := cl.Subscribe(sctx, mesos.Subscribe(fi))
					if tt.wantCode != 0 {
						aerr, ok := errors.AsType[*mesos.APIError](err)
						if !ok || aerr.Code != tt.wantCode {
							t.Fatalf("got %v, want a %d APIError", err, tt.wantCode)
						}
						return
					}
					if err != nil {
						t.Fatalf("got %v, want subscribed", err)
					}
					defer sub.Close()
					if sub.Subscribed.FrameworkID.Value == "" {
						t.Fatalf("no framework id")
					}
				})
			}
		})
	}
}
