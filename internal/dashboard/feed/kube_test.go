package feed

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/hashfleet/hashfleet/internal/kube"
)

// TestKubeSnapshot: the dashboard's view of the Kubernetes backend shows
// the fleet's pods as tasks and the namespace as the cluster.
func TestKubeSnapshot(t *testing.T) {
	c, err := kube.New(kube.Config{Client: fake.NewClientset(), Namespace: "mining", Image: "hashfleet:test",
		NodeRPC: "http://node:18443", Payout: "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv", Resync: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	src := NewKube(c, nil)
	deadline := time.Now().Add(time.Minute)
	for {
		snap, err := src.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Cluster.Tasks) == 1 {
			task := snap.Cluster.Tasks[0]
			if task.ID != "hashfleet-server" || task.Role != "server" || task.State != "Pending" || snap.Cluster.Master != "kubernetes namespace mining" {
				t.Errorf("snapshot cluster %+v, want the pending server pod in namespace mining", snap.Cluster)
			}
			if snap.Server.Address != "" {
				t.Errorf("pool panel %+v for a server that is not Ready", snap.Server)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(errors.New("no server task in the snapshot"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
