package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// Pool is the production pool (job.Manager and pool.Server, unchanged) on
// a Chain, for scale runs: `hashfleet loadgen serve` runs one in its own
// process so the measured process holds only the pool's sessions.
type Pool struct {
	Chain  *Chain
	Server *pool.Server
	done   chan error
}

// StartPool starts a pool with cfg (Jobs is filled in) on a new Chain and
// returns once it has its first job. It runs until ctx ends; Wait returns
// its error.
func StartPool(ctx context.Context, cfg pool.Config) (*Pool, error) {
	ch := NewChain()
	jobs, err := job.New(job.Config{Source: ch, Submitter: ch, PayoutScript: payoutScript,
		Tag: []byte("/hashfleet-loadgen/"), PollInterval: time.Second, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	cfg.Jobs = jobs
	srv, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pool{Chain: ch, Server: srv, done: make(chan error, 2)}
	go func() { p.done <- jobs.Run(ctx) }()
	go func() { p.done <- srv.Run(ctx) }()
	for srv.Ready() != nil {
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("loadgen: pool stopped before its first job: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return p, nil
}

// Wait waits for the pool and its job manager to stop (after ctx ends) and
// returns the first error that is not the cancellation.
func (p *Pool) Wait() error {
	var first error
	for range 2 {
		if err := <-p.done; err != nil && !errors.Is(err, context.Canceled) && first == nil {
			first = err
		}
	}
	return first
}

// payoutScript is a P2WPKH script to nobody: no block is ever found.
var payoutScript = append([]byte{0x00, 0x14}, make([]byte, 20)...)

// Memory is a process's memory as a scale run reads it.
type Memory struct {
	RSS        int64 `json:"rss_bytes"`         // VmRSS from /proc/self/status
	HeapInuse  int64 `json:"heap_inuse_bytes"`  // runtime.MemStats
	StackInuse int64 `json:"stack_inuse_bytes"` // runtime.MemStats
	Goroutines int   `json:"goroutines"`
}

// ReadMemory reads this process's memory after a garbage collection.
func ReadMemory() (Memory, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := Memory{HeapInuse: int64(ms.HeapInuse), StackInuse: int64(ms.StackInuse), Goroutines: runtime.NumGoroutine()}
	rss, err := readRSS("/proc/self/status")
	m.RSS = rss
	return m, err
}

func readRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmRSS %q: %v", path, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// Handler serves the run's controls, for loopback only: POST /tip moves
// the chain's tip, GET /memory returns ReadMemory as JSON.
func (p *Pool) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tip", func(w http.ResponseWriter, r *http.Request) {
		p.Chain.Advance(r.Context())
		fmt.Fprintf(w, "%d\n", p.Chain.Height())
	})
	mux.HandleFunc("GET /memory", func(w http.ResponseWriter, r *http.Request) {
		m, err := ReadMemory()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m)
	})
	return mux
}
