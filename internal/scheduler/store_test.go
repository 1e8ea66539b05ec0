package scheduler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/zktest"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

func storeRoundTrip(t *testing.T, st scheduler.Store) {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := st.Load(ctx); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	s := scheduler.NewState(scheduler.PolicyConfig{})
	s.NoteLaunch("hashfleet-server-1", scheduler.LaunchSpec{Role: scheduler.RoleServer, CPUs: 1, Mem: 256, Ports: []uint64{31000, 31001}},
		mesos.Offer{AgentID: mesos.AgentID{Value: "a"}, Hostname: "h"}, time.Unix(1000, 0))
	s.ServerFailures = 3
	if err := st.Save(ctx, scheduler.Persisted{FrameworkID: "fw-1", State: s, SavedAt: time.Unix(2000, 0)}); err != nil {
		t.Fatal(err)
	}
	s.ServerFailures = 4 // overwrite
	if err := st.Save(ctx, scheduler.Persisted{FrameworkID: "fw-1", State: s, SavedAt: time.Unix(2001, 0)}); err != nil {
		t.Fatal(err)
	}
	p, ok, err := st.Load(ctx)
	if err != nil || !ok {
		t.Fatalf("load: ok=%v err=%v", ok, err)
	}
	got := p.State.Tasks["hashfleet-server-1"]
	if p.FrameworkID != "fw-1" || got == nil || got.Ports[1] != 31001 || p.State.CurrentServer != "hashfleet-server-1" || p.State.ServerFailures != 4 {
		t.Fatalf("loaded %+v (server %+v)", p, got)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.Load(ctx); ok || err != nil {
		t.Fatalf("after clear: ok=%v err=%v", ok, err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatalf("clear twice: %v", err)
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	fs, err := scheduler.NewFileStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	storeRoundTrip(t, fs)

	// A corrupt file is an error, not silently an empty state.
	if err := os.WriteFile(fs.Path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.Load(context.Background()); err == nil {
		t.Fatal("corrupt state file loaded without error")
	}
}

func TestZKStoreRealZooKeeper(t *testing.T) {
	addr := zktest.Start(t)
	zs, err := scheduler.NewZKStore("zk://"+addr+"/hashfleet/scheduler", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zs.Close()
	storeRoundTrip(t, zs)
}
