package pool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/chain"
	"github.com/hashfleet/hashfleet/internal/job"
)

// fixedJobs is a JobSource with one job and job's own pure share checks.
type fixedJobs struct {
	j   *job.Job
	en1 atomic.Uint32
}

func newFixedJobs(tb testing.TB) *fixedJobs {
	target, _ := btc.CompactToTarget(0x1e00ffff)
	tpl := &chain.Template{Version: 0x20000000, Bits: 0x1e00ffff, CurTime: 1_700_000_000, MinTime: 1_699_999_000,
		Height: 500, CoinbaseValueSats: 50_0000_0000, Target: target}
	j, err := job.NewJob("1", tpl, job.BuildParams{PayoutScript: append([]byte{0, 20}, make([]byte, 20)...), Extranonce1Size: 4, Extranonce2Size: 8}, true, time.Unix(1_700_000_000, 0))
	if err != nil {
		tb.Fatal(err)
	}
	return &fixedJobs{j: j}
}

func (f *fixedJobs) Subscribe() (<-chan *job.Job, func()) { return make(chan *job.Job), func() {} }
func (f *fixedJobs) Current() *job.Job                    { return f.j } // nil j: no job yet
func (f *fixedJobs) NewExtranonce1() []byte {
	return binary.BigEndian.AppendUint32(nil, f.en1.Add(1))
}

// Extranonce2Size is the job's (8 before there is one, like job.Manager).
func (f *fixedJobs) Extranonce2Size() int {
	if f.j == nil {
		return 8
	}
	return f.j.Extranonce2Size
}

// SubscribeBlocks: a fixed job source settles no blocks (the stream has
// ended: there is no Run).
func (f *fixedJobs) SubscribeBlocks() (<-chan job.Block, func()) {
	ch := make(chan job.Block)
	close(ch)
	return ch, func() {}
}

// Blocks: a fixed job source records no blocks.
func (f *fixedJobs) Blocks() []job.BlockRecord { return nil }

func (f *fixedJobs) Submit(_ context.Context, sh job.Share) (job.Result, error) {
	var j *job.Job
	if sh.JobID == f.j.ID {
		j = f.j
	}
	v := job.Check(j, false, &sh, uint32(time.Now().Unix()))
	if v.Reject != nil {
		return job.Result{}, v.Reject
	}
	if rej := job.CheckTarget(&v.Hash, &sh.Target); rej != nil {
		return job.Result{Hash: v.Hash}, rej
	}
	return job.Result{Hash: v.Hash}, nil
}

// FuzzSessionLines feeds arbitrary client bytes to one session over a pipe:
// the server must answer only valid JSON lines and end the connection
// cleanly, never panic or hang.
func FuzzSessionLines(f *testing.F) {
	seeds := []string{
		`{"id":1,"method":"mining.subscribe","params":["x"]}` + "\n" + `{"id":2,"method":"mining.authorize","params":["w","p"]}` + "\n" +
			`{"id":3,"method":"mining.submit","params":["w","1","0000000000000000","6553f100","00000000"]}` + "\n",
		`{"id":1,"method":"mining.configure","params":[["version-rolling","minimum-difficulty"],{"version-rolling.mask":"ffffffff","minimum-difficulty.value":"0.5"}]}` + "\n",
		`{"id":1,"method":"mining.suggest_difficulty","params":["1e-300"]}` + "\n",
		`{"id":"abc","method":"mining.submit","params":[1,2,3,4,5,6,7]}` + "\n",
		`{"id":null,"method":"mining.subscribe","params":{}}` + "\n",
		"\x00\xff\n\r\n{}\n[]\nnull\n",
		`{"id":1,"result":"pong","error":null}` + "\n",
		`{"id":1,"method":"client.nothing"}` + "\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	jobs := newFixedJobs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0") // only for New; never served
		defer ln.Close()
		s, err := New(Config{Jobs: jobs, Listener: ln, MinDiff: 1e-12, HandshakeTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second, MaxMsgRate: 1e6, MsgBurst: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		s.publish(jobs.j)
		server, client := net.Pipe()
		done := serveConn(s, server)
		read := make(chan error, 1)
		go func() {
			r := bufio.NewReaderSize(client, 1<<16)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					read <- nil
					return
				}
				if !json.Valid(bytes.TrimSpace(line)) {
					read <- &json.SyntaxError{}
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Write([]byte("\n"))
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("session did not end after the client closed")
		}
		if err := <-read; err != nil {
			t.Fatalf("server sent a line that is not JSON")
		}
	})
}
