package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/loadgen"
	"github.com/hashfleet/hashfleet/internal/pool"
)

// startPool runs the real pool on a Chain, listening on ln (TCP or a
// MemListener).
func startPool(t *testing.T, ln net.Listener) *loadgen.Pool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := loadgen.StartPool(ctx, pool.Config{Listener: ln, MinDiff: 1e-9})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := p.Wait(); err != nil {
			t.Errorf("pool: %v", err)
		}
	})
	return p
}

// TestRunOverTCP: sessions from several loopback source addresses all come
// up, the submitters' shares are all accepted, every session reads every
// tip's clean notify, and the load itself mines nothing.
func TestRunOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startPool(t, ln)
	dial, err := loadgen.SourceDialer(ln.Addr().String(), 4)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, p, dial, 300)
}

// TestRunInMemory is the same over MemListener: no file descriptors.
func TestRunInMemory(t *testing.T) {
	ln := loadgen.NewMemListener()
	p := startPool(t, ln)
	checkRun(t, p, ln.Dial, 300)
}

func checkRun(t *testing.T, p *loadgen.Pool, dial func(context.Context, int) (net.Conn, error), sessions int) {
	t.Helper()
	const tips, submitters = 2, 40
	height := p.Chain.Height()
	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		Sessions: sessions, Submitters: submitters, ShareInterval: 300 * time.Millisecond,
		Hold: 4 * time.Second, Tips: tips, Tip: p.Chain.Advance, Dial: dial,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	if rep.Up != sessions {
		t.Errorf("%d of %d sessions up", rep.Up, sessions)
	}
	// A share in flight when a tip's clean notify goes out is stale: at
	// most one per submitter and tip. No other rejection is honest.
	if rep.SharesAccepted == 0 || rep.SharesRejected > int64(submitters*tips) {
		t.Errorf("shares: %d accepted, %d rejected; want some accepted, at most %d stale", rep.SharesAccepted, rep.SharesRejected, submitters*tips)
	}
	if answered := rep.SharesAccepted + rep.SharesRejected; rep.ShareLatency.N != int(answered) {
		t.Errorf("share latencies: %d, want one per answered share (%d)", rep.ShareLatency.N, answered)
	}
	if len(rep.Tips) != tips {
		t.Fatalf("%d tips reported, want %d", len(rep.Tips), tips)
	}
	for i, tip := range rep.Tips {
		if tip.Sessions != sessions {
			t.Errorf("tip %d read by %d sessions, want %d", i+1, tip.Sessions, sessions)
		}
	}
	for e, c := range rep.Errors {
		// Closing the sessions at the end is not an error the report shows.
		if !strings.Contains(e, "stale job") {
			t.Errorf("error reported: %d× %s", c, e)
		}
	}
	if got := p.Chain.Height(); got != height+tips || p.Chain.Blocks() != 0 {
		t.Errorf("height %d → %d, %d blocks submitted; want exactly the %d tips made, no block from the load", height, got, p.Chain.Blocks(), tips)
	}
	if !strings.Contains(text.String(), "accepted") {
		t.Errorf("text report lacks the share line:\n%s", text.String())
	}
}

func TestConfigRejectsNonsense(t *testing.T) {
	dial := func(context.Context, int) (net.Conn, error) { return nil, errors.New("unused") }
	for _, cfg := range []loadgen.Config{
		{Sessions: 0, Dial: dial},
		{Sessions: 10, Submitters: 11, Dial: dial},
		{Sessions: 10},
		{Sessions: 10, Tips: 1, Dial: dial},
		{Sessions: 10, Difficulty: -1, Dial: dial},
		{Sessions: 10, ConnectRate: -1, Dial: dial},
	} {
		if _, err := loadgen.Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted", cfg)
		}
	}
	if _, err := loadgen.SourceDialer("127.0.0.1:1", 0); err == nil {
		t.Error("SourceDialer with 0 sources accepted")
	}
}

func TestNotifyPrevHash(t *testing.T) {
	prev := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		line string
		want string
		ok   bool
	}{
		{`{"id":null,"method":"mining.notify","params":["6a","` + prev + `","01","02",[],"20000000","1d00ffff","5f5e1000",true]}`, prev, true},
		{`{"id":null,"method":"mining.set_difficulty","params":[1e-7]}`, "", false},
		{`{"id":null,"method":"mining.notify","params":["6a","short",true]}`, "", false},
		{`{"id":null,"method":"mining.notify","params":[]}`, "", false},
	} {
		got, ok := loadgen.NotifyPrevHash([]byte(tc.line))
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("%.60s: got %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
