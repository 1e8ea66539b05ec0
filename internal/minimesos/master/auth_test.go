package master

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestAuthentication covers §1.5/§2.15 with --authenticate_http_frameworks
// and the basic authenticator: 401 with the realm challenge before any
// other check, principal checks on SUBSCRIBE and on other calls (400 with
// Mesos's message), and other frameworks served throughout.
func TestAuthentication(t *testing.T) {
	c := startCluster(t, Config{Credentials: map[string]string{"alice": "s3cret", "bob": "hunter2x"}})
	alice := *c
	alice.user, alice.pass = "alice", "s3cret"
	bob := *c
	bob.user, bob.pass = "bob", "hunter2x"

	// An unset principal is filled in with the authenticated one.
	sa := alice.subscribe(fwInfo("a"))
	bi := fwInfo("b")
	bi.Principal = "bob"
	sb := bob.subscribe(bi)
	principals := map[string]any{}
	for _, f := range c.state()["frameworks"].([]any) {
		fm := f.(map[string]any)
		principals[fm["id"].(string)] = fm["principal"]
	}
	if got := principals[sa.fwID.Value]; got != "alice" {
		t.Errorf("alice's framework principal: got %v, want alice", got)
	}
	if got := principals[sb.fwID.Value]; got != "bob" {
		t.Errorf("bob's framework principal: got %v, want bob", got)
	}

	subscribe := func(principal string) string {
		fi := fwInfo("n")
		fi.Principal = principal
		b, _ := json.Marshal(mesos.Subscribe(fi))
		return string(b)
	}
	revive := func(fw mesos.FrameworkID) string {
		b, _ := json.Marshal(mesos.Call{Type: mesos.CallRevive, FrameworkID: &fw})
		return string(b)
	}
	challenge := `Basic realm="mesos-master-scheduler"`
	tests := []struct {
		name      string
		method    string
		auth      []string // Authorization header values
		body      string
		streamID  string
		wantCode  int
		wantBody  string // regexp; "" means any
		wantEmpty bool   // the body must be empty
	}{
		{name: "no credentials subscribe", body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "no credentials call", body: revive(sa.fwID), streamID: sa.streamID, wantCode: 401, wantEmpty: true},
		{name: "no credentials GET", method: http.MethodGet, wantCode: 401, wantEmpty: true},
		{name: "wrong secret", auth: []string{basic("alice", "wrong")}, body: revive(sa.fwID), streamID: sa.streamID, wantCode: 401, wantEmpty: true},
		{name: "other principal's secret", auth: []string{basic("alice", "hunter2x")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "unknown principal", auth: []string{basic("mallory", "s3cret")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "empty secret", auth: []string{basic("alice", "")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "secret prefix", auth: []string{basic("alice", "s3cre")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "extra colon", auth: []string{basic("alice", "s3cret:x")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "lower-case scheme", auth: []string{"basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "bearer scheme", auth: []string{"Bearer s3cret"}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "not base64", auth: []string{"Basic !!!"}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "two headers", auth: []string{basic("alice", "s3cret"), basic("alice", "s3cret")}, body: subscribe(""), wantCode: 401, wantEmpty: true},
		{name: "right credentials GET", method: http.MethodGet, auth: []string{basic("alice", "s3cret")}, wantCode: 405},
		{name: "right credentials call", auth: []string{basic("alice", "s3cret")}, body: revive(sa.fwID), streamID: sa.streamID, wantCode: 202, wantEmpty: true},
		{name: "right credentials subscribe", auth: []string{basic("alice", "s3cret")}, body: subscribe("alice"), wantCode: 200},
		{name: "principal mismatch on subscribe", auth: []string{basic("alice", "s3cret")}, body: subscribe("bob"), wantCode: 400,
			wantBody: "^Failed to validate scheduler::Call: Authenticated principal 'alice' does not match principal 'bob' set in `FrameworkInfo`$"},
		{name: "call on another principal's framework", auth: []string{basic("bob", "hunter2x")}, body: revive(sa.fwID), streamID: sb.streamID, wantCode: 400,
			wantBody: "^Authenticated principal 'bob' does not match principal 'alice' set in `FrameworkInfo`$"},
		{name: "unknown framework", auth: []string{basic("bob", "hunter2x")}, body: revive(mesos.FrameworkID{Value: "nope"}), streamID: sb.streamID, wantCode: 400,
			wantBody: "^Framework cannot be found$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, c.url+"/api/v1/scheduler", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", jsonCT)
			if tt.streamID != "" {
				req.Header.Set("Mesos-Stream-Id", tt.streamID)
			}
			req.Header["Authorization"] = tt.auth
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b []byte
			if resp.StatusCode != http.StatusOK { // a 200 is an open event stream
				b, _ = io.ReadAll(resp.Body)
			}
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, b, tt.wantCode)
			}
			gotChallenge := resp.Header.Get("WWW-Authenticate")
			if tt.wantCode == 401 && gotChallenge != challenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", gotChallenge, challenge)
			}
			if tt.wantCode != 401 && gotChallenge != "" {
				t.Errorf("WWW-Authenticate on a %d: got %q, want none", tt.wantCode, gotChallenge)
			}
			if tt.wantEmpty && len(b) != 0 {
				t.Errorf("body: got %q, want empty", b)
			}
			if tt.wantBody != "" && !regexp.MustCompile(tt.wantBody).Match(b) {
				t.Errorf("body: got %q, want match %q", b, tt.wantBody)
			}
			if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "hunter2x") {
				t.Errorf("body leaks a secret: %q", b)
			}
		})
	}

	// Both frameworks are still subscribed and served.
	sa.mustCall(mesos.Reconcile(sa.fwID), http.StatusAccepted)
	sb.mustCall(mesos.Reconcile(sb.fwID), http.StatusAccepted)
	for name, s := range map[string]*sub{"alice": sa, "bob": sb} {
		select {
		case <-s.closed:
			t.Errorf("%s's stream closed", name)
		default:
		}
	}
	// /state and /health need no credentials (no --authenticate_http_readonly).
	for _, p := range []string{"/state", "/health"} {
		resp, err := http.Get(c.url + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without credentials: got %d, want 200", p, resp.StatusCode)
		}
		if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "hunter2x") {
			t.Errorf("GET %s leaks a secret", p)
		}
	}
}

// TestNoAuthentication: without credentials the Authorization header is
// ignored and no principal is imposed.
func TestNoAuthentication(t *testing.T) {
	c := startCluster(t, Config{})
	anyone := *c
	anyone.user, anyone.pass = "whoever", "whatever"
	fi := fwInfo("x")
	fi.Principal = "someone-else"
	s := anyone.subscribe(fi)
	s.mustCall(mesos.Reconcile(s.fwID), http.StatusAccepted)
}

func TestCredentialsValidation(t *testing.T) {
	tests := []struct {
		name    string
		creds   map[string]string
		wantErr string // "" means valid
	}{
		{name: "nil: authentication off", creds: nil},
		{name: "one", creds: map[string]string{"p": "s"}},
		{name: "empty set", creds: map[string]string{}, wantErr: "no credentials"},
		{name: "empty principal", creds: map[string]string{"": "topsecret"}, wantErr: "empty principal"},
		{name: "colon in principal", creds: map[string]string{"a:b": "topsecret"}, wantErr: "contains ':'"},
		{name: "control in principal", creds: map[string]string{"a\nb": "topsecret"}, wantErr: "control character"},
		{name: "empty secret", creds: map[string]string{"p": ""}, wantErr: "empty secret"},
		{name: "colon in secret", creds: map[string]string{"p": "top:secret"}, wantErr: "contains ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Credentials: tt.creds}
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret\"") || strings.Contains(err.Error(), "top") {
				t.Errorf("error leaks a secret: %v", err)
			}
			if _, err := New(cfg); err == nil {
				t.Errorf("New accepted the config")
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "text", in: "alice s3cret\n\n  bob\thunter2x  \n", want: map[string]string{"alice": "s3cret", "bob": "hunter2x"}},
		{name: "text no final newline", in: "alice s3cret", want: map[string]string{"alice": "s3cret"}},
		{name: "json", in: `{"credentials":[{"principal":"alice","secret":"s3cret"},{"principal":"bob","secret":"hunter2x"}]}`,
			want: map[string]string{"alice": "s3cret", "bob": "hunter2x"}},
		{name: "json with spaces", in: " \n{ \"credentials\": [ {\"principal\": \"a\", \"secret\": \"b c\"} ] }\n", want: map[string]string{"a": "b c"}},
		{name: "empty", in: "\n \n", wantErr: "no credentials"},
		{name: "json empty", in: `{"credentials":[]}`, wantErr: "no credentials"},
		{name: "one field", in: "alice s3cret\nbob\n", wantErr: "line 2"},
		{name: "three fields", in: "alice s3 cret\n", wantErr: "line 1"},
		{name: "duplicate", in: "alice s3cret\nalice other\n", wantErr: "duplicate principal \"alice\""},
		{name: "bad json", in: `{"credentials":[{"principal":"alice","secret":"s3cret"`, wantErr: "invalid JSON"},
		{name: "json missing secret", in: `{"credentials":[{"principal":"alice"}]}`, wantErr: "entry 0"},
		{name: "json colon secret", in: `{"credentials":[{"principal":"alice","secret":"s3:cret"}]}`, wantErr: "contains ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3") || strings.Contains(err.Error(), "other") {
					t.Errorf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d credentials, want %d", len(got), len(tt.want))
			}
			for p, s := range tt.want {
				if got[p] != s {
					t.Errorf("principal %q: got a different secret (len %d), want len %d", p, len(got[p]), len(s))
				}
			}
		})
	}
}

func TestReadCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	open := filepath.Join(dir, "open")
	for p, mode := range map[string]os.FileMode{private: 0o600, open: 0o644} {
		if err := os.WriteFile(p, []byte("alice s3cret\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		path        string
		wantTooOpen bool
		wantErr     bool
	}{
		{name: "0600", path: private},
		{name: "0644", path: open, wantTooOpen: true},
		{name: "missing", path: filepath.Join(dir, "missing"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, tooOpen, err := ReadCredentialsFile(tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if tooOpen != tt.wantTooOpen || creds["alice"] != "s3cret" {
				t.Errorf("got tooOpen=%v, %d credentials; want tooOpen=%v and alice", tooOpen, len(creds), tt.wantTooOpen)
			}
		})
	}
}
