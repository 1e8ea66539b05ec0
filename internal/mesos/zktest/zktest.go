// Package zktest starts a real ZooKeeper server (the Debian "zookeeper"
// package's jar) on a free loopback port for tests.
package zktest

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// Jar is where the Debian package installs ZooKeeper (its manifest
// carries the dependency class path).
const Jar = parts.ZooKeeperJar

// Start runs a standalone ZooKeeper server with a temporary data dir on a
// free loopback port, stops it at test cleanup, and returns "127.0.0.1:port".
// It skips the test (or fails it under HASHFLEET_REQUIRE_INTEGRATION=1)
// when java or the jar is missing.
func Start(t testing.TB) string {
	t.Helper()
	jar := partstest.Require(t, parts.ZooKeeper).Path
	java, err := exec.LookPath("java")
	if err != nil {
		partstest.Missing(t, parts.ZooKeeper, "no java in PATH")
	}
	// Reserved outside the ephemeral range: a port from :0, closed and
	// handed to java, could be taken meanwhile by any outgoing connection
	// (ZooKeeper then exits at once, as seen in CI under load).
	port := porttest.Port(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, java,
		"-Xmx256m",
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.4lw.commands.whitelist=ruok",
		"-Dzookeeper.clientPortAddress=127.0.0.1",
		"-cp", classPath(jar),
		"org.apache.zookeeper.server.ZooKeeperServerMain",
		strconv.Itoa(port), filepath.Join(dir, "data"))
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		partstest.Missing(t, parts.ZooKeeper, "start java: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		logf.Close()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Listening is not serving: ZooKeeper binds its port before its
		// database is loaded, and sessions asked for then are refused.
		// "ruok" answers "imok" only once the server runs.
		if ruok(addr) {
			return addr
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			t.Fatalf("zookeeper exited early: %s", b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			t.Fatalf("zookeeper did not listen on %s within 60s: %s", addr, b)
		}
	}
}

// slf4jSimple is Debian's SLF4J binding that logs to stderr (package
// libslf4j-java, which ZooKeeper's package pulls in). Without a binding
// ZooKeeper logs nothing, and a server that exits early says not why.
const slf4jSimple = "/usr/share/java/slf4j-simple.jar"

// classPath is jar, plus slf4jSimple where it is installed.
func classPath(jar string) string {
	if _, err := os.Stat(slf4jSimple); err == nil {
		return jar + string(os.PathListSeparator) + slf4jSimple
	}
	return jar
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return string(b) == "imok"
}
