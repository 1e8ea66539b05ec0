package pool

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/job"
)

// TestExtranonce2SizeChange: a session told one extranonce2 size and then
// given a job with another (proxy mode, before the first upstream job or
// after the upstream changed it) gets mining.set_extranonce if it asked
// for extranonce changes, else client.reconnect and is closed.
func TestExtranonce2SizeChange(t *testing.T) {
	target, _ := btc.CompactToTarget(0x1e00ffff)
	tpl := &chain.Template{Version: 0x20000000, Bits: 0x1e00ffff, CurTime: 1_700_000_000, Height: 9, CoinbaseValueSats: 1, Target: target}
	j4, err := job.NewJob("p1", tpl, job.BuildParams{PayoutScript: []byte{0x51}, Extranonce1Size: 4, Extranonce2Size: 4}, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		extranonce bool
		wantLines  []string // substrings of the lines after the handshake, in order
		wantClosed bool
	}{
		{name: "extranonce.subscribe", extranonce: true, wantLines: []string{"mining.set_extranonce", "mining.notify"}},
		{name: "plain client", wantLines: []string{"client.reconnect"}, wantClosed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs := &fixedJobs{} // no job yet: subscribe announces the configured size 8
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			s, err := New(Config{Jobs: jobs, Listener: ln})
			if err != nil {
				t.Fatal(err)
			}
			server, client := net.Pipe()
			defer client.Close()
			done := serveConn(s, server)
			r := bufio.NewReader(client)
			client.SetDeadline(time.Now().Add(5 * time.Second))
			hello := `{"id":1,"method":"mining.subscribe","params":[]}` + "\n" + `{"id":2,"method":"mining.authorize","params":["w",""]}` + "\n"
			if tc.extranonce {
				hello += `{"id":3,"method":"mining.extranonce.subscribe","params":[]}` + "\n"
			}
			go client.Write([]byte(hello))
			want := 3 // subscribe, authorize, set_difficulty
			if tc.extranonce {
				want++
			}
			for i := range want {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("handshake line %d: %v", i, err)
				}
				if i == 0 && !strings.Contains(line, `,8]`) {
					t.Errorf("subscribe reply: got %s, want extranonce2 size 8", line)
				}
			}
			s.publish(j4)
			for _, w := range tc.wantLines {
				line, err := r.ReadString('\n')
				if err != nil || !strings.Contains(line, w) {
					t.Fatalf("got line %q (err %v), want one with %s", line, err, w)
				}
				if w == "mining.set_extranonce" && !strings.Contains(line, ",4]") {
					t.Errorf("set_extranonce: got %s, want size 4", line)
				}
			}
			if tc.wantClosed {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatalf("connection not closed after client.reconnect")
				}
			}
		})
	}
}

// serveConn serves nc on s as the accept loop would (without its limits);
// done is closed once the connection has finished.
func serveConn(s *Server, nc net.Conn) (done <-chan struct{}) {
	c := newConn(s, nc)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.live.Add(1)
	s.mu.Unlock()
	c.begin()
	ch := make(chan struct{})
	go func() { s.live.Wait(); close(ch) }()
	return ch
}
