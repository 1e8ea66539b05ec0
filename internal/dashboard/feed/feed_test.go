package feed

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/minimesos"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// TestAgentsFromRealMaster reads a real embedded master's /master/state
// through the shared mesos.MasterState type.
func TestAgentsFromRealMaster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := minimesos.New(minimesos.Config{Agents: 2, Resources: "cpus:3;mem:1024;ports:[31000-31009]",
		Containerizer: "process", WorkDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Cluster.Run: %v", err)
		}
	}()
	select {
	case <-c.Ready():
	case <-ctx.Done():
		t.Fatal("cluster not ready")
	}
	src := New(nil, "http://"+ln.Addr().String()+"/", nil)
	agents, err := src.agents(ctx, src.masterBase(""))
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 2 {
		t.Fatalf("got %d agents, want 2", len(agents))
	}
	for _, a := range agents {
		if want := "cpus:3 mem:1024 ports:[31000-31009]"; a.Resources != want || !a.Active || a.Used != "" {
			t.Errorf("agent %s: got resources %q used %q active %v, want %q, none used, active", a.ID, a.Resources, a.Used, a.Active, want)
		}
	}
}

func TestMasterBase(t *testing.T) {
	tests := []struct {
		name, configured, endpoint, want string
	}{
		{name: "configured", configured: "http://m:5050/", endpoint: "http://other:5050/api/v1/scheduler", want: "http://m:5050"},
		{name: "subscribed", endpoint: "https://leader:5050/api/v1/scheduler", want: "https://leader:5050"},
		{name: "not subscribed", endpoint: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(nil, tt.configured, nil).masterBase(tt.endpoint); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResString(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{name: "all", in: map[string]any{"cpus": 2.5, "mem": 4096.0, "disk": 0.0, "ports": "[31000-32000]", "gpus": 1.0}, want: "cpus:2.5 mem:4096 ports:[31000-32000]"},
		{name: "nothing used", in: map[string]any{"cpus": 0.0, "mem": 0.0, "ports": "[]"}, want: ""},
		{name: "nil", in: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resString(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPoolViewSkipsGoneWorkers(t *testing.T) {
	ps := pool.Stats{StratumAddr: "10.0.0.1:3333", Connections: 1, SharesAccepted: 7, Workers: []pool.WorkerStats{
		{Name: "live", Connections: 1, HashrateHs: 5, Difficulty: 0.5},
		{Name: "gone", Difficulty: 8},
	}}
	p, ws := poolView(ps, "")
	if len(ws) != 1 || ws[0].Name != "live" {
		t.Fatalf("workers: got %+v, want only live", ws)
	}
	if p.Address != "10.0.0.1:3333" || p.Difficulty != 0.5 || p.Accepted != 7 {
		t.Errorf("pool: got address %q difficulty %g accepted %d, want the stratum address, 0.5, 7", p.Address, p.Difficulty, p.Accepted)
	}
}
