// Package porttest hands tests TCP ports that no other test, test package
// or relaunch of a test is using at the same time.
//
// Ports from the kernel (listen on 127.0.0.1:0) are the first choice; use
// this package only where a port must be chosen before anything listens on
// it (a Mesos agent's offered port range, a port given to a child process
// or to Docker). Blocks come from Low–High, below Linux's ephemeral range
// (32768–60999, where the kernel picks outgoing and :0 ports) and below the
// demo's default agent range 31000–31999, so nothing but an explicit bind
// can take them. A block is reserved across processes by a byte-range lock
// on one shared file (released when the test ends or its process dies), and
// every port in it is probed with a real bind before it is handed out.
package porttest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// The range blocks are taken from, and the block size.
const (
	Low       = 20000
	High      = 30999
	BlockSize = 50
	nBlocks   = (High - Low + 1) / BlockSize
)

var (
	mu       sync.Mutex
	lockFile *os.File     // held open for the process's life: POSIX locks die with any close
	held     map[int]bool // blocks this process holds (POSIX locks do not conflict within a process)

	// firstBlock is where the search starts: random, so that concurrent
	// processes rarely contend for the same lock.
	firstBlock = func() int { return rand.IntN(nBlocks) }
)

// Block reserves n (1..BlockSize) consecutive ports, each free when probed,
// for the rest of t, and returns the first.
func Block(t testing.TB, n int) int {
	t.Helper()
	base, err := reserve(n)
	if err != nil {
		t.Fatalf("porttest: %v", err)
	}
	t.Cleanup(func() { release(base) })
	return base
}

// Addr reserves one port and returns "127.0.0.1:port".
func Addr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", Block(t, 1))
}

// Port reserves one port and returns it.
func Port(t testing.TB) int {
	t.Helper()
	return Block(t, 1)
}

func reserve(n int) (int, error) {
	if n < 1 || n > BlockSize {
		return 0, fmt.Errorf("block of %d ports: want 1..%d", n, BlockSize)
	}
	mu.Lock()
	defer mu.Unlock()
	if lockFile == nil {
		f, err := os.OpenFile(lockPath(), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return 0, err
		}
		lockFile, held = f, map[int]bool{}
	}
	start := firstBlock()
	for i := range nBlocks {
		b := (start + i) % nBlocks
		if held[b] || !lockBlock(b, syscall.F_WRLCK) {
			continue
		}
		base := Low + b*BlockSize
		if !probe(base, BlockSize) {
			lockBlock(b, syscall.F_UNLCK)
			continue
		}
		held[b] = true
		return base, nil
	}
	return 0, fmt.Errorf("no free block of %d ports in %d-%d", BlockSize, Low, High)
}

// lockPath is the one file every process locks blocks in: in /tmp, not
// $TMPDIR, which tests change (t.Setenv, a child's environment) and which
// would split the processes into groups that do not see each other's locks.
func lockPath() string {
	if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
		return "/tmp/hashfleet-test-ports.lock"
	}
	return filepath.Join(os.TempDir(), "hashfleet-test-ports.lock")
}

func release(base int) {
	mu.Lock()
	defer mu.Unlock()
	b := (base - Low) / BlockSize
	delete(held, b)
	lockBlock(b, syscall.F_UNLCK)
}

// lockBlock sets (F_WRLCK, without waiting) or clears (F_UNLCK) the lock
// on byte b of the shared file.
func lockBlock(b int, typ int16) bool {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: int64(b), Len: 1}
	return syscall.FcntlFlock(lockFile.Fd(), syscall.F_SETLK, &lk) == nil
}

// probe binds every port of [base, base+n) on all addresses, then lets go.
func probe(base, n int) bool {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return false
		}
		lns = append(lns, ln)
	}
	return true
}
