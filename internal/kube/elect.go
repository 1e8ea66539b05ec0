package kube

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// elect runs lead only while this replica holds the coordination.k8s.io
// Lease. It returns nil when ctx ends, and an error when the Lease is
// lost (the API server was unreachable past RenewDeadline, or another
// replica took it): the process exits and its Deployment restarts it,
// and the new leader starts from the cluster's state.
func (c *Controller) elect(ctx context.Context) error {
	lock := notingLock{note: c.noteErr, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: c.cfg.LeaseName, Namespace: c.cfg.Namespace},
		Client:     c.cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.cfg.Identity, EventRecorder: c.rec},
	}}
	leading := make(chan context.Context, 1) // the Lease's context, once acquired
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: c.cfg.LeaseName, ReleaseOnCancel: true,
		LeaseDuration: c.cfg.LeaseDuration, RenewDeadline: c.cfg.RenewDeadline, RetryPeriod: c.cfg.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				leading <- lctx
			},
			OnStoppedLeading: func() { c.setLeader("") },
			OnNewLeader: func(id string) {
				c.log.Info("kube: leader", "lease", c.cfg.LeaseName, "identity", id)
				c.setLeader(id)
			},
		},
	})
	if err != nil {
		return fmt.Errorf("kube: leader election: %w", err)
	}
	c.log.Info("kube: waiting for the leader Lease", "lease", c.cfg.LeaseName, "identity", c.cfg.Identity)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		le.Run(ctx) // returns once it no longer holds the Lease, after cancelling lctx
	}()
	select {
	case lctx := <-leading:
		c.log.Info("kube: leading", "lease", c.cfg.LeaseName, "identity", c.cfg.Identity)
		err := c.lead(lctx)
		<-ran
		if err != nil {
			return err
		}
	case <-ran:
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("kube: lost the leader Lease " + c.cfg.LeaseName + "; exiting so that the Deployment restarts this replica")
}

// notingLock records the failures of the Lease calls in the status. They
// are the controller's one steady contact with the API server (every
// RetryPeriod, leading or not; the informers retry a refused watch
// quietly), so an outage longer than RetryPeriod is always recorded. Not
// found, conflict and already-exists are how the election works, not
// failures.
type notingLock struct {
	resourcelock.Interface
	note func(call string, err error)
}

func (l notingLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r, raw, err := l.Interface.Get(ctx)
	l.check("lease get", err)
	return r, raw, err
}

func (l notingLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, r)
	l.check("lease create", err)
	return err
}

func (l notingLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, r)
	l.check("lease update", err)
	return err
}

func (l notingLock) check(call string, err error) {
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
		l.note(call, err)
	}
}
