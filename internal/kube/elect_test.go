package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// failingLock answers every call with err.
type failingLock struct {
	resourcelock.Interface
	err error
}

func (l failingLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	return nil, nil, l.err
}
func (l failingLock) Create(context.Context, resourcelock.LeaderElectionRecord) error { return l.err }
func (l failingLock) Update(context.Context, resourcelock.LeaderElectionRecord) error { return l.err }

// TestLeaseErrorsRecorded: the Lease calls are the controller's heartbeat
// to the API server (every RetryPeriod), so their failures are what
// records an outage in the status; the answers of a working API server
// that the election expects (no Lease yet, a lost race) are not errors.
func TestLeaseErrorsRecorded(t *testing.T) {
	ctx := context.Background()
	gr := schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" when nothing is recorded
	}{
		{"unreachable", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), "lease get: dial tcp"},
		{"forbidden", apierrors.NewForbidden(gr, "hashfleet", errors.New("no RBAC")), "lease get: leases.coordination.k8s.io \"hashfleet\" is forbidden"},
		{"no lease yet", apierrors.NewNotFound(gr, "hashfleet"), ""},
		{"lost race", apierrors.NewConflict(gr, "hashfleet", errors.New("changed")), ""},
		{"already created", apierrors.NewAlreadyExists(gr, "hashfleet"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{m: newMetrics(nil)}
			l := notingLock{Interface: failingLock{err: tc.err}, note: c.noteErr}
			if _, _, err := l.Get(ctx); err != tc.err {
				t.Fatalf("Get: %v, want the lock's own error", err)
			}
			got := c.Status().LastError
			if tc.want == "" {
				if got != "" {
					t.Fatalf("recorded %q, want nothing", got)
				}
				return
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("recorded %q, want %q…", got, tc.want)
			}
			l.Update(ctx, resourcelock.LeaderElectionRecord{})
			if got := c.Status().LastError; !strings.HasPrefix(got, "lease update: ") {
				t.Fatalf("after Update: %q", got)
			}
			l.Create(ctx, resourcelock.LeaderElectionRecord{})
			if got := c.Status().LastError; !strings.HasPrefix(got, "lease create: ") {
				t.Fatalf("after Create: %q", got)
			}
		})
	}
}
