package main

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerMultiArch: `deploy/docker/build.sh --all TAG` builds TAG-amd64
// and TAG-arm64 from one command, each marked with its architecture and
// holding a static binary for it.
func TestDockerMultiArch(t *testing.T) {
	needDocker(t)
	tag := fmt.Sprintf("hashfleet-test:%d-%s", os.Getpid(), randomHex(3))
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for arch := range want {
		t.Cleanup(func() { docker(t, "image", "rm", "-f", tag+"-"+arch) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(root, "deploy/docker/build.sh"), "--all", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/docker/build.sh --all: %v\n%s", err, out)
	}
	for arch, machine := range want {
		img := tag + "-" + arch
		if got := strings.TrimSpace(mustDocker(t, "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", img)); got != "linux/"+arch {
			t.Errorf("%s: platform %s, want linux/%s", img, got, arch)
		}
		id := strings.TrimSpace(mustDocker(t, "create", img))
		bin := filepath.Join(t.TempDir(), "hashfleet")
		mustDocker(t, "cp", id+":/hashfleet", bin)
		mustDocker(t, "rm", id)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s: /hashfleet: %v", img, err)
		}
		if f.Machine != machine || f.Type != elf.ET_EXEC {
			t.Errorf("%s: /hashfleet is %v %v, want a static %v executable", img, f.Machine, f.Type, machine)
		}
		f.Close()
	}
}
