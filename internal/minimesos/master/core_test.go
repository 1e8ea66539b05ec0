package master

import (
	"math"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// coreHarness drives the pure core with explicit time: no goroutines, no
// network, no clock.
type coreHarness struct {
	t    *testing.T
	c    *core
	now  time.Time
	conn connID
}

func newCoreHarness(t *testing.T) *coreHarness {
	now := time.Unix(1_700_000_000, 0)
	return &coreHarness{t: t, c: newCore(mesos.MasterInfo{ID: "m"}, time.Second, now), now: now}
}

func (h *coreHarness) res(s string) resources {
	r, err := parseResources(mustRes(h.t, s))
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *coreHarness) subscribe(fi mesos.FrameworkInfo) (*framework, []mesos.Offer) {
	h.conn++
	call := mesos.Subscribe(fi)
	h.c.subscribe(h.now, h.conn, "", &call)
	f := h.c.byConn[h.conn]
	return f, offersOf(h.c.take())
}

// advance moves time forward by d and returns the offers made by tick.
func (h *coreHarness) advance(d time.Duration) []mesos.Offer {
	h.now = h.now.Add(d)
	h.c.tick(h.now)
	return offersOf(h.c.take())
}

func (h *coreHarness) call(f *framework, c mesos.Call) []mesos.Offer {
	h.t.Helper()
	if r := h.c.call(h.now, &c, f.streamID, true); r.code != 202 {
		h.t.Fatalf("%s: got %d %s", c.Type, r.code, r.body)
	}
	return offersOf(h.c.take())
}

func offersOf(o output) []mesos.Offer {
	var out []mesos.Offer
	for _, s := range o.sends {
		if s.ev.Type == mesos.EventOffers {
			out = append(out, s.ev.Offers.Offers...)
		}
	}
	return out
}

func onAgent(os []mesos.Offer, agent string) *mesos.Offer {
	for i := range os {
		if os[i].AgentID.Value == agent {
			return &os[i]
		}
	}
	return nil
}

func secs(f float64) *mesos.Filters { return &mesos.Filters{RefuseSeconds: &f} }

// TestDeclineFilters covers §2.3: the refuse_seconds default and limits,
// and that a filter is per agent.
func TestDeclineFilters(t *testing.T) {
	tests := []struct {
		name      string
		filters   *mesos.Filters
		reOfferAt time.Duration // first allocation that offers the agent again
	}{
		{name: "default 5s", filters: nil, reOfferAt: 5 * time.Second},
		{name: "zero means no filter", filters: secs(0), reOfferAt: time.Second},
		{name: "10s", filters: secs(10), reOfferAt: 10 * time.Second},
		{name: "2.5s rounds up to the next allocation", filters: secs(2.5), reOfferAt: 3 * time.Second},
		{name: "below the allocation interval", filters: secs(0.2), reOfferAt: time.Second},
		{name: "negative means default", filters: secs(-3), reOfferAt: 5 * time.Second},
		{name: "NaN means default", filters: secs(math.NaN()), reOfferAt: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newCoreHarness(t)
			a1 := h.c.addAgent(h.now, "h1", h.res("cpus:2;mem:1024"))
			a2 := h.c.addAgent(h.now, "h2", h.res("cpus:2;mem:1024"))
			f, os := h.subscribe(fwInfo("fw"))
			if len(os) != 2 {
				t.Fatalf("initial offers: got %d, want 2", len(os))
			}
			// Decline agent 1 with the filter under test; keep agent 2's offer.
			h.call(f, mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.FrameworkID{Value: f.id},
				Decline: &mesos.CallDeclineBody{OfferIDs: []mesos.OfferID{onAgent(os, a1).ID}, Filters: tt.filters}})
			var got time.Duration
			for el := time.Duration(0); el < time.Minute; el += time.Second {
				if os := h.advance(time.Second); onAgent(os, a1) != nil {
					got = el + time.Second
					break
				}
			}
			if got != tt.reOfferAt {
				t.Errorf("agent 1 re-offered after %v, want %v", got, tt.reOfferAt)
			}
			_ = a2
		})
	}
}

// TestFilterCapAndPerAgent: filters are capped at 365 days and only hide
// the declined agent from the declining framework.
func TestFilterCapAndPerAgent(t *testing.T) {
	h := newCoreHarness(t)
	a1 := h.c.addAgent(h.now, "h1", h.res("cpus:2;mem:1024"))
	f, os := h.subscribe(fwInfo("fw"))
	h.call(f, mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.FrameworkID{Value: f.id},
		Decline: &mesos.CallDeclineBody{OfferIDs: offerIDs(os), Filters: secs(1e12)}})
	rs := h.c.filters[filterKey{fw: f.id, role: "*", agent: a1}]
	if len(rs) != 1 || rs[0].until.Sub(h.now) != maxRefuse {
		t.Fatalf("filter: got %+v, want one lasting 365 days", rs)
	}
	// Another framework gets the declined agent at the next allocation.
	g, gos := h.subscribe(fwInfo("other"))
	if len(gos) != 1 || gos[0].AgentID.Value != a1 {
		t.Fatalf("other framework offers: got %v", gos)
	}
	// A new agent is offered to the filtered framework once g holds a1.
	h.c.addAgent(h.now, "h2", h.res("cpus:1;mem:512"))
	out := h.c.take()
	if o := offersOf(out); len(o) != 1 || o[0].FrameworkID.Value != f.id {
		t.Errorf("offer of the new agent: got %+v, want one to %s (fewest allocated cpus)", o, f.id)
	}
	_ = g
}

// TestFilterSubset: a filter hides only subsets of the refused resources;
// once more resources become free the agent is offered again.
func TestFilterSubset(t *testing.T) {
	h := newCoreHarness(t)
	a := h.c.addAgent(h.now, "h1", h.res("cpus:2;mem:1024"))
	f, os := h.subscribe(fwInfo("fw"))
	fid := mesos.FrameworkID{Value: f.id}
	task := cmdTask("t1", mesos.AgentID{Value: a}, "cpus:1;mem:512", t)
	// Launch with a 1 h filter on the leftover {cpus:1, mem:512}.
	h.call(f, mesos.Launch(fid, offerIDs(os), []mesos.TaskInfo{task}, time.Hour))
	if os := h.advance(time.Second); len(os) != 0 {
		t.Fatalf("leftover offered despite filter: %v", os)
	}
	// The task finishes: {cpus:2, mem:1024} is not a subset of the filter.
	h.c.statusUpdate(h.now, f.id, mesos.TaskStatus{TaskID: task.TaskID, State: mesos.TaskFinished,
		AgentID: &mesos.AgentID{Value: a}, UUID: make([]byte, 16)}, mesos.TaskFinished)
	h.c.take()
	os = h.advance(time.Second)
	if len(os) != 1 || mesos.SumScalar(os[0].Resources, "cpus") != 2 {
		t.Fatalf("offers after the task ended: got %v, want all 2 cpus", os)
	}
}

// TestResources covers the fixed-point and range arithmetic.
func TestResources(t *testing.T) {
	h := newCoreHarness(t)
	tests := []struct {
		name     string
		a, b     string
		contains bool
		sub      string
	}{
		{name: "scalars", a: "cpus:2;mem:1024", b: "cpus:0.1;mem:32", contains: true, sub: "cpus:1.9; mem:992"},
		{name: "fixed point", a: "cpus:0.3", b: "cpus:0.1", contains: true, sub: "cpus:0.2"},
		{name: "too much", a: "cpus:1", b: "cpus:1.001", contains: false},
		{name: "missing resource", a: "cpus:1", b: "mem:1", contains: false},
		{name: "port split", a: "ports:[31000-32000]", b: "ports:[31005-31005]", contains: true, sub: "ports:[31000-31004, 31006-32000]"},
		{name: "port edge", a: "ports:[31000-31001]", b: "ports:[31000-31001]", contains: true, sub: ""},
		{name: "port outside", a: "ports:[31000-31001]", b: "ports:[31001-31002]", contains: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := h.res(tt.a), h.res(tt.b)
			if got := a.contains(b); got != tt.contains {
				t.Fatalf("contains: got %v, want %v", got, tt.contains)
			}
			if tt.contains {
				if got := a.sub(b).String(); got != tt.sub {
					t.Errorf("sub: got %q, want %q", got, tt.sub)
				}
				if got := a.sub(b).add(b); !got.contains(a) || !a.contains(got) {
					t.Errorf("sub then add: got %v, want %v", got, a)
				}
			}
		})
	}
}

// TestValidateResource checks the scalar rule of Resources::validate on
// values a script cannot carry (the test client rounds to 3 decimals).
func TestValidateResource(t *testing.T) {
	scalar := func(v float64) mesos.Resource {
		return mesos.Resource{Name: "cpus", Type: mesos.ScalarType, Scalar: &mesos.ValueScalar{Value: v}}
	}
	for _, tt := range []struct {
		r    mesos.Resource
		want string // "" = valid
	}{
		{scalar(1), ""},
		{scalar(0), ""}, // zero is allowed (an empty resource)
		{scalar(0.0005), ""},
		{scalar(9e15), ""},
		{scalar(0.0004), "Resource 'cpus:0' is invalid: Invalid scalar resource: value <= 0"},
		{scalar(-0.5), "Resource 'cpus:-0.5' is invalid: Invalid scalar resource: value <= 0"},
		{scalar(1e16), "Resource 'cpus:-9.22337203685478e+15' is invalid: Invalid scalar resource: value <= 0"},
		{scalar(math.Inf(1)), "Resource 'cpus:-9.22337203685478e+15' is invalid: Invalid scalar resource: value <= 0"},
		{scalar(math.NaN()), "Resource 'cpus:-9.22337203685478e+15' is invalid: Invalid scalar resource: value <= 0"},
		{mesos.Resource{Name: "cpus", Type: mesos.ScalarType}, "Resource 'cpus' is invalid: Invalid scalar resource"},
		{mesos.Resource{Type: mesos.ScalarType, Scalar: &mesos.ValueScalar{Value: 1}}, "Resource ':1' is invalid: Empty resource name"},
		{mesos.Resource{Name: "x", Type: "TEXT"}, "Resource 'x' is invalid: Invalid resource type"},
	} {
		err := validateResource(tt.r)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.r, got, tt.want)
		}
		if _, perr := parseResources([]mesos.Resource{tt.r}); (perr == nil) != (tt.want == "") {
			t.Errorf("%+v: parseResources error %v, validateResource %q", tt.r, perr, tt.want)
		}
	}
}

// TestValidateHealthCheck checks the rules of Mesos's
// common/validation.cpp validateHealthCheck, with its messages.
func TestValidateHealthCheck(t *testing.T) {
	sh, noShell, neg, cmd := "exit 0", false, -1.0, "true"
	for _, tt := range []struct {
		name string
		h    mesos.HealthCheck
		want string
	}{
		{"no type", mesos.HealthCheck{}, "HealthCheck must specify 'type'"},
		{"UNKNOWN type", mesos.HealthCheck{Type: "UNKNOWN"}, "'UNKNOWN' is not a valid health check type"},
		{"command missing", mesos.HealthCheck{Type: mesos.HealthCommand}, "Expecting 'command' to be set for COMMAND health check"},
		{"command without value", mesos.HealthCheck{Type: mesos.HealthCommand, Command: &mesos.CommandInfo{}},
			"Command health check must contain 'shell command'"},
		{"executable without value", mesos.HealthCheck{Type: mesos.HealthCommand, Command: &mesos.CommandInfo{Shell: &noShell}},
			"Command health check must contain 'executable path'"},
		{"command env without value", mesos.HealthCheck{Type: mesos.HealthCommand, Command: &mesos.CommandInfo{Value: &sh,
			Environment: &mesos.Environment{Variables: []mesos.EnvVariable{{Name: "X"}}}}},
			"Health check's `CommandInfo` is invalid: Environment variable 'X' of type 'VALUE' must have a value set"},
		{"command ok", mesos.HealthCheck{Type: mesos.HealthCommand, Command: &mesos.CommandInfo{Value: &cmd}}, ""},
		{"http missing", mesos.HealthCheck{Type: mesos.HealthHTTP}, "Expecting 'http' to be set for HTTP health check"},
		{"http scheme", mesos.HealthCheck{Type: mesos.HealthHTTP, HTTP: &mesos.HTTPCheckInfo{Port: 80, Scheme: "ftp"}},
			"Unsupported HTTP health check scheme: 'ftp'"},
		{"http path", mesos.HealthCheck{Type: mesos.HealthHTTP, HTTP: &mesos.HTTPCheckInfo{Port: 80, Path: "health"}},
			"The path 'health' of HTTP health check must start with '/'"},
		{"http ok", mesos.HealthCheck{Type: mesos.HealthHTTP, HTTP: &mesos.HTTPCheckInfo{Port: 80, Path: "/health"}}, ""},
		{"tcp missing", mesos.HealthCheck{Type: mesos.HealthTCP}, "Expecting 'tcp' to be set for TCP health check"},
		{"negative delay", mesos.HealthCheck{Type: mesos.HealthTCP, TCP: &mesos.TCPCheckInfo{Port: 1}, DelaySeconds: &neg, TimeoutSeconds: &neg},
			"Expecting 'delay_seconds' to be non-negative"},
		{"negative grace before interval", mesos.HealthCheck{Type: mesos.HealthTCP, TCP: &mesos.TCPCheckInfo{Port: 1}, IntervalSeconds: &neg, GracePeriodSeconds: &neg},
			"Expecting 'grace_period_seconds' to be non-negative"},
		{"negative timeout", mesos.HealthCheck{Type: mesos.HealthTCP, TCP: &mesos.TCPCheckInfo{Port: 1}, TimeoutSeconds: &neg},
			"Expecting 'timeout_seconds' to be non-negative"},
	} {
		got := ""
		if err := validateHealthCheck(&tt.h); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
