package stratum

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func sampleNotify(branch int) Notify {
	n := Notify{
		JobID:   "1a",
		Coinb1:  bytes.Repeat([]byte{0x01}, 42),
		Coinb2:  bytes.Repeat([]byte{0xfe}, 60),
		Version: 0x20000000, NBits: 0x207fffff, NTime: 0x6553f100,
		Clean: true,
	}
	for i := range n.PrevHash {
		n.PrevHash[i] = byte(i)
	}
	n.Branch = make([][32]byte, branch)
	for i := range n.Branch {
		n.Branch[i][0], n.Branch[i][31] = byte(i), 0xaa
	}
	return n
}

// genericNotifyLine is the reference: the notification through encoding/json.
func genericNotifyLine(t testing.TB, n Notify) []byte {
	t.Helper()
	req, err := NewNotification(MethodNotify, n)
	if err != nil {
		t.Fatal(err)
	}
	line, err := Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func decodeNotifyLine(t testing.TB, line []byte) Notify {
	t.Helper()
	m, err := ParseMessage(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	if m.Kind() != KindNotification || m.Method != MethodNotify {
		t.Fatalf("got %v %q, want a mining.notify notification", m.Kind(), m.Method)
	}
	var got Notify
	if err := m.Request().Decode(&got); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	return got
}

func TestNotifyBodyAppendLine(t *testing.T) {
	tests := []struct {
		name   string
		n      Notify
		jobIDs []string
	}{
		{name: "no branch", n: sampleNotify(0), jobIDs: []string{"1", "ffffffffffffffff"}},
		{name: "twelve branch hashes", n: sampleNotify(12), jobIDs: []string{"2b"}},
		{name: "job ids needing JSON escapes", n: sampleNotify(1), jobIDs: []string{`a"b`, `back\slash`, "tab\there", "<tag>&", "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := NewNotifyBody(&tt.n)
			for _, id := range tt.jobIDs {
				for _, clean := range []bool{true, false} {
					want := tt.n
					want.JobID, want.Clean = id, clean
					dst := []byte("prefix")
					got := body.AppendLine(dst, id, clean)
					if !bytes.HasPrefix(got, []byte("prefix")) {
						t.Fatalf("AppendLine dropped dst: %q", got)
					}
					line := got[len("prefix"):]
					if id == "1" && !clean && len(line) != body.LineLen(len(id)) {
						t.Errorf("LineLen: got %d, want %d", body.LineLen(len(id)), len(line))
					}
					if ref := genericNotifyLine(t, want); !bytes.Equal(line, ref) {
						t.Errorf("job %q clean %v:\ngot  %s\nwant %s", id, clean, line, ref)
					}
					if dec := decodeNotifyLine(t, line); !reflect.DeepEqual(dec, want) {
						t.Errorf("round trip: got %+v, want %+v", dec, want)
					}
				}
			}
		})
	}
}

func TestAppendSetDifficulty(t *testing.T) {
	for _, d := range []float64{1, 0.5, 4e-10, 1e-7, 16, 1e21, 65536.125, math.MaxFloat64} {
		line := AppendSetDifficulty(nil, d)
		m, err := ParseMessage(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || line[len(line)-1] != '\n' {
			t.Fatalf("%g: parse %q: %v", d, line, err)
		}
		var got SetDifficulty
		if err := m.Request().Decode(&got); err != nil || got.Difficulty != d || m.Method != MethodSetDifficulty || m.Kind() != KindNotification {
			t.Errorf("%g: got %q → %+v %v", d, line, got, err)
		}
	}
}

// TestServerNotifications checks the encoders of the rarer server-sent
// notifications against their decoders.
func TestServerNotifications(t *testing.T) {
	se := SetExtranonce{Extranonce1: []byte{0xde, 0xad, 0xbe, 0xef}, Extranonce2Size: 6}
	line, err := EncodeNotification(MethodSetExtranonce, se)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":null,"method":"mining.set_extranonce","params":["deadbeef",6]}` + "\n"; string(line) != want {
		t.Errorf("set_extranonce: got %q, want %q", line, want)
	}
	line, err = EncodeNotification(MethodReconnect, Reconnect{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":null,"method":"client.reconnect","params":[]}` + "\n"; string(line) != want {
		t.Errorf("client.reconnect: got %q, want %q", line, want)
	}
	if _, err := EncodeNotification(MethodNotify, json.RawMessage(`[`)); err == nil {
		t.Error("bad params: got nil error")
	}
}

func FuzzNotifyBody(f *testing.F) {
	f.Add("1", []byte{1, 2, 3}, []byte{4, 5}, []byte{6}, uint8(2), uint32(0x20000000), uint32(0x207fffff), uint32(1), true)
	f.Add(`q"\`+"\x00", []byte{}, []byte{}, []byte{}, uint8(0), uint32(0), uint32(0), uint32(0), false)
	f.Fuzz(func(t *testing.T, id string, prev, c1, c2 []byte, nb uint8, ver, bits, ntime uint32, clean bool) {
		if len(c1)+len(c2) > 4096 {
			return
		}
		n := Notify{Coinb1: c1, Coinb2: c2, Version: ver, NBits: bits, NTime: ntime, Branch: make([][32]byte, nb%(MaxBranchLen+1))}
		copy(n.PrevHash[:], prev)
		for i := range n.Branch {
			copy(n.Branch[i][:], prev)
			n.Branch[i][0] = byte(i)
		}
		n.JobID, n.Clean = id, clean
		line := NewNotifyBody(&n).AppendLine(nil, id, clean)
		if ref := genericNotifyLine(t, n); !bytes.Equal(line, ref) {
			t.Fatalf("got %s, want %s", line, ref)
		}
	})
}

func FuzzAppendSetDifficulty(f *testing.F) {
	f.Add(1.0)
	f.Add(4e-10)
	f.Fuzz(func(t *testing.T, d float64) {
		if math.IsNaN(d) || math.IsInf(d, 0) || d <= 0 {
			return
		}
		line := AppendSetDifficulty(nil, d)
		m, err := ParseMessage(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		var got SetDifficulty
		if err := m.Request().Decode(&got); err != nil || got.Difficulty != d {
			t.Fatalf("%g: got %+v %v from %q", d, got, err, line)
		}
	})
}
