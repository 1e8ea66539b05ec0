package mesos

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRecordIORoundTrip(t *testing.T) {
	records := [][]byte{[]byte(`{"type":"HEARTBEAT"}`), []byte("x"), bytes.Repeat([]byte("a"), 5000)}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range records {
		if err := w.WriteFrame(r); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(buf.String(), "20\n{\"type\":\"HEARTBEAT\"}1\nx5000\n") {
		t.Fatalf("wire = %q", buf.String()[:40])
	}
	// One byte at a time: chunk boundaries must not matter.
	r := NewReader(iotest.OneByteReader(bytes.NewReader(buf.Bytes())), 0)
	for i, want := range records {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d: got %q, want %q", i, got, want)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at end: got %v, want io.EOF", err)
	}
}

func TestRecordIOReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want error
	}{
		{name: "empty stream", in: "", want: io.EOF},
		{name: "eof in length", in: "12", want: io.ErrUnexpectedEOF},
		{name: "eof in data", in: "5\nabc", want: io.ErrUnexpectedEOF},
		{name: "zero length", in: "0\n", want: ErrBadFrameHeader},
		{name: "empty length", in: "\nabc", want: ErrBadFrameHeader},
		{name: "non digit", in: "1a\nb", want: ErrBadFrameHeader},
		{name: "negative", in: "-1\nb", want: ErrBadFrameHeader},
		{name: "space", in: " 1\nb", want: ErrBadFrameHeader},
		{name: "too many digits", in: "123456789012345678901\n", want: ErrBadFrameHeader},
		{name: "uint64 overflow", in: "99999999999999999999\n", want: ErrBadFrameHeader},
		{name: "over limit", in: "11\nhello world", max: 10, want: ErrFrameTooLarge},
		{name: "huge", in: "18446744073709551615\n", want: ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.in), tc.max).ReadFrame()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRecordIOWriterRefusesEmpty(t *testing.T) {
	if err := NewWriter(io.Discard).WriteFrame(nil); err == nil {
		t.Fatal("got nil error for an empty record")
	}
}

// FuzzRecordIOReader reads arbitrary bytes as RecordIO: every record read
// is non-empty and within the limit, and the records read, written again,
// read back identically and end in io.EOF. The input is also cut into
// records of its own (at each 0xff byte): written and read back, they come
// out exactly as written.
func FuzzRecordIOReader(f *testing.F) {
	f.Add([]byte("20\n{\"type\":\"HEARTBEAT\"}"))
	f.Add([]byte("1\na2\nbc"))
	f.Add([]byte("0\n"))
	f.Add([]byte("99999999999999999999\n"))
	f.Add([]byte("a\xffbb\xff\xffccc\n9\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 1024)
		var recs [][]byte
		for {
			rec, err := r.ReadFrame()
			if err != nil {
				break
			}
			if len(rec) == 0 || len(rec) > 1024 {
				t.Fatalf("record of %d bytes", len(rec))
			}
			recs = append(recs, bytes.Clone(rec))
		}
		roundTrip(t, recs)
		var own [][]byte
		for _, p := range bytes.Split(in, []byte{0xff}) {
			if len(p) > 0 && len(p) <= 1024 {
				own = append(own, p)
			}
		}
		roundTrip(t, own)
	})
}

// roundTrip writes recs as RecordIO frames and checks that they read back
// identically, then io.EOF.
func roundTrip(t *testing.T, recs [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, rec := range recs {
		if err := w.WriteFrame(rec); err != nil {
			t.Fatalf("write %q: %v", rec, err)
		}
	}
	wire := buf.Bytes()
	r := NewReader(bytes.NewReader(wire), 1024)
	for i, want := range recs {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("record %d of %d: %v (wire %q)", i, len(recs), err, wire)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d: got %q, want %q", i, got, want)
		}
	}
	if rec, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after %d records: got %q, %v, want io.EOF", len(recs), rec, err)
	}
}
