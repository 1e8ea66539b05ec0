package miner

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/sha256d"
)

// Pool is one Stratum server to mine on.
type Pool struct {
	// URL is stratum+tcp://host:port, stratum+ssl://host:port (also
	// stratum+tls, stratum+tcps), tcp://host:port or host:port. User and
	// password embedded in the URL override User and Password.
	URL      string
	User     string
	Password string // never logged or exposed in Stats
}

// Endpoint is a parsed pool address.
type Endpoint struct {
	Host string
	Port int
	TLS  bool
}

// Addr returns host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// String returns the URL form without credentials.
func (e Endpoint) String() string {
	if e.TLS {
		return "stratum+ssl://" + e.Addr()
	}
	return "stratum+tcp://" + e.Addr()
}

// ParseURL parses a pool URL. It returns the endpoint and any user and
// password embedded in it.
func ParseURL(raw string) (ep Endpoint, user, password string, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Endpoint{}, "", "", errors.New("miner: empty pool URL")
	}
	if !strings.Contains(s, "://") {
		s = "stratum+tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, "", "", fmt.Errorf("miner: pool URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "stratum+tcp", "stratum", "tcp":
	case "stratum+ssl", "stratum+tls", "stratum+tcps", "ssl", "tls":
		ep.TLS = true
	default:
		return Endpoint{}, "", "", fmt.Errorf("miner: pool URL %q: unsupported scheme %q (want stratum+tcp or stratum+ssl)", redactURL(raw), u.Scheme)
	}
	ep.Host = u.Hostname()
	if ep.Host == "" {
		return Endpoint{}, "", "", fmt.Errorf("miner: pool URL %q: no host", redactURL(raw))
	}
	port := u.Port()
	if port == "" {
		return Endpoint{}, "", "", fmt.Errorf("miner: pool URL %q: no port", redactURL(raw))
	}
	ep.Port, err = strconv.Atoi(port)
	if err != nil || ep.Port < 1 || ep.Port > 65535 {
		return Endpoint{}, "", "", fmt.Errorf("miner: pool URL %q: bad port %q", redactURL(raw), port)
	}
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	return ep, user, password, nil
}

// redactURL strips userinfo for error messages and logs.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "***@" + raw[i+1:]
		}
		return "***@" + raw[i+1:]
	}
	return raw
}

// Config configures a Miner. Zero values take the defaults noted.
type Config struct {
	Pools   []Pool // required; tried in order (failover)
	Threads int    // hashing goroutines; default runtime.NumCPU()
	// Impl is the sha256d implementation; the zero value means the best one
	// this CPU supports (sha256d.Lookup("auto")).
	Impl      sha256d.Impl
	UserAgent string       // sent in mining.subscribe and client.get_version; default "hashfleet"
	Logger    *slog.Logger // required
	// Registerer receives the miner's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// TLSConfig is used for stratum+ssl pools (cloned; ServerName is set
	// from the URL when empty). nil means the system roots.
	TLSConfig *tls.Config

	NoVersionRolling    bool    // do not send mining.configure
	ExtranonceSubscribe bool    // send mining.extranonce.subscribe after authorize
	SuggestDifficulty   float64 // if > 0, sent as mining.suggest_difficulty
	NoRedirect          bool    // ignore client.reconnect to a different host
	Quiet               bool    // no periodic per-thread hash rate lines

	MinBackoff       time.Duration // first reconnect delay; default 1s
	MaxBackoff       time.Duration // cap; default 60s
	DialTimeout      time.Duration // default 10s
	HandshakeTimeout time.Duration // subscribe+authorize; default 30s
	IdleTimeout      time.Duration // reconnect if the pool sends nothing this long; default 10m
	KeepAlive        time.Duration // TCP keepalive period; default 30s
	WriteTimeout     time.Duration // per line; default 10s
	StatsInterval    time.Duration // hash-rate window and progress lines; default 30s

	// Test knobs (in-package tests only).
	batch     uint32 // nonces per Scan call between checks; default 1<<18
	nonceSpan uint64 // nonces per (extranonce2, version); default 1<<32
}

// Validate reports whether cfg is usable. It does not modify cfg.
func (c *Config) Validate() error {
	if len(c.Pools) == 0 {
		return errors.New("miner: no pool configured")
	}
	for i, p := range c.Pools {
		_, user, _, err := ParseURL(p.URL)
		if err != nil {
			return err
		}
		if p.User == "" && user == "" {
			return fmt.Errorf("miner: pool %d (%s): no user", i, redactURL(p.URL))
		}
	}
	if c.Threads < 0 {
		return fmt.Errorf("miner: threads %d < 0", c.Threads)
	}
	if c.Logger == nil {
		return errors.New("miner: Logger is required")
	}
	if c.Impl.Scan != nil && !c.Impl.Available {
		return fmt.Errorf("miner: implementation %q not supported by this CPU", c.Impl.Name)
	}
	if c.SuggestDifficulty < 0 {
		return fmt.Errorf("miner: suggest difficulty %g < 0", c.SuggestDifficulty)
	}
	if c.MaxBackoff != 0 && c.MinBackoff > c.MaxBackoff {
		return fmt.Errorf("miner: MinBackoff %v > MaxBackoff %v", c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
