package stratum

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes through the line reader and message
// parser: no panic, every error is either a per-line error (the reader
// continues) or the end of input, and every decoded message re-encodes to
// a line that reads back as the same message.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"id":1,"method":"mining.subscribe","params":[]}` + "\n"))
	f.Add([]byte(`{"id":1,"result":[[["mining.notify","1"]],"00",4],"error":null}` + "\r\n\r\n"))
	f.Add([]byte(`{"id":1,"result":false,"error":"Stale","reject-reason":"Stale"}`))
	f.Add([]byte("\n\n{\n}\n[1]\n\"x\"\n"))
	f.Add(bytes.Repeat([]byte("a"), 300))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReaderSize(bytes.NewReader(data), 128)
		for range len(data) + 2 {
			m, err := r.Read()
			if err == io.EOF {
				return
			}
			if errors.Is(err, ErrMalformed) || errors.Is(err, ErrLineTooLong) {
				continue
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			enc := encodeMessage(t, m)
			// Round trip: the re-encoded message reads back as a message of
			// the same kind that encodes identically.
			m2, err := NewReader(bytes.NewReader(append(enc, '\n'))).Read()
			if err != nil {
				t.Fatalf("read back %s: %v", enc, err)
			}
			if m2.Kind() != m.Kind() {
				t.Fatalf("kind changed in the round trip of %s: %v -> %v", enc, m.Kind(), m2.Kind())
			}
			if enc2 := encodeMessage(t, m2); !bytes.Equal(enc, enc2) {
				t.Fatalf("round trip not stable: %s then %s", enc, enc2)
			}
		}
		t.Fatalf("reader did not reach EOF")
	})
}

// encodeMessage encodes a read message as its request or response.
func encodeMessage(t *testing.T, m *Message) []byte {
	t.Helper()
	var v any = m.Request()
	if m.Kind() == KindResponse {
		v = m.Response()
		_ = m.Response().Bool()
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode %+v: %v", m, err)
	}
	return enc
}

// FuzzParams runs every typed params decoder on arbitrary JSON: no panic,
// errors wrap ErrInvalidParams, and whatever decodes re-encodes to a value
// that decodes to the same thing.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		vectorANotify,
		`["tb1q.bitaxe3","1","c7080000","64b3f3ec","ed460d91","00002000"]`,
		`[[["mining.notify","a1"]],"a1b2c3d4",8]`,
		`["0.0001"]`, `[512]`, `["h","3333",5]`, `[]`, `null`,
		`[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]`,
		`["0badf00d",4]`, `["u","p"]`,
	} {
		for m := range 13 {
			f.Add(uint8(m), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		if !json.Valid(data) {
			return
		}
		methods := []string{MethodSubscribe, MethodAuthorize, MethodSetDifficulty, MethodSuggestDifficulty,
			MethodNotify, MethodSubmit, MethodConfigure, MethodSetVersionMask, MethodSetExtranonce,
			MethodReconnect, MethodShowMessage, MethodGetTransactions, "subscribe-result"}
		method := methods[int(which)%len(methods)]
		var v any
		if method == "subscribe-result" {
			v = new(SubscribeResult)
		} else {
			v = paramsFor(method)
		}
		req := &Request{Method: method, Params: data}
		if err := req.Decode(v); err != nil {
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("%s: error %v does not wrap ErrInvalidParams", method, err)
			}
			return
		}
		if c, ok := v.(*Configure); ok {
			_, _, _, _ = c.VersionRolling()
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", method, err)
		}
		again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(enc, again); err != nil {
			t.Fatalf("%s: decode of re-encoded %s: %v", method, enc, err)
		}
		enc2, _ := json.Marshal(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: not stable: %s vs %s", method, enc, enc2)
		}
	})
}

// FuzzError decodes arbitrary JSON as an error field: never fails on valid
// JSON, never panics, and decode → encode → decode gives the same error.
func FuzzError(f *testing.F) {
	for _, s := range []string{`[21,"Job not found",null]`, `"Stale"`, `{"code":24,"message":"x"}`, `42`, `[]`, `["x"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var e Error
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		// Round trip: what was decoded encodes to the canonical form, which
		// decodes to the same error and encodes identically again.
		enc, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		var e2 Error
		if err := json.Unmarshal(enc, &e2); err != nil {
			t.Fatalf("decode of re-encoded %s: %v", enc, err)
		}
		if e2 != e {
			t.Fatalf("round trip of %s via %s: got %+v, want %+v", data, enc, e2, e)
		}
		if enc2, _ := json.Marshal(&e2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s then %s", enc, enc2)
		}
	})
}

// FuzzReaderChunks: however the input is split into reads, the Reader
// returns the same lines and errors.
func FuzzReaderChunks(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n"+strings.Repeat("x", 200)+"\nok"), uint8(3))
	f.Add([]byte(strings.Repeat("y", 300)), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		want := readAll(t, NewReaderSize(bytes.NewReader(data), 128))
		got := readAll(t, NewReaderSize(&chunkReader{data: data, n: int(n%64) + 1}, 128))
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("chunked reads: got %q, want %q", got, want)
		}
	})
}
