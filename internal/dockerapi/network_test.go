package dockerapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// needEngine skips (fails under HASHFLEET_REQUIRE_INTEGRATION=1) without a
// Docker Engine and fails when the engine answers the CLI but not this
// client.
func needEngine(t *testing.T) *Client {
	t.Helper()
	partstest.Require(t, parts.Docker)
	if err := Available(t.Context(), ""); err != nil {
		t.Fatalf("docker engine answers the CLI but not this client: %v", err)
	}
	return New("")
}

func inspectNetwork(t *testing.T, c *Client, name string) (map[string]string, map[string]string, error) {
	t.Helper()
	var ni struct {
		Labels  map[string]string
		Options map[string]string
	}
	err := c.Do(t.Context(), http.MethodGet, "/networks/"+name, nil, &ni)
	return ni.Labels, ni.Options, err
}

// TestNetworkLifecycle creates an owned network in a real engine, checks
// its gateway, labels and port binding, and removes it.
func TestNetworkLifecycle(t *testing.T) {
	c := needEngine(t)
	members := t.TempDir()
	n, err := CreateNetwork(t.Context(), c, NetworkConfig{Prefix: "hftest-dockerapi-", MemberLabel: "io.hashfleet.test.dir",
		MemberDir: members, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	if net.ParseIP(n.Gateway) == nil {
		t.Fatalf("gateway: got %q, want an IP address", n.Gateway)
	}
	labels, opts, err := inspectNetwork(t, c, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{name: "owner pid", got: labels[labelPID], want: strconv.Itoa(os.Getpid())},
		{name: "members", got: labels[labelMembers], want: members},
		{name: "port binding", got: opts[netOptBindIP4], want: n.Gateway},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	n.Close()
	if _, _, err := inspectNetwork(t, c, n.Name); !IsNotFound(err) {
		t.Errorf("after Close: got %v, want a 404", err)
	}
}

// TestRemoveOrphans: a network whose owner process is gone is removed, one
// whose owner runs is kept.
func TestRemoveOrphans(t *testing.T) {
	c := needEngine(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	create := func(name string, pid int) {
		t.Helper()
		body := map[string]any{"Name": name, "Driver": netDriver, "Labels": map[string]string{
			labelNetwork: name, labelPID: strconv.Itoa(pid), labelHost: hostname()}}
		if err := c.Do(t.Context(), http.MethodPost, "/networks/create", body, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.RemoveNetwork(context.Background(), name) })
	}
	prefix := "hftest-orphans-" + randomHex(2) + "-"
	create(prefix+"gone", gone.Process.Pid)
	create(prefix+"live", os.Getpid())
	RemoveOrphans(t.Context(), c, prefix, "", slog.New(slog.DiscardHandler))
	if _, _, err := inspectNetwork(t, c, prefix+"gone"); !IsNotFound(err) {
		t.Errorf("network of a gone owner: got %v, want removed (404)", err)
	}
	if _, _, err := inspectNetwork(t, c, prefix+"live"); err != nil {
		t.Errorf("network of a live owner: got %v, want kept", err)
	}
}

func TestImageNotFound(t *testing.T) {
	c := needEngine(t)
	err := c.InspectImage(t.Context(), "hashfleet-no-such-image:"+randomHex(4))
	if !IsNotFound(err) {
		t.Fatalf("got %v, want a 404 *Error", err)
	}
}
