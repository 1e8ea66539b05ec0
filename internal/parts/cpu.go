package parts

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// CPUFlags returns the feature flags the kernel advertises for this CPU in
// /proc/cpuinfo ("avx2", "sha_ni", "avx512f", ...). The kernel lists a
// feature only when the CPU has it and the OS enabled it, so a flag listed
// here that Go's own CPUID detection (golang.org/x/sys/cpu) does not see
// points at a detection bug, not at a CPU without the feature.
func CPUFlags() (map[string]bool, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("parts: CPU flags are read from /proc/cpuinfo, which %s does not have", runtime.GOOS)
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil, err
	}
	return parseCPUFlags(b), nil
}

// parseCPUFlags reads the first processor's "flags" (x86) or "Features"
// (arm64) line.
func parseCPUFlags(b []byte) map[string]bool {
	flags := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if k = strings.TrimSpace(k); k != "flags" && k != "Features" {
			continue
		}
		for _, f := range strings.Fields(v) {
			flags[f] = true
		}
		break
	}
	return flags
}
