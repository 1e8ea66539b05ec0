// Package mesostest starts a real Apache Mesos cluster (1 master and N
// agents, the mesos-master and mesos-agent binaries of ../shared/mesos or
// $HASHFLEET_MESOS_HOME, found by package parts) on loopback for one test:
// a fresh work directory under t.TempDir, its ports (master, agents, the
// agents' task port ranges) from one porttest block below the kernel's
// ephemeral range, held for the cluster's life so concurrent tests never
// share one, and every process it started, and every task process the
// agents started, stopped at cleanup, also when the test fails.
//
// A test that needs real Mesos calls Start; where Mesos is absent it skips
// with the reason, and with HASHFLEET_REQUIRE_INTEGRATION=1 (CI) it fails.
package mesostest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/parts"
	"github.com/hashfleet/hashfleet/internal/parts/partstest"
	"github.com/hashfleet/hashfleet/internal/porttest"
)

// Packages is the apt-get line that installs what the binaries link.
const Packages = "apt-get install -y --no-install-recommends libcurl4 libsasl2-2 libsasl2-modules libapr1 " +
	"libaprutil1 libsvn1 libprotobuf32 libgrpc++1.51 libgrpc29 libzookeeper-mt2 libarchive13 libleveldb1d " +
	"libgoogle-glog0v6 libgflags2.2 libev4 libevent-2.1-7 libre2-9 libhttp-parser2.9 libunwind8 zlib1g"

// Config says what cluster to start. The zero value is 2 agents of
// cpus:4;mem:2048 with the Mesos containerizer.
type Config struct {
	Agents int // default 2 (at most MaxAgents)
	// Resources of every agent without ports (default "cpus:4;mem:2048");
	// each agent gets PortsPerAgent ports of its own appended.
	Resources string
	// AgentResources, if set, overrides Resources for agent i.
	AgentResources func(i int) string
	Containerizers string   // --containerizers; default "mesos"
	MasterFlags    []string // extra mesos-master flags
	AgentFlags     []string // extra mesos-agent flags
	// Credentials (principal → secret) turn on HTTP framework
	// authentication with the basic authenticator.
	Credentials map[string]string
	// Hostname the agents advertise (--hostname); default 127.0.0.1.
	Hostname string
}

// Port block layout: master at base, agent i at base+1+i, agent i's task
// ports at base+portsOffset+i*PortsPerAgent.
const (
	MaxAgents     = 4
	PortsPerAgent = 10
	portsOffset   = 10
	blockSize     = portsOffset + MaxAgents*PortsPerAgent
)

// Cluster is a running real Mesos cluster.
type Cluster struct {
	t      testing.TB
	cfg    Config
	Prefix string // folder with sbin/, lib/, libexec/mesos
	Dir    string // work base: master/, agentN/, logs, credentials
	Addr   string // master host:port
	URL    string // http://Addr
	Agents []*Agent

	mu     sync.Mutex
	master *proc
}

// Agent is one mesos-agent of the cluster.
type Agent struct {
	Index   int
	Port    int
	Ports   [2]int // first and last task port it offers
	WorkDir string
	proc    *proc
	// restarts counts starts again after a transient Docker recovery error.
	restarts int
}

// Home returns the Mesos prefix (sbin/, lib/, libexec/mesos), unpacking
// the archive on first use. It skips the test where Mesos is absent (fails
// under HASHFLEET_REQUIRE_INTEGRATION=1: the integration part "mesos") and
// fails it where Mesos is there but cannot run (missing libraries).
func Home(t testing.TB) string {
	t.Helper()
	partstest.Require(t, parts.Mesos)
	prefix, err := prefixOnce()
	if err != nil {
		t.Fatalf("real Mesos: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(prefix, "sbin", "mesos-master"), "--version")
	cmd.Env = withLibPath(os.Environ(), prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("real Mesos at %s does not run: %v: %s\ninstall its run-time packages: %s", prefix, err, out, Packages)
	}
	return prefix
}

// prefixOnce finds the binaries: beside run-cluster.sh, or unpacked from
// mesos.tar.xz by `run-cluster.sh prefix` (once, into a cache folder).
var prefixOnce = sync.OnceValues(func() (string, error) {
	home, err := parts.MesosHome()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(home, "sbin", "mesos-master")); err == nil {
		return home, nil
	}
	script := filepath.Join(home, "run-cluster.sh")
	out, err := exec.Command("bash", script, "prefix").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s prefix: %v: %s", script, err, ee.Stderr)
		}
		return "", fmt.Errorf("%s prefix: %v", script, err)
	}
	prefix := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(prefix, "sbin", "mesos-master")); err != nil {
		return "", fmt.Errorf("%s prefix gave %q without sbin/mesos-master", script, prefix)
	}
	return prefix, nil
})

func withLibPath(env []string, prefix string) []string {
	lib := filepath.Join(prefix, "lib")
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			env[i] = "LD_LIBRARY_PATH=" + lib + ":" + v
			return env
		}
	}
	return append(env, "LD_LIBRARY_PATH="+lib)
}

// Start starts a master and cfg.Agents agents and waits until every agent
// is registered. Everything is stopped at the test's cleanup.
func Start(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	prefix := Home(t)
	if cfg.Agents == 0 {
		cfg.Agents = 2
	}
	if cfg.Agents > MaxAgents {
		t.Fatalf("mesostest: %d agents, at most %d", cfg.Agents, MaxAgents)
	}
	if cfg.Resources == "" {
		cfg.Resources = "cpus:4;mem:2048"
	}
	if cfg.Containerizers == "" {
		cfg.Containerizers = "mesos"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "127.0.0.1"
	}
	base := porttest.Block(t, blockSize)
	c := &Cluster{t: t, cfg: cfg, Prefix: prefix, Dir: t.TempDir()}
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(base))
	c.URL = "http://" + c.Addr
	t.Cleanup(c.cleanup)
	for i := range cfg.Agents {
		lo := base + portsOffset + i*PortsPerAgent
		c.Agents = append(c.Agents, &Agent{Index: i, Port: base + 1 + i, Ports: [2]int{lo, lo + PortsPerAgent - 1},
			WorkDir: filepath.Join(c.Dir, fmt.Sprintf("agent%d", i))})
	}
	if len(cfg.Credentials) > 0 {
		c.writeCredentials()
	}
	c.StartMaster()
	for i := range c.Agents {
		c.StartAgent(i)
	}
	c.WaitAgents(cfg.Agents)
	return c
}

func (c *Cluster) writeCredentials() {
	type cred struct {
		Principal string `json:"principal"`
		Secret    string `json:"secret"`
	}
	var f struct {
		Credentials []cred `json:"credentials"`
	}
	for p, s := range c.cfg.Credentials {
		f.Credentials = append(f.Credentials, cred{p, s})
	}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(c.Dir, "credentials.json"), b, 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// StartMaster starts the master (again, after StopMaster: same port, same
// work dir, so it recovers its replicated-log registry) and waits until it
// is elected and has recovered.
func (c *Cluster) StartMaster() {
	c.t.Helper()
	args := []string{"--ip=127.0.0.1", "--port=" + portOf(c.Addr), "--no-hostname_lookup",
		"--work_dir=" + filepath.Join(c.Dir, "master"), "--registry=replicated_log",
		"--cluster=hashfleet-test", "--allocation_interval=250ms", "--logbufsecs=0",
		// Agents of a standalone master notice it died only by missed
		// pings (default 15 s × 5): 1 s × 4 lets them re-register with
		// a restarted master in seconds.
		"--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=4"}
	if len(c.cfg.Credentials) > 0 {
		args = append(args, "--authenticate_http_frameworks", "--http_framework_authenticators=basic",
			"--credentials="+filepath.Join(c.Dir, "credentials.json"))
	}
	args = append(args, c.cfg.MasterFlags...)
	p := c.spawn("master", filepath.Join(c.Prefix, "sbin", "mesos-master"), args)
	c.mu.Lock()
	c.master = p
	c.mu.Unlock()
	c.waitFor(90*time.Second, "the master to be elected and recovered", p, func() bool {
		var st struct {
			ElectedTime float64 `json:"elected_time"`
			Leader      string  `json:"leader"`
		}
		return c.getJSON("/state", &st) == nil && st.ElectedTime > 0 && st.Leader != ""
	})
}

// StopMaster stops the master with sig (SIGTERM or SIGKILL) and waits for
// it to exit. Agents and their tasks keep running.
func (c *Cluster) StopMaster(sig syscall.Signal) {
	c.t.Helper()
	c.mu.Lock()
	p := c.master
	c.master = nil
	c.mu.Unlock()
	if p != nil {
		p.stop(sig)
	}
}

// StartAgent starts agent i (again, after StopAgent: same port and work
// dir, so it recovers its checkpointed executors when flags allow).
func (c *Cluster) StartAgent(i int) {
	c.t.Helper()
	a := c.Agents[i]
	res := c.cfg.Resources
	if c.cfg.AgentResources != nil {
		res = c.cfg.AgentResources(i)
	}
	if res != "" {
		res += ";"
	}
	res += fmt.Sprintf("ports:[%d-%d]", a.Ports[0], a.Ports[1])
	args := []string{"--master=" + c.Addr, "--ip=127.0.0.1", "--port=" + strconv.Itoa(a.Port),
		"--hostname=" + c.cfg.Hostname, "--no-hostname_lookup",
		"--work_dir=" + filepath.Join(a.WorkDir, "work"), "--runtime_dir=" + filepath.Join(a.WorkDir, "run"),
		"--launcher_dir=" + filepath.Join(c.Prefix, "libexec", "mesos"), "--no-systemd_enable_support",
		"--launcher=posix", "--isolation=posix/cpu,posix/mem", "--containerizers=" + c.cfg.Containerizers,
		"--resources=" + res, "--logbufsecs=0",
		"--registration_backoff_factor=250ms", "--executor_registration_timeout=2mins",
		// Recovered executors get this long to re-register (default 2 s,
		// short on a loaded machine: they would be killed; at most 15 s).
		"--executor_reregistration_timeout=15secs"}
	// Executors (mesos-executor, mesos-docker-executor) link libmesos
	// from this prefix, which is not on the loader's path: name it for
	// them as a Mesos installed outside /usr/lib needs.
	env, _ := json.Marshal(map[string]string{"LD_LIBRARY_PATH": filepath.Join(c.Prefix, "lib"),
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
	args = append(args, "--executor_environment_variables="+string(env))
	args = append(args, c.cfg.AgentFlags...)
	a.proc = c.spawn(fmt.Sprintf("agent%d", i), filepath.Join(c.Prefix, "sbin", "mesos-agent"), args)
}

// StopAgent stops agent i with sig; its executors and tasks keep running
// (posix launcher), as with a real agent crash or upgrade.
func (c *Cluster) StopAgent(i int, sig syscall.Signal) {
	c.t.Helper()
	if p := c.Agents[i].proc; p != nil {
		p.stop(sig)
		c.Agents[i].proc = nil
	}
}

// WaitAgents waits until n agents are registered and active.
func (c *Cluster) WaitAgents(n int) {
	c.t.Helper()
	c.mu.Lock()
	p := c.master
	c.mu.Unlock()
	c.waitFor(90*time.Second, fmt.Sprintf("%d active agents", n), p, func() bool {
		var s struct {
			Slaves []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
		}
		if c.getJSON("/master/slaves", &s) != nil {
			return false
		}
		active := 0
		for _, a := range s.Slaves {
			if a.Active {
				active++
			}
		}
		return active >= n
	})
}

func (c *Cluster) waitFor(timeout time.Duration, what string, p *proc, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		procs := []*proc{p}
		for _, a := range c.Agents {
			procs = append(procs, a.proc)
		}
		for i, a := range c.Agents {
			// The Docker containerizer's recovery inspects every host
			// container named mesos-*; one that another test removes in
			// between fails the agent's start. Start it again.
			if a.proc != nil && a.proc.exited() && a.restarts < 3 && strings.Contains(tail(a.proc.log, 40), "Docker ps batch failed") {
				a.restarts++
				c.StartAgent(i)
				procs[1+i] = a.proc
			}
		}
		for _, p := range procs {
			if p != nil && p.exited() {
				c.t.Fatalf("mesostest: %s exited while waiting for %s:\n%s", p.name, what, tail(p.log, 40))
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("mesostest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getJSON GETs a master endpoint and decodes its JSON body into v.
func (c *Cluster) getJSON(path string, v any) error {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(c.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// GetJSON GETs a master endpoint (e.g. /state) into v, failing the test
// on error.
func (c *Cluster) GetJSON(path string, v any) {
	c.t.Helper()
	if err := c.getJSON(path, v); err != nil {
		c.t.Fatalf("mesostest: %v", err)
	}
}

// MasterLog returns what the master wrote to stderr (glog) so far.
func (c *Cluster) MasterLog() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "master.log"))
	return string(b)
}

// AgentLog returns what agent i wrote so far (all its runs).
func (c *Cluster) AgentLog(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("agent%d.log", i)))
	return string(b)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
