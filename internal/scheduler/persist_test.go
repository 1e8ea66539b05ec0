package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/scheduler"
)

// flakyStore is a FileStore that fails every Save while broken is set.
type flakyStore struct {
	scheduler.Store
	broken atomic.Bool
	fails  atomic.Int64
}

func (f *flakyStore) Save(ctx context.Context, p scheduler.Persisted) error {
	if f.broken.Load() {
		f.fails.Add(1)
		return errors.New("disk full (test)")
	}
	return f.Store.Save(ctx, p)
}

// callLog records the type of every call the master receives.
type callLog struct {
	mu    sync.Mutex
	calls []mesos.CallType
}

func (l *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var c mesos.Call
		if json.Unmarshal(b, &c) == nil {
			l.mu.Lock()
			l.calls = append(l.calls, c.Type)
			l.mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
}

func (l *callLog) count(t mesos.CallType, from int) (n, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls[min(from, len(l.calls)):] {
		if c == t {
			n++
		}
	}
	return n, len(l.calls)
}

// TestClusterNoAckOrLaunchWithoutPersistence: while the store cannot
// save, status updates are not acknowledged (the agent keeps resending
// them) and nothing is launched; once it can, everything converges.
func TestClusterNoAckOrLaunchWithoutPersistence(t *testing.T) {
	log := &callLog{}
	c := newCluster(t, 1, "cpus:4;mem:2048", log.wrap)
	dir := t.TempDir()
	fs, err := scheduler.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStore{Store: fs}
	cfg := c.config(t, dir)
	cfg.Store = store
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	r := start(t, cfg)
	st := waitFor(t, r.s, 30*time.Second, "server and 3 workers", steady(3))
	old := st.Server.ID

	store.broken.Store(true)
	_, mark := log.count(mesos.CallAcknowledge, 0)
	failed0 := updatesOf(t, reg, mesos.TaskFailed)
	httpGet(fmt.Sprintf("http://127.0.0.1:%d/exit", st.Server.Ports[1]))
	// Barrier: the server's TASK_FAILED arrives three times (sent, then
	// resent twice by the agent because it was not acknowledged). The
	// scheduler handles events one at a time, so an ACK or a launch it
	// made for the first two would have been sent by then.
	waitFor(t, r.s, 30*time.Second, "the agent to resend the unacknowledged TASK_FAILED twice", func(scheduler.Status) bool {
		return updatesOf(t, reg, mesos.TaskFailed)-failed0 >= 3
	})
	acks, _ := log.count(mesos.CallAcknowledge, mark)
	accepts, _ := log.count(mesos.CallAccept, mark)
	if acks != 0 || accepts != 0 {
		t.Fatalf("with a failing store: %d ACKNOWLEDGE and %d ACCEPT calls, want none", acks, accepts)
	}
	if store.fails.Load() == 0 {
		t.Fatal("the scheduler never tried to save")
	}
	if st := r.s.Status(); st.LastError == "" {
		t.Fatal("no error reported in Status while the store fails")
	}

	store.broken.Store(false)
	waitFor(t, r.s, 30*time.Second, "recovery: a new server with 3 workers", func(st scheduler.Status) bool {
		return st.Server != nil && st.Server.ID != old && steady(3)(st)
	})
	if acks, _ := log.count(mesos.CallAcknowledge, mark); acks == 0 {
		t.Fatal("no acknowledgements after the store recovered")
	}
}

// updatesOf reads hashfleet_scheduler_status_updates_total for state.
func updatesOf(t *testing.T, reg *prometheus.Registry, state mesos.TaskState) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hashfleet_scheduler_status_updates_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == string(state) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
