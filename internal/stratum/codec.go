package stratum

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxLineLen is the longest line, in bytes without the newline, that the
// Reader accepts and the Writer sends. 64 KiB holds any realistic notify
// (coinbases with hundreds of outputs, 20+ merkle branch hashes).
const MaxLineLen = 64 << 10

// Reader reads newline-delimited Stratum messages. Empty lines are skipped
// and a trailing '\r' is stripped. A Reader is not safe for concurrent use;
// one goroutine owns it.
type Reader struct {
	br  *bufio.Reader
	max int
}

// NewReader returns a Reader with the default MaxLineLen.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, MaxLineLen) }

// NewReaderSize returns a Reader whose lines may be at most max bytes.
func NewReaderSize(r io.Reader, max int) *Reader {
	if max < 64 {
		max = 64
	}
	// The buffer holds max bytes plus the newline and an optional '\r'.
	return &Reader{br: bufio.NewReaderSize(r, max+2), max: max}
}

// ReadLine returns the next non-empty line without its line ending. The
// slice is valid only until the next call. A line longer than the limit is
// consumed up to its newline and reported as ErrLineTooLong; the Reader is
// then at the next line (or, when no newline came within 1 MiB, somewhere
// in the line: the caller should drop such a peer). Other errors come from the underlying reader
// (io.EOF at a clean end; io.ErrUnexpectedEOF for a final line without '\n'
// is not reported: such a line is returned, and io.EOF follows).
func (r *Reader) ReadLine() ([]byte, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if derr := r.discardLine(); derr != nil && !errors.Is(derr, io.EOF) {
				return nil, derr
			}
			return nil, fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.max)
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > r.max {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, len(line), r.max)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		return line, nil
	}
}

// maxDiscard bounds how much of an overlong line the Reader drops looking
// for its end: a peer streaming bytes without a newline gets an error
// after 1 MiB instead of holding the reader until it stops.
const maxDiscard = 1 << 20

// discardLine drops input up to and including the next newline, at most
// maxDiscard bytes.
func (r *Reader) discardLine() error {
	for n := 0; ; {
		line, err := r.br.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if n += len(line); n > maxDiscard {
			return fmt.Errorf("%w: no newline within %d bytes", ErrLineTooLong, n)
		}
	}
}

// Read returns the next message. Errors wrapping ErrMalformed or
// ErrLineTooLong leave the Reader usable at the next line; any other error
// is from the connection and final.
func (r *Reader) Read() (*Message, error) {
	line, err := r.ReadLine()
	if err != nil {
		return nil, err
	}
	return ParseMessage(line)
}

// ParseMessage decodes one line (without newline) into a Message. It
// returns an error wrapping ErrMalformed when the line is not a JSON object
// or its "method" or "params" have the wrong JSON type.
func ParseMessage(line []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(m.Params) > 0 && !isNull(m.Params) {
		if p := bytes.TrimSpace(m.Params); len(p) == 0 || p[0] != '[' && p[0] != '{' {
			return nil, fmt.Errorf("%w: params is not an array", ErrMalformed)
		}
	}
	if m.Method == "" && len(m.ID) == 0 && len(m.Result) == 0 && m.Error == nil {
		return nil, fmt.Errorf("%w: neither a method call nor a response", ErrMalformed)
	}
	return &m, nil
}

// Writer writes Stratum messages, one JSON object per line. It is safe for
// concurrent use: each message goes out in one Write call.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write encodes v (a *Request, *Response or any JSON-marshalable value) and
// writes it followed by '\n'.
func (w *Writer) Write(v any) error {
	line, err := Encode(v)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(line); err != nil {
		return fmt.Errorf("stratum: write: %w", err)
	}
	return nil
}

// Encode returns v as one line ending in '\n'. It fails if the line would
// exceed MaxLineLen.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("stratum: encode: %w", err)
	}
	if len(b) > MaxLineLen {
		return nil, fmt.Errorf("%w: encoding %d bytes, limit %d", ErrLineTooLong, len(b), MaxLineLen)
	}
	return append(b, '\n'), nil
}
