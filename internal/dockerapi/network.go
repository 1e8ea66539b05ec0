package dockerapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Labels put on an owned network, so that its owner (and, after a
// SIGKILL, the next owner on this host) can find it and what runs on it.
const (
	labelNetwork = "io.hashfleet.demo"        // the network's name
	labelPID     = "io.hashfleet.demo.pid"    // the process that owns it…
	labelHost    = "io.hashfleet.demo.host"   // …on this host (pids of other namespaces mean nothing)
	labelMembers = "io.hashfleet.demo.agents" // MemberDir
)

const (
	cleanupMax    = 30 * time.Second // bound on removing containers and the network
	netDriver     = "bridge"
	netOptName    = "com.docker.network.bridge.name"
	netOptBindIP4 = "com.docker.network.bridge.host_binding_ipv4" // where a mapping that names no address is bound
)

// NetworkConfig describes an owned network.
type NetworkConfig struct {
	// Prefix of the network's name; a random suffix follows. Orphans are
	// looked for among networks with this prefix.
	Prefix string
	// MemberLabel and MemberDir: containers labelled MemberLabel with a
	// value at or under MemberDir belong to the network's owner even when
	// they are not (or no longer) on it.
	MemberLabel, MemberDir string
	Logger                 *slog.Logger
}

// Network is a user-defined bridge network owned by this process: its
// published ports bind to its gateway address only, and Close removes it
// with every container of its owner.
type Network struct {
	c       *Client
	cfg     NetworkConfig
	Name    string
	Gateway string // the host's address on the network: what containers reach
}

// CreateNetwork removes the orphans of earlier owners (RemoveOrphans) and
// creates a network. The caller must Close it.
func CreateNetwork(ctx context.Context, c *Client, cfg NetworkConfig) (*Network, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	RemoveOrphans(ctx, c, cfg.Prefix, cfg.MemberLabel, cfg.Logger)
	n := &Network{c: c, cfg: cfg, Name: cfg.Prefix + randomHex(4)}
	if err := n.create(ctx); err != nil {
		n.removeNetwork()
		return nil, err
	}
	return n, nil
}

type networkInspect struct {
	ID   string
	IPAM struct {
		Config []struct{ Subnet, Gateway string }
	}
}

// create creates the bridge network. Docker picks a free subnet; the
// network is then re-created with that subnet stated, because only
// networks with a configured subnet let a container keep its address when
// it is disconnected and reconnected (docker network connect --ip). The
// re-created network binds published ports to its gateway address only.
func (n *Network) create(ctx context.Context) error {
	ni, err := n.createOnce(ctx, nil, "")
	if err != nil {
		return err
	}
	cfg := ni.IPAM.Config[0]
	if err := n.c.RemoveNetwork(ctx, ni.ID); err != nil {
		return fmt.Errorf("docker: re-create network %s: %w", n.Name, err)
	}
	gateway, _, _ := strings.Cut(cfg.Gateway, "/")
	ni, err = n.createOnce(ctx, map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": cfg.Subnet, "Gateway": cfg.Gateway}}}, gateway)
	if err != nil {
		return err
	}
	n.Gateway, _, _ = strings.Cut(ni.IPAM.Config[0].Gateway, "/")
	return nil
}

func (n *Network) createOnce(ctx context.Context, ipam any, gateway string) (networkInspect, error) {
	opts := map[string]string{netOptName: "hf-" + n.Name[len(n.cfg.Prefix):]}
	if gateway != "" {
		opts[netOptBindIP4] = gateway
	}
	body := map[string]any{
		"Name": n.Name, "Driver": netDriver, "CheckDuplicate": true,
		"Labels": map[string]string{labelNetwork: n.Name, labelPID: strconv.Itoa(os.Getpid()),
			labelHost: hostname(), labelMembers: n.cfg.MemberDir},
		"Options": opts,
	}
	if ipam != nil {
		body["IPAM"] = ipam
	}
	var created struct{ ID string }
	if err := n.c.Do(ctx, http.MethodPost, "/networks/create", body, &created); err != nil {
		return networkInspect{}, fmt.Errorf("docker: create network %s: %w", n.Name, err)
	}
	var ni networkInspect
	if err := n.c.Do(ctx, http.MethodGet, "/networks/"+created.ID, nil, &ni); err != nil {
		return ni, fmt.Errorf("docker: inspect network %s: %w", n.Name, err)
	}
	if len(ni.IPAM.Config) == 0 || ni.IPAM.Config[0].Gateway == "" {
		return ni, fmt.Errorf("docker: network %s has no IPv4 gateway", n.Name)
	}
	return ni, nil
}

// Close removes every container still on the network or of its members,
// then the network. It is safe to call more than once.
func (n *Network) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupMax)
	defer cancel()
	for _, id := range n.containers(ctx) {
		n.cfg.Logger.Info("removing container", "id", id, "network", n.Name)
		if err := n.c.RemoveContainer(ctx, id); err != nil {
			n.cfg.Logger.Warn("docker: cannot remove container", "id", id, "err", err)
		}
	}
	n.removeNetworkCtx(ctx)
}

// containers lists the owner's containers, running or not: those on the
// network and those of its members (a container disconnected from the
// network is still one of theirs).
func (n *Network) containers(ctx context.Context) []string {
	seen := map[string]bool{}
	var ids []string
	for _, c := range n.list(ctx, "network", n.Name) {
		if !seen[c.ID] {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	if n.cfg.MemberDir == "" || n.cfg.MemberLabel == "" {
		return ids
	}
	for _, c := range n.list(ctx, "label", n.cfg.MemberLabel) {
		dir := c.Labels[n.cfg.MemberLabel]
		if !seen[c.ID] && (dir == n.cfg.MemberDir || strings.HasPrefix(dir, n.cfg.MemberDir+string(filepath.Separator))) {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func (n *Network) list(ctx context.Context, filter, value string) []Container {
	cs, err := n.c.ListContainers(ctx, map[string][]string{filter: {value}})
	if err != nil {
		n.cfg.Logger.Warn("docker: cannot list the network's containers", "filter", filter+"="+value, "err", err)
	}
	return cs
}

func (n *Network) removeNetwork() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupMax)
	defer cancel()
	n.removeNetworkCtx(ctx)
}

func (n *Network) removeNetworkCtx(ctx context.Context) {
	if err := n.c.RemoveNetwork(ctx, n.Name); err != nil && !IsNotFound(err) {
		n.cfg.Logger.Warn("docker: cannot remove the network", "network", n.Name, "err", err)
	}
}

// RemoveOrphans removes the networks named with prefix, and their
// containers, whose owner on this host is gone (killed with SIGKILL, say:
// it could not clean up). Networks of running owners are left alone.
func RemoveOrphans(ctx context.Context, c *Client, prefix, memberLabel string, log *slog.Logger) {
	nets, err := c.ListNetworks(ctx, map[string][]string{"label": {labelPID}})
	if err != nil {
		log.Debug("docker: cannot list owned networks", "err", err)
		return
	}
	for _, ns := range nets {
		pid, err := strconv.Atoi(ns.Labels[labelPID])
		if err != nil || pid <= 0 || !strings.HasPrefix(ns.Name, prefix) || ns.Labels[labelHost] != hostname() || processAlive(pid) {
			continue
		}
		log.Warn("removing the network and containers of an owner that is gone", "network", ns.Name, "pid", pid)
		orphan := &Network{c: c, Name: ns.Name, cfg: NetworkConfig{Prefix: prefix, MemberLabel: memberLabel,
			MemberDir: ns.Labels[labelMembers], Logger: log}}
		orphan.Close()
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// processAlive reports whether a process with this pid exists (signal 0).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
