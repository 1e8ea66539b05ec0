package mesos

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKURL is a parsed zk://[user:pass@]host:port[,host:port…]/path URL.
type ZKURL struct {
	Servers []string
	Path    string
	Auth    string // "user:pass" for digest auth, or ""
}

// ParseZKURL parses a zk:// URL as Mesos accepts it for --zk.
func ParseZKURL(s string) (ZKURL, error) {
	rest, ok := strings.CutPrefix(s, "zk://")
	if !ok {
		return ZKURL{}, fmt.Errorf("mesos: %q is not a zk:// URL", s)
	}
	var u ZKURL
	hosts, p, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		u.Auth, hosts = hosts[:at], hosts[at+1:]
		if !strings.Contains(u.Auth, ":") {
			return ZKURL{}, fmt.Errorf("mesos: zk URL credentials must be user:pass")
		}
	}
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "2181")
		}
		u.Servers = append(u.Servers, h)
	}
	if len(u.Servers) == 0 {
		return ZKURL{}, fmt.Errorf("mesos: zk URL %q has no servers", s)
	}
	u.Path = path.Clean("/" + p)
	if u.Path == "/" {
		return ZKURL{}, fmt.Errorf("mesos: zk URL %q has no path", s)
	}
	return u, nil
}

type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper: " + fmt.Sprintf(format, args...))
}

// DialZK connects to the servers of u (adding digest auth if u has
// credentials). The session is kept alive by the library until Close.
func DialZK(u ZKURL, sessionTimeout time.Duration, log *slog.Logger) (*zk.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sessionTimeout <= 0 {
		sessionTimeout = 10 * time.Second
	}
	conn, events, err := zk.Connect(u.Servers, sessionTimeout, zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("mesos: zookeeper connect %v: %w", u.Servers, err)
	}
	// Wait for the first session so that callers do not race the handshake.
	timeout := time.NewTimer(2 * sessionTimeout)
	defer timeout.Stop()
wait:
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				break wait
			}
			if ev.State == zk.StateAuthFailed {
				conn.Close()
				return nil, fmt.Errorf("mesos: zookeeper %v: authentication failed", u.Servers)
			}
		case <-timeout.C:
			conn.Close()
			return nil, fmt.Errorf("mesos: zookeeper %v: no session within %v", u.Servers, 2*sessionTimeout)
		}
	}
	// Keep draining session events so the library never blocks on them.
	go func() {
		for ev := range events {
			log.Debug("zookeeper session event", "state", ev.State.String())
		}
	}()
	if u.Auth != "" {
		if err := conn.AddAuth("digest", []byte(u.Auth)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mesos: zookeeper auth: %w", err)
		}
	}
	return conn, nil
}

// MasterInfoPrefix is the znode name prefix under which Mesos masters
// register their MasterInfo as JSON (ephemeral + sequential nodes).
const MasterInfoPrefix = "json.info_"

// ZKDetector finds the leading master from ZooKeeper: the json.info_
// child of the path with the lowest sequence number. Safe for concurrent use.
type ZKDetector struct {
	conn *zk.Conn
	path string
}

// NewZKDetector connects to the ZooKeeper ensemble of a zk:// URL.
func NewZKDetector(zkURL string, log *slog.Logger) (*ZKDetector, error) {
	u, err := ParseZKURL(zkURL)
	if err != nil {
		return nil, err
	}
	conn, err := DialZK(u, 10*time.Second, log)
	if err != nil {
		return nil, err
	}
	return &ZKDetector{conn: conn, path: u.Path}, nil
}

// Close ends the ZooKeeper session.
func (d *ZKDetector) Close() { d.conn.Close() }

// ErrNoLeader is returned when no master is registered.
var ErrNoLeader = errors.New("mesos: no leading master registered in zookeeper")

// sequence returns the sequence number of a json.info_ child name.
func sequence(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, MasterInfoPrefix)
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// LeaderNode returns the child name of the leader among children, or false.
func LeaderNode(children []string) (string, bool) {
	type cand struct {
		name string
		seq  uint64
	}
	var cs []cand
	for _, c := range children {
		if n, ok := sequence(c); ok {
			cs = append(cs, cand{c, n})
		}
	}
	if len(cs) == 0 {
		return "", false
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	return cs[0].name, true
}

// LeaderInfo returns the MasterInfo of the current leader.
func (d *ZKDetector) LeaderInfo(ctx context.Context) (MasterInfo, error) {
	type result struct {
		mi  MasterInfo
		err error
	}
	ch := make(chan result, 1)
	go func() {
		mi, err := d.leaderInfo()
		ch <- result{mi, err}
	}()
	select {
	case r := <-ch:
		return r.mi, r.err
	case <-ctx.Done():
		return MasterInfo{}, ctx.Err()
	}
}

func (d *ZKDetector) leaderInfo() (MasterInfo, error) {
	// The leader may vanish between listing and reading: retry a few times.
	for range 3 {
		children, _, err := d.conn.Children(d.path)
		if errors.Is(err, zk.ErrNoNode) {
			return MasterInfo{}, fmt.Errorf("%w (path %s does not exist)", ErrNoLeader, d.path)
		}
		if err != nil {
			return MasterInfo{}, fmt.Errorf("mesos: zookeeper children %s: %w", d.path, err)
		}
		node, ok := LeaderNode(children)
		if !ok {
			return MasterInfo{}, fmt.Errorf("%w under %s", ErrNoLeader, d.path)
		}
		data, _, err := d.conn.Get(d.path + "/" + node)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return MasterInfo{}, fmt.Errorf("mesos: zookeeper get %s: %w", node, err)
		}
		var mi MasterInfo
		if err := json.Unmarshal(data, &mi); err != nil {
			return MasterInfo{}, fmt.Errorf("mesos: zookeeper %s: bad MasterInfo JSON: %w", node, err)
		}
		return mi, nil
	}
	return MasterInfo{}, fmt.Errorf("%w: leader node kept vanishing", ErrNoLeader)
}

// Leader implements Detector.
func (d *ZKDetector) Leader(ctx context.Context) (string, error) {
	mi, err := d.LeaderInfo(ctx)
	if err != nil {
		return "", err
	}
	return MasterAddress(mi)
}

// MasterAddress returns host:port for a MasterInfo: address.ip (or
// address.hostname) and address.port, falling back to the deprecated
// hostname/ip/port fields and then to the pid.
func MasterAddress(mi MasterInfo) (string, error) {
	if a := mi.Address; a != nil && a.Port > 0 {
		if a.IP != "" {
			return net.JoinHostPort(a.IP, strconv.Itoa(int(a.Port))), nil
		}
		if a.Hostname != "" {
			return net.JoinHostPort(a.Hostname, strconv.Itoa(int(a.Port))), nil
		}
	}
	if mi.Port > 0 {
		if mi.IP != 0 {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], mi.IP) // network order read as host (little-endian) uint32
			return net.JoinHostPort(net.IP(b[:]).String(), strconv.Itoa(int(mi.Port))), nil
		}
		if mi.Hostname != "" {
			return net.JoinHostPort(mi.Hostname, strconv.Itoa(int(mi.Port))), nil
		}
	}
	if _, hp, ok := strings.Cut(mi.PID, "@"); ok {
		if _, _, err := net.SplitHostPort(hp); err == nil {
			return hp, nil
		}
	}
	return "", fmt.Errorf("mesos: MasterInfo %q has no usable address", mi.ID)
}

// PackIP returns the MasterInfo.ip encoding of an IPv4 address.
func PackIP(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v4)
}

// RegisterMaster creates the ephemeral sequential json.info_ node for mi
// under dir (creating dir's parents as needed), as a Mesos master contender
// does, and returns the node's path. The node lives as long as conn's session.
func RegisterMaster(conn *zk.Conn, dir string, mi MasterInfo) (string, error) {
	if err := EnsureZKPath(conn, dir); err != nil {
		return "", err
	}
	data, err := json.Marshal(mi)
	if err != nil {
		return "", err
	}
	p, err := conn.Create(path.Join(dir, MasterInfoPrefix), data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("mesos: zookeeper register master: %w", err)
	}
	return p, nil
}

// EnsureZKPath creates every missing persistent node of p.
func EnsureZKPath(conn *zk.Conn, p string) error {
	cur := ""
	for part := range strings.SplitSeq(strings.Trim(path.Clean(p), "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("mesos: zookeeper create %s: %w", cur, err)
		}
	}
	return nil
}
