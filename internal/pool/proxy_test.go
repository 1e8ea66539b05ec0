package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/chain/chaintest"
	"github.com/hashfleet/hashfleet/internal/job"
	"github.com/hashfleet/hashfleet/internal/miner"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// TestProxyMode runs the pool in front of an upstream Stratum pool (a
// loopback fake): the real miner mines through it, and shares meeting the
// upstream difficulty arrive upstream, accepted.
func TestProxyMode(t *testing.T) {
	upJob := chaintest.TestJob(t, "up1", 800_000, 0x1d00ffff, 3, 4, 8, true)
	fp := chaintest.NewFakePool(t, upJob, 1e-6, 8, 0x1fffe000)
	up, err := chain.NewUpstream(chain.UpstreamConfig{URL: "stratum+tcp://" + fp.Addr, User: "proxy-user", VersionMask: 0x1fffe000, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := job.ProxyConfig{Upstream: up, Logger: testLogger(t).With("component", "job")}
	h := startHarness(t, harnessOpts{proxy: &pcfg, cfg: pool.Config{InitialDiff: 1e-5, MinDiff: 1e-7}})

	c := dial(t, h.addr)
	c.handshake("local")
	if want := h.jobs.Current().Extranonce2Size; c.en2Size != want || want <= 0 || want >= 8 {
		t.Errorf("extranonce2 size announced: got %d, want the job's %d (a share of upstream's 8)", c.en2Size, want)
	}

	m, err := miner.New(miner.Config{
		Pools:   []miner.Pool{{URL: "stratum+tcp://" + h.addr, User: "rig"}},
		Threads: 1, Quiet: true, Logger: testLogger(t).With("component", "miner"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, time.Minute, "3 shares accepted upstream", func() bool {
		n := 0
		for _, s := range fp.Submits() {
			if s.Accepted {
				n++
			}
		}
		return n >= 3
	})
	if ws := workerStats(h.pool.Stats(), "rig"); ws == nil || ws.Accepted < 3 {
		t.Errorf("local worker stats: got %+v, want ≥3 accepted", ws)
	}
}
