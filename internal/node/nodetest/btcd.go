package nodetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// EnvBtcd, when set, names a prebuilt btcd binary to use instead of building
// one.
const EnvBtcd = parts.EnvBtcd

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BuildBtcd returns the path of a btcd binary built from the module cache
// with the version pinned by go.mod (`tool github.com/btcsuite/btcd`). It is
// built at most once per test process and cached across processes under
// os.TempDir(), keyed by the hash of go.sum. If it cannot be built, the test
// is skipped (or fails, see Missing).
func BuildBtcd(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildPath, buildErr = buildBtcd() })
	if buildErr != nil {
		partstest.Missing(t, parts.Btcd, "btcd binary unavailable: %v", buildErr)
	}
	return buildPath
}

func buildBtcd() (string, error) {
	if p := os.Getenv(EnvBtcd); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBtcd, p, err)
		}
		return p, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(goBin); serr != nil {
			return "", fmt.Errorf("go tool not found: %w", err)
		}
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	sum, err := os.ReadFile(filepath.Join(filepath.Dir(gomod), "go.sum"))
	if err != nil {
		return "", fmt.Errorf("read go.sum: %w", err)
	}
	h := sha256.Sum256(sum)
	dir := filepath.Join(os.TempDir(), "hashfleet-btcd-"+hex.EncodeToString(h[:8]))
	bin := filepath.Join(dir, "btcd")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Test processes of several packages start at once: one builds, the
	// others wait for it instead of compiling btcd in parallel.
	if lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644); err == nil {
		defer lock.Close()
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX) == nil {
			defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		}
		if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return bin, nil
		}
	}
	// Build to a unique name, then rename: several test processes may race.
	tmp, err := os.CreateTemp(dir, "btcd-build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goBin, "build", "-o", tmp.Name(), "github.com/btcsuite/btcd")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build github.com/btcsuite/btcd: %v\n%s", err, b)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// StartBtcd starts a real btcd --regtest on a free loopback port with a fresh
// data directory and returns it once it answers RPC. RPC credentials go
// through a config file, never argv. The process is stopped in t.Cleanup,
// and its log is printed if the test failed. "generate" pays to
// DefaultAddress().
func StartBtcd(t testing.TB) *RPCNode {
	t.Helper()
	bin := BuildBtcd(t)
	var lastErr error
	for range 3 { // a failed start is retried on a fresh port and data directory
		n, err := startBtcd(t, bin)
		if err == nil {
			return n
		}
		lastErr = err
	}
	t.Fatalf("nodetest: start btcd: %v", lastErr)
	return nil
}

// startBtcd runs btcd on regtest in a temp dir with a random RPC
// password, waits until it answers RPC, and stops it when the test ends.
func startBtcd(t testing.TB, bin string) (*RPCNode, error) {
	dir := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(porttest.Port(t)))
	pass := randomHex(16)
	conf := filepath.Join(dir, "btcd.conf")
	if err := os.WriteFile(conf, []byte("[Application Options]\nrpcuser=nodetest\nrpcpass="+pass+"\n"), 0o600); err != nil {
		return nil, err
	}
	exited, stop, err := execBtcd(bin, dir, conf, addr)
	if err != nil {
		return nil, err
	}
	params := chaincfg.RegressionNetParams
	n := &RPCNode{
		URL:      "http://" + addr,
		User:     "nodetest",
		Password: pass,
		Kind:     KindBtcd,
		DataDir:  filepath.Join(dir, "data"),
		Params:   &params,
		Client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
	}
	if err := awaitRPC(n, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w\n%s", err, tailFiles(dir))
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("btcd logs (%s):\n%s", dir, tailFiles(dir))
		}
	})
	return n, nil
}

// execBtcd starts btcd with its data, logs and HOME in dir, its output in
// dir/stderr.log. exited is closed when it has exited; stop ends it
// (SIGINT, then SIGKILL after 10 s) and waits.
func execBtcd(bin, dir, conf, addr string) (exited <-chan struct{}, stop func(), err error) {
	cmd := exec.Command(bin,
		"--configfile="+conf,
		"--regtest",
		"--datadir="+filepath.Join(dir, "data"),
		"--logdir="+filepath.Join(dir, "logs"),
		"--rpclisten="+addr,
		"--notls", "--nolisten",
		"--utxocachemaxsize=8", "--nocfilters",
		"--miningaddr="+DefaultAddress(),
		"--debuglevel=info",
	)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir) // keep ~/.btcd untouched
	stderr, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return nil, nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); stderr.Close(); close(done) }()
	return done, func() {
		select {
		case <-done:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}, nil
}

// awaitRPC waits up to 30 s for n to answer getblockcount; it fails at
// once when the process exits.
func awaitRPC(n *RPCNode, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := n.Call(ctx, "getblockcount")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("btcd exited during startup: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("btcd did not answer RPC within 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tailFiles returns the last lines of btcd's stderr and log files.
func tailFiles(dir string) string {
	var b strings.Builder
	// btcd writes its log to stdout too, so stderr.log has everything.
	for _, p := range []string{filepath.Join(dir, "stderr.log")} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > 40 {
				lines = lines[1:]
			}
		}
		f.Close()
		fmt.Fprintf(&b, "== %s\n%s\n", p, strings.Join(lines, "\n"))
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
