package master

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// AuthRealm is the realm of the WWW-Authenticate challenge a Mesos master
// sends to unauthenticated HTTP frameworks
// (DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM).
const AuthRealm = "mesos-master-scheduler"

// authenticator checks HTTP basic credentials like libprocess's basic
// authenticator. Secrets are kept only as SHA-256 digests so that the
// comparison is constant-time whatever the lengths.
type authenticator struct {
	secrets map[string][sha256.Size]byte
}

func newAuthenticator(creds map[string]string) *authenticator {
	if creds == nil {
		return nil
	}
	a := &authenticator{secrets: make(map[string][sha256.Size]byte, len(creds))}
	for p, s := range creds {
		a.secrets[p] = sha256.Sum256([]byte(s))
	}
	return a
}

// unknownSecret is compared against when the principal is unknown, so an
// unknown principal costs the same as a wrong secret.
var unknownSecret = sha256.Sum256([]byte("hashfleet: no such principal"))

// authenticate returns the authenticated principal, or false. Like Mesos:
// the header must be exactly "Basic <base64>", and the decoded text must
// split on ':' into exactly two parts (so a secret containing ':' never
// authenticates).
func (a *authenticator) authenticate(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, enc, ok := strings.Cut(vals[0], " ")
	if !ok || scheme != "Basic" || strings.Contains(enc, " ") {
		return "", false
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(dec), ":")
	if len(parts) != 2 {
		return "", false
	}
	want, known := a.secrets[parts[0]]
	if !known {
		want = unknownSecret
	}
	got := sha256.Sum256([]byte(parts[1]))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return "", false
	}
	return parts[0], true
}

// validateCredentials checks a credentials set for Config.Validate. It
// never mentions a secret.
func validateCredentials(creds map[string]string) error {
	if creds == nil {
		return nil
	}
	if len(creds) == 0 {
		return errors.New("credentials: authentication enabled but no credentials given")
	}
	for p, s := range creds {
		switch {
		case p == "":
			return errors.New("credentials: empty principal")
		case strings.ContainsRune(p, ':'):
			return fmt.Errorf("credentials: principal %q contains ':' (basic authentication cannot carry it)", p)
		case strings.IndexFunc(p, unicode.IsControl) >= 0:
			return fmt.Errorf("credentials: principal %q contains a control character", p)
		case s == "":
			return fmt.Errorf("credentials: principal %q has an empty secret", p)
		case strings.ContainsRune(s, ':'):
			return fmt.Errorf("credentials: the secret of principal %q contains ':' (Mesos's basic authenticator never accepts it)", p)
		}
	}
	return nil
}

// ParseCredentials parses a Mesos credentials file: either JSON
// {"credentials":[{"principal":"p","secret":"s"},…]} or plain text, one
// "principal secret" pair per line (blank lines ignored). Unlike Mesos,
// which skips malformed lines with a warning, a malformed line, a
// duplicate principal or an empty file is an error. Errors name lines and
// principals, never secrets.
func ParseCredentials(data []byte) (map[string]string, error) {
	creds := map[string]string{}
	add := func(where, p, s string) error {
		if _, dup := creds[p]; dup {
			return fmt.Errorf("credentials: %s: duplicate principal %q", where, p)
		}
		creds[p] = s
		return nil
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Credentials []struct {
				Principal *string `json:"principal"`
				Secret    *string `json:"secret"`
			} `json:"credentials"`
		}
		dec := json.NewDecoder(bytes.NewReader(t))
		if err := dec.Decode(&doc); err != nil {
			// Do not wrap: a syntax error may quote part of a secret.
			return nil, errors.New("credentials: invalid JSON (want {\"credentials\":[{\"principal\":…,\"secret\":…}]})")
		}
		for i, c := range doc.Credentials {
			if c.Principal == nil || c.Secret == nil {
				return nil, fmt.Errorf("credentials: entry %d: want both 'principal' and 'secret'", i)
			}
			if err := add(fmt.Sprintf("entry %d", i), *c.Principal, *c.Secret); err != nil {
				return nil, err
			}
		}
	} else {
		for i, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if len(f) != 2 {
				return nil, fmt.Errorf("credentials: line %d: want 'principal secret', got %d fields", i+1, len(f))
			}
			if err := add(fmt.Sprintf("line %d", i+1), f[0], f[1]); err != nil {
				return nil, err
			}
		}
	}
	if len(creds) == 0 {
		return nil, errors.New("credentials: no credentials in file")
	}
	if err := validateCredentials(creds); err != nil {
		return nil, err
	}
	return creds, nil
}

// ReadCredentialsFile reads and parses a credentials file (see
// ParseCredentials). Like Mesos it accepts a file readable by others but
// reports that through tooOpen, so the caller can warn.
func ReadCredentialsFile(path string) (creds map[string]string, tooOpen bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	creds, err = ParseCredentials(data)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return creds, fi.Mode().Perm()&0o077 != 0, nil
}

// principalMismatch is Mesos's check, right after the framework lookup of a
// non-SUBSCRIBE call and before the "not subscribed" check, that the
// authenticated principal is the framework's. principal is "" without
// authentication; an unknown framework is left to core.call.
func (c *core) principalMismatch(call *mesos.Call, principal string) (callResult, bool) {
	if principal == "" || call.FrameworkID == nil {
		return callResult{}, false
	}
	f := c.frameworks[call.FrameworkID.Value]
	if f == nil || f.info.Principal == principal {
		return callResult{}, false
	}
	return callResult{http.StatusBadRequest, principalMismatchMessage(principal, f.info.Principal)}, true
}

func principalMismatchMessage(authenticated, framework string) string {
	return fmt.Sprintf("Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", authenticated, framework)
}
