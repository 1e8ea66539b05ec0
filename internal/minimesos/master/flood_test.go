package master

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// TestSubscribeFlood reproduces the issue #14 attack: one host sends
// SUBSCRIBE after SUBSCRIBE (keeping half of the streams open, dropping the
// others with a week of failover_timeout so that they stay registered).
// Only MaxFrameworksPerAddr of them are registered, the rest are refused
// with an ERROR event, and an honest framework from another address still
// subscribes and gets offers. (Like Mesos, this master has no offer
// timeout: a framework that sits on its offers keeps those agents.)
func TestSubscribeFlood(t *testing.T) {
	const flood, perAddr = 600, 4
	c := startCluster(t, Config{MaxFrameworks: 100, MaxFrameworksPerAddr: perAddr})
	subscribed, refused := 0, 0
	for i := range flood {
		fi := fwInfo("flood")
		fi.FailoverTimeout = 7 * 24 * 3600
		s := c.subscribeRaw(fi)
		ev := <-s.events
		switch ev.Type {
		case mesos.EventSubscribed:
			subscribed++
		case mesos.EventError:
			refused++
			s.waitClosed()
		default:
			t.Fatalf("flood %d: got %s, want SUBSCRIBED or ERROR", i, ev.Type)
		}
		if i%2 == 1 {
			s.resp.Body.Close()
		}
	}
	if subscribed != perAddr || refused != flood-perAddr {
		t.Fatalf("flood: %d subscribed, %d refused; want %d and %d", subscribed, refused, perAddr, flood-perAddr)
	}
	if n := len(c.state()["frameworks"].([]any)); n != perAddr {
		t.Errorf("/state: %d frameworks, want %d", n, perAddr)
	}

	// An honest framework on another address.
	honest := *c
	honest.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		return d.DialContext(ctx, network, addr)
	}}}
	s := honest.subscribe(fwInfo("honest"))
	// One agent for each flood stream kept open, and one more. The
	// flood's connected frameworks sit on an agent each (they never
	// decline); offers go by share (DRF), so the last agent is ours. Had
	// the flood not been capped, it would hold every agent.
	for range perAddr/2 + 1 {
		c.addAgent("cpus:2;mem:1024")
	}
	if os := s.nextSkipping(mesos.EventOffers).Offers.Offers; len(os) == 0 {
		t.Fatal("honest framework: empty OFFERS")
	}
}
