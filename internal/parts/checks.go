package parts

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Environment variables that point the checks elsewhere.
const (
	EnvBtcd         = "HASHFLEET_BTCD"          // a prebuilt btcd binary
	EnvZooKeeperJar = "HASHFLEET_ZOOKEEPER_JAR" // ZooKeeper's jar
	EnvMesosHome    = "HASHFLEET_MESOS_HOME"    // the folder holding run-cluster.sh
)

// ZooKeeperJar is where Debian's zookeeper package installs the server.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

var all = []*Part{
	{Name: Btcd, About: "real regtest node: chain, job, pool and node tests compare against it",
		Finds:   "$" + EnvBtcd + ", else built once from the module cache (`go build github.com/btcsuite/btcd`, pinned by go.mod's tool directive)",
		Install: "nothing beyond Go: `go mod download` (needs the module proxy once)",
		CI:      "required; .ci/run builds it", check: checkBtcd},
	{Name: ZooKeeper, About: "leader election of the scheduler (internal/mesos, internal/scheduler, cmd/hashfleet)",
		Finds:   "`java` in PATH and $" + EnvZooKeeperJar + " or " + ZooKeeperJar,
		Install: "apt-get install -y zookeeper",
		CI:      "required; .ci/run installs it", check: checkZooKeeper},
	{Name: Chromium, About: "headless browser for the dashboard tests",
		Finds:   "`chromium`, `chromium-browser` or `google-chrome` in PATH",
		Install: "apt-get install -y chromium",
		CI:      "required; .ci/run installs it", check: checkChromium},
	{Name: Docker, About: "Docker containerizer of the embedded agent, the image, the demo on Docker",
		Finds:   "`docker` in PATH and an engine answering `docker version` (DOCKER_HOST or /var/run/docker.sock); a socket whose engine does not answer is BROKEN",
		Install: "apt-get install -y docker.io (then start dockerd; non-root users need the docker group)",
		CI:      "required; the CI machine has an engine", check: checkDocker},
	{Name: Compose, About: "deploy/compose.yaml (cmd/hashfleet TestDocker/compose)",
		Finds:   "`docker compose version` (v2 plugin), else `docker-compose version` (v1)",
		Install: "apt-get install -y docker-compose (v1) or docker-compose-plugin (v2, Docker's apt repository)",
		CI:      "required; .ci/run installs Debian's docker-compose when neither answers", check: checkCompose},
	{Name: Mesos, About: "real Apache Mesos master and agents, to check the framework against the real thing",
		Finds:   "run-cluster.sh in $" + EnvMesosHome + ", else <repo>/shared/mesos, else <repo>/../shared/mesos",
		Install: "the prebuilt archive the project ships beside the repository (shared/mesos: mesos.tar.xz, run-cluster.sh, README.md with the run-time apt packages)",
		CI:      "required; .ci/run checks that mesos-master starts (../shared/mesos beside the checkout)", check: checkMesos},
	{Name: QemuUser, About: "running the arm64 build of the worker on this amd64 machine",
		Finds:   "`qemu-aarch64-static` or `qemu-aarch64` in PATH",
		Install: "apt-get install -y qemu-user-static",
		CI:      "required; .ci/run tests the arm64 sha256d kernels under it", check: checkQemu},
	{Name: Kube, About: "real Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd) for the Kubernetes backend's tests (internal/kube/kubetest)",
		Finds:   "kube-apiserver and kube-controller-manager in $" + EnvKubeBin + ", else ~/.cache/hashfleet/kube/" + KubeVersion + "; etcd from $" + EnvEtcd + ", else PATH, else /usr/bin/etcd",
		Install: "tools/kube/build.sh (builds Kubernetes " + KubeVersion + " from the module proxy, 12-40 min the first time) and apt-get install -y etcd-server",
		CI:      "required; .ci/run installs etcd-server and runs tools/kube/build.sh (cached by version)", check: checkKube},
	{Name: Kubelet, About: "a real node for the Kubernetes tests (kubetest Options.Kubelet): kubelet and kube-scheduler, a private containerd, runc and the CNI bridge, so Pods really run",
		Finds:   "kubelet and kube-scheduler beside kube-apiserver; `containerd`, `ctr` and `runc` in PATH; the CNI plugins in $" + EnvCNIBin + ", else /usr/lib/cni, else /opt/cni/bin; root",
		Install: "tools/kube/build.sh and apt-get install -y containerd runc containernetworking-plugins (as root)",
		CI:      "required; .ci/run installs them", check: checkKubelet},
}

// run runs a command with a bound and returns its trimmed combined output.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	// Generous: a probe that answers slowly on a loaded machine is still
	// there (docker-compose v1 takes seconds to start in Python).
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		if s != "" {
			return s, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, firstLine(s))
		}
		return s, fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return s, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// lookPath returns the first of names found in PATH.
func lookPath(names ...string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no go tool in PATH or GOROOT")
	}
	return p, nil
}

func checkBtcd(ctx context.Context) Status {
	if p := os.Getenv(EnvBtcd); p != "" {
		if _, err := os.Stat(p); err != nil {
			return Status{State: Broken, Detail: fmt.Sprintf("%s=%s: %v", EnvBtcd, p, err)}
		}
		v, _ := run(ctx, nil, p, "--version")
		return Status{State: Present, Path: p, Version: firstLine(v)}
	}
	goBin, err := goTool()
	if err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	root, err := ModuleRoot()
	if err != nil {
		return Status{State: Absent, Detail: "btcd is built from the module cache: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Version}}|{{.Dir}}", "github.com/btcsuite/btcd")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return Status{State: Absent, Detail: fmt.Sprintf("go list -m github.com/btcsuite/btcd: %v", err)}
	}
	v, dir, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	if dir == "" {
		return Status{State: Absent, Detail: "github.com/btcsuite/btcd " + v + " is not in the module cache: run `go mod download`"}
	}
	return Status{State: Present, Path: "go build github.com/btcsuite/btcd (" + dir + ")", Version: v}
}

func checkZooKeeper(ctx context.Context) Status {
	jar := ZooKeeperJar
	if j := os.Getenv(EnvZooKeeperJar); j != "" {
		jar = j
	}
	_, ok := lookPath("java")
	if _, err := os.Stat(jar); err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	if !ok {
		return Status{State: Broken, Path: jar, Detail: jar + " is there but no `java` in PATH (apt-get install -y default-jre-headless)"}
	}
	return Status{State: Present, Path: jar, Version: jarVersion(jar)}
}

// jarVersion reads Implementation-Version from a jar's manifest, else the
// version in the name the jar links to.
func jarVersion(jar string) string {
	if z, err := zip.OpenReader(jar); err == nil {
		defer z.Close()
		for _, f := range z.File {
			if f.Name != "META-INF/MANIFEST.MF" {
				continue
			}
			r, err := f.Open()
			if err != nil {
				break
			}
			defer r.Close()
			sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "Implementation-Version:"); ok {
					return strings.TrimSpace(v)
				}
			}
		}
	}
	if real, err := filepath.EvalSymlinks(jar); err == nil && real != jar {
		return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(real), "zookeeper-"), ".jar")
	}
	return ""
}

func checkChromium(ctx context.Context) Status {
	p, ok := lookPath("chromium", "chromium-browser", "google-chrome")
	if !ok {
		return Status{State: Absent, Detail: "no chromium, chromium-browser or google-chrome in PATH"}
	}
	v, err := run(ctx, nil, p, "--version")
	if err != nil {
		return Status{State: Broken, Path: p, Detail: err.Error()}
	}
	return Status{State: Present, Path: p, Version: browserVersion(v)}
}

// browserVersion picks the version line from a browser's --version output.
// Debian's /usr/bin/chromium is a shell script whose own warnings ("[:
// unexpected operator") can come first on some shells; the version is the
// line that names the browser.
func browserVersion(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Chromium") || strings.Contains(line, "Chrome") {
			return strings.TrimSpace(line)
		}
	}
	return firstLine(out)
}

// dockerSocket reports where an engine is expected, or "" when none is.
func dockerSocket() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	if fi, err := os.Stat("/var/run/docker.sock"); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "/var/run/docker.sock"
	}
	return ""
}

func checkDocker(ctx context.Context) Status {
	sock := dockerSocket()
	p, ok := lookPath("docker")
	if !ok {
		if sock != "" {
			return Status{State: Broken, Detail: "an engine socket is at " + sock + " but there is no `docker` CLI in PATH"}
		}
		return Status{State: Absent, Detail: "no `docker` CLI in PATH and no engine socket"}
	}
	v, err := run(ctx, nil, p, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		if sock == "" {
			return Status{State: Absent, Path: p, Detail: "docker CLI but no engine (no DOCKER_HOST, no /var/run/docker.sock)"}
		}
		return Status{State: Broken, Path: p, Detail: fmt.Sprintf("engine at %s does not answer: %v", sock, err)}
	}
	return Status{State: Present, Path: p, Version: "engine " + firstLine(v)}
}

func checkCompose(ctx context.Context) Status {
	if p, ok := lookPath("docker"); ok {
		if v, err := run(ctx, nil, p, "compose", "version", "--short"); err == nil {
			return Status{State: Present, Path: p + " compose", Version: firstLine(v), Command: []string{p, "compose"}}
		}
	}
	p, ok := lookPath("docker-compose")
	if !ok {
		return Status{State: Absent, Detail: "neither `docker compose` nor `docker-compose` answers"}
	}
	v, err := run(ctx, nil, p, "version", "--short")
	if err != nil {
		return Status{State: Broken, Path: p, Detail: err.Error()}
	}
	return Status{State: Present, Path: p, Version: firstLine(v), Command: []string{p}}
}

// MesosHome returns the folder holding the real Mesos (run-cluster.sh and
// mesos.tar.xz or sbin/): $HASHFLEET_MESOS_HOME, else <repo>/shared/mesos,
// else <repo>/../shared/mesos.
func MesosHome() (string, error) {
	if h := os.Getenv(EnvMesosHome); h != "" {
		return h, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cands := []string{filepath.Join(root, "shared", "mesos"), filepath.Join(filepath.Dir(root), "shared", "mesos")}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "run-cluster.sh")); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("no run-cluster.sh in %s", strings.Join(cands, " or "))
}

func checkMesos(ctx context.Context) Status {
	home, err := MesosHome()
	if err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	script := filepath.Join(home, "run-cluster.sh")
	if _, err := os.Stat(script); err != nil {
		return Status{State: Absent, Detail: err.Error()}
	}
	prefix := mesosPrefix(home)
	if prefix == "" {
		return Status{State: Present, Path: home, Version: "packed in mesos.tar.xz, unpacked on first use"}
	}
	master := filepath.Join(prefix, "sbin", "mesos-master")
	v, err := run(ctx, []string{"LD_LIBRARY_PATH=" + filepath.Join(prefix, "lib")}, master, "--version")
	if err != nil {
		return Status{State: Broken, Path: prefix, Detail: err.Error() + " (run-time packages: see " + filepath.Join(home, "README.md") + ")"}
	}
	return Status{State: Present, Path: prefix, Version: firstLine(v)}
}

// mesosPrefix returns where the binaries are already unpacked (the same
// place run-cluster.sh's "prefix" uses), or "" if they are not yet.
func mesosPrefix(home string) string {
	if _, err := os.Stat(filepath.Join(home, "sbin", "mesos-master")); err == nil {
		return home
	}
	f, err := os.Open(filepath.Join(home, "mesos.tar.xz"))
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	cache := os.Getenv("HASHFLEET_MESOS_CACHE")
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "hashfleet-mesos")
	}
	dir := filepath.Join(cache, hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "sbin", "mesos-master")); err != nil {
		return ""
	}
	return dir
}

func checkQemu(ctx context.Context) Status {
	p, ok := lookPath("qemu-aarch64-static", "qemu-aarch64")
	if !ok {
		return Status{State: Absent, Detail: "no qemu-aarch64-static or qemu-aarch64 in PATH"}
	}
	v, err := run(ctx, nil, p, "--version")
	if err != nil {
		return Status{State: Broken, Path: p, Detail: err.Error()}
	}
	return Status{State: Present, Path: p, Version: firstLine(v)}
}

func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	return ""
}
