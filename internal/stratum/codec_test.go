package stratum

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestReaderLines(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name  string
		input string
		max   int
		want  []string // "ERR:toolong" for ErrLineTooLong
	}{
		{name: "lf", input: "a\nb\n", want: []string{"a", "b"}},
		{name: "crlf and blank lines", input: "a\r\n\r\n\n  \nb\r\n", want: []string{"a", "b"}},
		{name: "final line without newline", input: "a\nb", want: []string{"a", "b"}},
		{name: "too long then usable", input: long + "\nok\n", max: 100, want: []string{"ERR:toolong", "ok"}},
		{name: "too long at exact boundary", input: strings.Repeat("y", 101) + "\nok\n", max: 100, want: []string{"ERR:toolong", "ok"}},
		{name: "at limit is fine", input: strings.Repeat("z", 100) + "\r\n", max: 100, want: []string{strings.Repeat("z", 100)}},
		{name: "too long without newline at eof", input: long, max: 100, want: []string{"ERR:toolong"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = MaxLineLen
			}
			r := NewReaderSize(strings.NewReader(tt.input), max)
			var got []string
			for {
				line, err := r.ReadLine()
				if errors.Is(err, ErrLineTooLong) {
					got = append(got, "ERR:toolong")
					continue
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("ReadLine: %v", err)
				}
				got = append(got, string(line))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got lines %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadMalformedKeepsGoing(t *testing.T) {
	input := "not json\n[1,2]\n{\"id\":1,\"method\":5}\n{\"params\":[]}\n{\"id\":1,\"method\":\"mining.ping\",\"params\":\"x\"}\n{\"id\":1,\"result\":true,\"error\":null}\n"
	r := NewReader(strings.NewReader(input))
	var malformed int
	for {
		m, err := r.Read()
		if errors.Is(err, ErrMalformed) {
			malformed++
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v after %d malformed", err, malformed)
		}
		if got, want := m.Kind(), KindResponse; got != want {
			t.Errorf("got kind %v, want %v", got, want)
		}
		break
	}
	if malformed != 5 {
		t.Errorf("got %d malformed lines, want 5", malformed)
	}
}

func TestMessageKind(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Kind
	}{
		{name: "request int id", line: `{"id":1,"method":"mining.subscribe","params":[]}`, want: KindRequest},
		{name: "request string id", line: `{"id":"abc","method":"mining.authorize","params":["u","p"]}`, want: KindRequest},
		{name: "notification null id", line: `{"id":null,"method":"mining.notify","params":[]}`, want: KindNotification},
		{name: "notification no id", line: `{"method":"mining.set_difficulty","params":[1]}`, want: KindNotification},
		{name: "response", line: `{"id":3,"result":true,"error":null}`, want: KindResponse},
		{name: "error response", line: `{"id":3,"result":null,"error":[21,"Job not found",null]}`, want: KindResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if got := m.Kind(); got != tt.want {
				t.Errorf("got kind %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResponseBool(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		wantOK   bool
		wantCode int
		wantMsg  string
	}{
		{name: "accepted", line: `{"id":1,"result":true,"error":null}`, wantOK: true},
		{name: "array error", line: `{"id":1,"result":null,"error":[23,"Low difficulty share",null]}`, wantCode: 23, wantMsg: "Low difficulty share"},
		{name: "array error with false", line: `{"id":1,"result":false,"error":[21,"Job not found","tb"]}`, wantCode: 21, wantMsg: "Job not found"},
		{name: "ckpool reject reason", line: `{"id":1,"result":false,"error":null,"reject-reason":"Stale"}`, wantCode: ErrOther, wantMsg: "Stale"},
		{name: "ckpool string error", line: `{"id":1,"result":false,"error":"Invalid array size"}`, wantCode: ErrOther, wantMsg: "Invalid array size"},
		{name: "jsonrpc2 object error", line: `{"id":1,"result":null,"error":{"code":24,"message":"Unauthorized worker"}}`, wantCode: 24, wantMsg: "Unauthorized worker"},
		{name: "false no reason", line: `{"id":1,"result":false,"error":null}`, wantCode: ErrOther, wantMsg: "rejected"},
		{name: "weird error shape", line: `{"id":1,"result":null,"error":42}`, wantCode: ErrOther, wantMsg: "42"},
		{name: "non-bool result", line: `{"id":1,"result":"ok","error":null}`, wantCode: ErrOther, wantMsg: "rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			err = m.Response().Bool()
			if tt.wantOK {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *Error", err)
			}
			if se.Code != tt.wantCode || se.Message != tt.wantMsg {
				t.Errorf("got code %d msg %q, want %d %q", se.Code, se.Message, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	req, err := NewRequest(7, MethodSubmit, Submit{Worker: "w", JobID: "j", Extranonce2: []byte{1, 2, 3, 4}, NTime: 0x64b3f3ec, Nonce: 0xed460d91})
	if err != nil {
		t.Fatal(err)
	}
	note, err := NewNotification(MethodSetDifficulty, SetDifficulty{Difficulty: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := NewResponse(json.RawMessage("7"), true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "request", v: req, want: `{"id":7,"method":"mining.submit","params":["w","j","01020304","64b3f3ec","ed460d91"]}`},
		{name: "notification", v: note, want: `{"id":null,"method":"mining.set_difficulty","params":[0.5]}`},
		{name: "response ok", v: ok, want: `{"id":7,"result":true,"error":null}`},
		{name: "response error", v: NewErrorResponse(json.RawMessage(`"x"`), NewError(ErrDuplicate, "Duplicate share")), want: `{"id":"x","result":null,"error":[22,"Duplicate share",null]}`},
		{name: "ckpool style", v: &Response{ID: json.RawMessage("1"), Result: json.RawMessage("false"), RejectReason: "Stale"}, want: `{"id":1,"result":false,"error":null,"reject-reason":"Stale"}`},
		{name: "request no params", v: &Request{ID: json.RawMessage("2"), Method: MethodPing}, want: `{"id":2,"method":"mining.ping","params":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := NewWriter(&buf).Write(tt.v); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("got %q, want %q", got, tt.want+"\n")
			}
			m, err := NewReader(&buf).Read()
			if err != nil {
				t.Fatalf("Read back: %v", err)
			}
			again, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind() == KindResponse {
				again, _ = json.Marshal(m.Response())
			} else {
				again, _ = json.Marshal(m.Request())
			}
			if string(again) != tt.want {
				t.Errorf("re-encoded %s, want %s", again, tt.want)
			}
		})
	}
}

func TestEncodeTooLong(t *testing.T) {
	_, err := Encode(strings.Repeat("a", MaxLineLen))
	if !errors.Is(err, ErrLineTooLong) {
		t.Errorf("got %v, want ErrLineTooLong", err)
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				req, _ := NewRequest(uint64(i), MethodPing, nil)
				if err := w.Write(req); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	r := NewReader(&buf)
	n := 0
	for {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		n++
	}
	if n != 400 {
		t.Errorf("got %d lines, want 400", n)
	}
}

// TestEndlessLineBounded: a peer streaming bytes without a newline gets
// ErrLineTooLong after about 1 MiB, not a reader blocked until it stops.
func TestEndlessLineBounded(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte{0xff}, 64<<10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	defer pr.Close()
	r := NewReaderSize(pr, 4096)
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("endless line: got %v, want ErrLineTooLong", err)
	}
}

// chunkReader returns its data in reads of at most n bytes.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// readAll lists what ReadLine returns until EOF: lines, and "ERR:toolong".
func readAll(t testing.TB, r *Reader) []string {
	var got []string
	for range 1 << 16 {
		line, err := r.ReadLine()
		switch {
		case errors.Is(err, ErrLineTooLong):
			got = append(got, "ERR:toolong")
		case err == io.EOF:
			return got
		case err != nil:
			t.Fatalf("ReadLine: %v", err)
		default:
			got = append(got, string(line))
		}
	}
	t.Fatal("ReadLine never reached EOF")
	return nil
}

// TestReaderHoldsNoBufferWhenIdle: once every line read so far is
// consumed, the Reader gives its buffer back, so an idle connection holds
// only the small wait array; a partial line keeps one until it completes.
func TestReaderHoldsNoBufferWhenIdle(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReaderSize(pr, 4096)
	go pw.Write([]byte("{\"id\":1}\n{\"id\":2"))
	if line, err := r.ReadLine(); err != nil || string(line) != `{"id":1}` {
		t.Fatalf("first line: %q, %v", line, err)
	}
	if r.bp == nil {
		t.Fatal("a partial line is pending but the Reader holds no buffer")
	}
	go pw.Write([]byte("}\n"))
	if line, err := r.ReadLine(); err != nil || string(line) != `{"id":2}` {
		t.Fatalf("second line: %q, %v", line, err)
	}
	done := make(chan struct{})
	go func() { r.ReadLine(); close(done) }()
	// The reader now waits for input; the last line's buffer is released
	// when the call begins.
	for range 100 {
		pw.Write(nil) // a zero-length write lets the waiting Read return 0 bytes
	}
	pw.Close()
	<-done
	if r.bp != nil {
		t.Errorf("idle Reader holds a %d-byte buffer", cap(*r.bp))
	}
}

// TestReaderChunking: the lines do not depend on how the input is split
// into reads.
func TestReaderChunking(t *testing.T) {
	input := "a\r\n\n" + strings.Repeat("x", 150) + "\nmid\n" + strings.Repeat("y", 400) + "\r\n" + strings.Repeat("z", 3000) + "\nlast"
	want := readAll(t, NewReaderSize(strings.NewReader(input), 300))
	if len(want) != 6 {
		t.Fatalf("whole input: %q", want)
	}
	for _, n := range []int{1, 2, 7, 255, 256, 257, 1000, 5000} {
		got := readAll(t, NewReaderSize(&chunkReader{data: []byte(input), n: n}, 300))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("reads of %d bytes: got %q, want %q", n, got, want)
		}
	}
}

// blockingChunks is a non-blocking source: each chunk of n bytes is
// preceded by a read that finds nothing.
type blockingChunks struct {
	chunkReader
	ready bool
	open  bool // more may come: no EOF once the data is read
}

func (b *blockingChunks) TryRead(p []byte) (int, error) {
	if (!b.ready && len(b.data) > 0) || (b.open && len(b.data) == 0) {
		b.ready = true
		return 0, nil
	}
	b.ready = false
	return b.chunkReader.Read(p)
}

// TestPollReader: over a non-blocking source, ReadLine returns the same
// lines however the input is split, ErrWouldBlock whenever no whole line
// is there yet, and holds no bytes at all while nothing is pending.
func TestPollReader(t *testing.T) {
	input := "a\r\n\n" + strings.Repeat("x", 150) + "\nmid\n" + strings.Repeat("y", 290) + "\r\nlast"
	want := readAll(t, NewReaderSize(strings.NewReader(input), 300))
	for _, n := range []int{1, 2, 7, 255, 256, 257, 1000} {
		r := NewPollReader(&blockingChunks{chunkReader: chunkReader{data: []byte(input), n: n}}, 300)
		var got []string
		blocked := 0
		for range 1 << 16 {
			line, err := r.ReadLine()
			if errors.Is(err, ErrWouldBlock) {
				blocked++
				if r.bp == nil && r.wait != nil {
					t.Fatalf("reads of %d: a poll Reader allocated the blocking read's array", n)
				}
				continue
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reads of %d: ReadLine: %v", n, err)
			}
			got = append(got, string(line))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("reads of %d bytes: got %q, want %q", n, got, want)
		}
		if blocked == 0 {
			t.Errorf("reads of %d bytes: ReadLine never returned ErrWouldBlock", n)
		}
	}
	src := &blockingChunks{chunkReader: chunkReader{data: []byte("{}\n"), n: 64}, open: true}
	idle := NewPollReader(src, 300)
	if _, err := idle.ReadLine(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("first ReadLine: got %v, want ErrWouldBlock", err)
	}
	if line, err := idle.ReadLine(); err != nil || string(line) != "{}" {
		t.Fatalf("second ReadLine: got %q, %v", line, err)
	}
	if _, err := idle.ReadLine(); !errors.Is(err, ErrWouldBlock) { // releases the line's buffer, finds nothing
		t.Fatalf("third ReadLine: got %v, want ErrWouldBlock", err)
	}
	if idle.bp != nil || idle.wait != nil {
		t.Errorf("an idle poll Reader holds a buffer (bp %v, wait %v)", idle.bp != nil, idle.wait != nil)
	}
	long := NewPollReader(&blockingChunks{chunkReader: chunkReader{data: []byte(strings.Repeat("z", 1000) + "\n"), n: 400}}, 300)
	for {
		_, err := long.ReadLine()
		if errors.Is(err, ErrWouldBlock) {
			continue
		}
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("a 1,000-byte line, limit 300: got %v, want ErrLineTooLong", err)
		}
		break
	}
}
