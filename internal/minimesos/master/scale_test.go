package master

// The master's cost against the number of agents (issue #18): each
// benchmark reports its cost per agent, which stays flat from 1,000 to
// 10,000 agents when the work is linear.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

var scaleSizes = []int{1000, 10000}

// scaleCore returns a core with n agents of 4 cpus and, when subscribed, a
// connected framework that declined nothing yet.
func scaleCore(tb testing.TB, n int, subscribed bool) (*core, *framework, time.Time) {
	now := time.Unix(1_700_000_000, 0)
	c := newCore(mesos.MasterInfo{ID: "m"}, time.Second, now)
	var f *framework
	if subscribed {
		call := mesos.Subscribe(fwInfo("fw"))
		c.subscribe(now, 1, "", &call)
		f = c.byConn[1]
	}
	res, err := parseResources([]mesos.Resource{mesos.ScalarResource("cpus", 4), mesos.ScalarResource("mem", 8192)})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		c.addAgent(now, fmt.Sprintf("h%d", i), res)
	}
	c.take()
	return c, f, now
}

// forSizes runs bench for each size in scaleSizes, reporting the time per
// agent when perAgent is set.
func forSizes(b *testing.B, perAgent bool, bench func(b *testing.B, n int)) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			bench(b, n)
			if perAgent {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/agent")
			}
		})
	}
}

// BenchmarkRegisterAgents registers n agents with a framework subscribed:
// each registration offers the new agent alone (it was a whole allocation
// round over every agent: 9 ms per agent at 10,000 agents, 90 s in all).
func BenchmarkRegisterAgents(b *testing.B) {
	forSizes(b, true, func(b *testing.B, n int) {
		for range b.N {
			c, _, _ := scaleCore(b, n, true)
			if len(c.offers) != n {
				b.Fatalf("%d offers for %d agents", len(c.offers), n)
			}
		}
	})
}

// BenchmarkAllocationRound: one batch allocation offering every agent,
// the offers then declined without a filter.
func BenchmarkAllocationRound(b *testing.B) {
	forSizes(b, true, func(b *testing.B, n int) {
		c, f, now := scaleCore(b, n, true)
		c.discardOffers(f, false)
		b.ResetTimer()
		for range b.N {
			c.allocate(now)
			if len(c.offers) != n {
				b.Fatalf("%d offers for %d agents", len(c.offers), n)
			}
			c.take()
			c.discardOffers(f, false)
		}
	})
}

// BenchmarkAllocateSuppressed: the batch allocation with the only
// framework suppressed looks at no agent (ns/op flat in the agents; it
// was 12 ms a round at 10,000 agents, every allocation interval).
func BenchmarkAllocateSuppressed(b *testing.B) {
	forSizes(b, false, func(b *testing.B, n int) {
		c, f, now := scaleCore(b, n, true)
		c.discardOffers(f, false)
		f.suppressed["*"] = true
		b.ResetTimer()
		for range b.N {
			c.allocate(now)
		}
		if len(c.offers) != 0 {
			b.Fatalf("%d offers to a suppressed framework", len(c.offers))
		}
	})
}

// TestAddAgentOffersOnlyItself: registering an agent offers that agent,
// not the others, whose resources wait for the batch allocation.
func TestAddAgentOffersOnlyItself(t *testing.T) {
	h := newCoreHarness(t)
	a1 := h.c.addAgent(h.now, "h1", h.res("cpus:2;mem:1024"))
	f, os := h.subscribe(fwInfo("fw"))
	if len(os) != 1 || os[0].AgentID.Value != a1 {
		t.Fatalf("offers at subscription: got %v, want one of %s", os, a1)
	}
	// Declined with a 1 s filter, which has expired once time moves on.
	h.call(f, mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.FrameworkID{Value: f.id},
		Decline: &mesos.CallDeclineBody{OfferIDs: offerIDs(os), Filters: secs(1)}})
	h.now = h.now.Add(1500 * time.Millisecond)
	a2 := h.c.addAgent(h.now, "h2", h.res("cpus:1;mem:512"))
	if os := offersOf(h.c.take()); len(os) != 1 || os[0].AgentID.Value != a2 {
		t.Fatalf("offers at registration: got %v, want one of the new agent %s", os, a2)
	}
	// The batch allocation offers the first agent again.
	if os := h.advance(0); len(os) != 1 || os[0].AgentID.Value != a1 {
		t.Fatalf("offers at the next allocation: got %v, want one of %s", os, a1)
	}
}

// TestOffersSplitIntoEvents: a round's offers to a framework come in
// OFFERS events of at most maxOffersPerEvent, each within the 4 MiB
// RecordIO frame a client reads (10,000 offers in one event were ~6 MB:
// the scheduler's subscription failed on every reconnection).
func TestOffersSplitIntoEvents(t *testing.T) {
	n := 2*maxOffersPerEvent + 1
	c, _, _ := scaleCore(t, n, false)
	call := mesos.Subscribe(fwInfo("fw"))
	c.subscribe(time.Unix(1_700_000_000, 0), 1, "", &call)
	var sizes []int
	offers := 0
	for _, s := range c.take().sends {
		if s.ev.Type != mesos.EventOffers {
			continue
		}
		var buf bytes.Buffer
		if err := mesos.NewEncoder(&buf).Encode(s.ev); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, buf.Len())
		offers += len(s.ev.Offers.Offers)
		if len(s.ev.Offers.Offers) > maxOffersPerEvent || buf.Len() > mesos.DefaultMaxFrameSize {
			t.Errorf("an OFFERS event of %d offers, %d bytes", len(s.ev.Offers.Offers), buf.Len())
		}
	}
	t.Logf("OFFERS events of %v bytes", sizes)
	if len(sizes) != 3 || offers != n {
		t.Errorf("%d offers in %d OFFERS events (%v bytes), want %d in 3", offers, len(sizes), sizes, n)
	}
}

// BenchmarkTickDeclined: a tick with every agent declined for an hour
// walks no filter (ns/op flat in the agents; the walk and a map write per
// filter were 0.4 s of CPU in the 10,000-agent fleet run).
func BenchmarkTickDeclined(b *testing.B) {
	forSizes(b, false, func(b *testing.B, n int) {
		c, f, now := scaleCore(b, n, true)
		ids := make([]mesos.OfferID, 0, n)
		for id := range f.offers {
			ids = append(ids, mesos.OfferID{Value: id})
		}
		call := mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.FrameworkID{Value: f.id},
			Decline: &mesos.CallDeclineBody{OfferIDs: ids, Filters: secs(3600)}}
		c.call(now, &call, f.streamID, true)
		f.suppressed["*"] = true // the allocation's own cost is BenchmarkAllocateSuppressed's
		b.ResetTimer()
		for i := range b.N {
			c.tick(now.Add(time.Duration(i) * time.Millisecond))
		}
		if len(c.filters) != n {
			b.Fatalf("%d filters for %d declined agents", len(c.filters), n)
		}
	})
}

// TestFiltersExpire: a refusal is forgotten once it ends, the earliest
// first, and a later one stays until its own end.
func TestFiltersExpire(t *testing.T) {
	h := newCoreHarness(t)
	a1 := h.c.addAgent(h.now, "h1", h.res("cpus:2;mem:1024"))
	a2 := h.c.addAgent(h.now, "h2", h.res("cpus:2;mem:1024"))
	f, os := h.subscribe(fwInfo("fw"))
	decline := func(agent string, s float64) {
		h.call(f, mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.FrameworkID{Value: f.id},
			Decline: &mesos.CallDeclineBody{OfferIDs: []mesos.OfferID{onAgent(os, agent).ID}, Filters: secs(s)}})
	}
	decline(a2, 10)
	decline(a1, 3)
	h.call(f, mesos.Call{Type: mesos.CallSuppress, FrameworkID: &mesos.FrameworkID{Value: f.id}})
	for _, step := range []struct {
		after time.Duration
		want  []string
	}{{2 * time.Second, []string{a1, a2}}, {2 * time.Second, []string{a2}}, {7 * time.Second, nil}} {
		h.advance(step.after)
		var got []string
		for _, a := range []string{a1, a2} {
			if len(h.c.filters[filterKey{fw: f.id, role: "*", agent: a}]) > 0 {
				got = append(got, a)
			}
		}
		if !slices.Equal(got, step.want) || len(h.c.filters) != len(step.want) {
			t.Fatalf("after %v more: filters on %v (%d keys), want %v", step.after, got, len(h.c.filters), step.want)
		}
	}
}
