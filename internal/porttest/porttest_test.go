package porttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func bindable(t *testing.T, base, n int) {
	t.Helper()
	for p := base; p < base+n; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d of a reserved block: %v", p, err)
		}
		ln.Close()
	}
}

func TestBlocksAreDisjointAndFree(t *testing.T) {
	a, b := Block(t, BlockSize), Block(t, 3)
	if a == b || a < Low || b < Low || a+BlockSize-1 > High || b+BlockSize-1 > High {
		t.Fatalf("blocks %d and %d: want two different blocks inside %d-%d", a, b, Low, High)
	}
	if a >= 32768 || b >= 32768 {
		t.Fatalf("blocks %d, %d inside the ephemeral range", a, b)
	}
	bindable(t, a, BlockSize)
	bindable(t, b, 3)
}

// TestBusyPortSkipsBlock: a block one of whose ports is in use is not handed out.
func TestBusyPortSkipsBlock(t *testing.T) {
	first := Block(t, 1) // a block known free; hold it, then free it with one port busy
	release(first)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+BlockSize-1))
	if err == nil { // else another process took it meanwhile: busy all the same
		defer ln.Close()
	}
	old := firstBlock
	firstBlock = func() int { return (first - Low) / BlockSize }
	defer func() { firstBlock = old }()
	if got := Block(t, 1); got == first {
		t.Fatalf("got block %d although its port %d is in use", got, first+BlockSize-1)
	}
}

// TestOtherProcessGetsAnotherBlock: a second process starting its search
// at the block this one holds must skip it (the cross-process lock).
func TestOtherProcessGetsAnotherBlock(t *testing.T) {
	if s := os.Getenv("PORTTEST_CHILD_START"); s != "" {
		b, _ := strconv.Atoi(s)
		firstBlock = func() int { return b }
		fmt.Printf("BASE=%d\n", Block(t, 1))
		return
	}
	mine := Block(t, 1)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOtherProcessGetsAnotherBlock$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORTTEST_CHILD_START=%d", (mine-Low)/BlockSize))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, rest, ok := strings.Cut(string(out), "BASE=")
	if !ok {
		t.Fatalf("child printed no block:\n%s", out)
	}
	theirs, _ := strconv.Atoi(strings.Fields(rest)[0])
	if theirs == mine {
		t.Fatalf("child process got block %d, which this process holds", theirs)
	}
}

// TestLockFileIgnoresTMPDIR: a process whose $TMPDIR differs still locks
// in the shared file, so it sees the other processes' blocks.
func TestLockFileIgnoresTMPDIR(t *testing.T) {
	before := lockPath()
	t.Setenv("TMPDIR", t.TempDir())
	if got := lockPath(); got != before {
		t.Fatalf("lock file moved with $TMPDIR: %s, was %s", got, before)
	}
}
