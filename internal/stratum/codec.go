package stratum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// MaxLineLen is the longest line, in bytes without the newline, that the
// Reader accepts and the Writer sends. 64 KiB holds any realistic notify
// (coinbases with hundreds of outputs, 20+ merkle branch hashes).
const MaxLineLen = 64 << 10

// Reader reads newline-delimited Stratum messages. Empty lines are skipped
// and a trailing '\r' is stripped. A Reader is not safe for concurrent use;
// one goroutine owns it.
//
// A Reader holds no buffer while nothing is pending: the wait for input
// reads into a small array inside the Reader, and a buffer from a shared
// pool carries bytes only until the lines in them are consumed. A pool
// with 100,000 idle sessions thus holds no read buffers at all.
//
// A Reader made by NewPollReader reads a non-blocking source: it holds no
// bytes at all while nothing is pending, and ReadLine returns
// ErrWouldBlock when no whole line has arrived yet.
type Reader struct {
	r     io.Reader
	max   int
	wait  *[waitLen]byte // where a blocking read lands while no bytes are pending
	bp    *[]byte        // pooled buffer holding pending bytes; nil when none
	off   int            // start of the unconsumed bytes in *bp
	err   error          // the read error to report once pending bytes are consumed
	idle  int            // consecutive empty reads without error
	poll  bool           // r is non-blocking (NewPollReader)
	block bool           // the last read found nothing yet (ErrWouldBlock)
}

// ErrWouldBlock is what a poll Reader's ReadLine returns when no whole
// line has arrived; the Reader keeps its state: call ReadLine again once
// there is input.
var ErrWouldBlock = errors.New("stratum: no input yet")

// waitLen is the size of the idle read: one typical request (a submit is
// ~150 bytes) arrives in it whole.
const waitLen = 256

// readBufs are the buffers of Readers with pending bytes.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// NewReader returns a Reader with the default MaxLineLen.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, MaxLineLen) }

// NewReaderSize returns a Reader whose lines may be at most max bytes.
func NewReaderSize(r io.Reader, max int) *Reader {
	if max < 64 {
		max = 64
	}
	return &Reader{r: r, max: max}
}

// TryReader is a non-blocking source: TryRead returns 0, nil when nothing
// has arrived yet (netpoll.Conn is one).
type TryReader interface {
	TryRead(p []byte) (int, error)
}

// NewPollReader returns a Reader over a non-blocking source; lines may be
// at most max bytes. Its ReadLine returns ErrWouldBlock when no whole line
// has arrived.
func NewPollReader(src TryReader, max int) *Reader {
	rd := NewReaderSize(tryRead{src}, max)
	rd.poll = true
	return rd
}

// tryRead is a TryReader as an io.Reader: ErrWouldBlock for "nothing yet".
type tryRead struct{ src TryReader }

func (t tryRead) Read(p []byte) (int, error) {
	n, err := t.src.TryRead(p)
	if n == 0 && err == nil {
		return 0, ErrWouldBlock
	}
	return n, err
}

// ReadLine returns the next non-empty line without its line ending. The
// slice is valid only until the next call. A line longer than the limit is
// consumed up to its newline and reported as ErrLineTooLong; the Reader is
// then at the next line (or, when no newline came within 1 MiB or, for a
// poll Reader, before the input ran out, somewhere in the line: the caller
// should drop such a peer). Other errors come from the underlying reader
// (io.EOF at a clean end; io.ErrUnexpectedEOF for a final line without '\n'
// is not reported: such a line is returned, and io.EOF follows).
func (r *Reader) ReadLine() ([]byte, error) {
	r.release()
	for {
		buf := r.pending()
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			r.off += i + 1
			if line, err, ok := r.emit(buf[:i]); ok {
				return line, err
			}
			continue
		}
		if len(buf) >= r.max+2 { // no newline where the longest line's would be
			return nil, r.discardLine()
		}
		if r.err != nil {
			r.off += len(buf)
			if line, err, ok := r.emit(buf); ok {
				return line, err
			}
			return nil, r.err
		}
		r.fill()
		if r.block {
			r.block = false
			return nil, ErrWouldBlock
		}
	}
}

// emit checks one line (without its '\n'); ok is false for a blank line.
func (r *Reader) emit(line []byte) ([]byte, error, bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > r.max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, len(line), r.max), true
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil, false
	}
	return line, nil, true
}

// pending returns the unconsumed bytes.
func (r *Reader) pending() []byte {
	if r.bp == nil {
		return nil
	}
	return (*r.bp)[r.off:]
}

// release gives the buffer back once everything in it was consumed (the
// caller is done with the last line by the time it calls again).
func (r *Reader) release() {
	if r.bp == nil || r.off < len(*r.bp) {
		return
	}
	if cap(*r.bp) <= 2*MaxLineLen {
		*r.bp = (*r.bp)[:0]
		readBufs.Put(r.bp)
	}
	r.bp, r.off = nil, 0
}

// fill reads once: into the wait array when nothing is pending (then into
// a pooled buffer), else straight into the buffer after what is pending.
func (r *Reader) fill() {
	var n int
	var err error
	switch {
	case r.bp == nil && r.poll:
		bp := readBufs.Get().(*[]byte)
		n, err = r.r.Read((*bp)[:cap(*bp)])
		if n > 0 {
			*bp, r.bp, r.off = (*bp)[:n], bp, 0
		} else {
			readBufs.Put(bp)
		}
	case r.bp == nil:
		if r.wait == nil {
			r.wait = new([waitLen]byte)
		}
		n, err = r.r.Read(r.wait[:])
		if n > 0 {
			r.bp = readBufs.Get().(*[]byte)
			*r.bp = append((*r.bp)[:0], r.wait[:n]...)
			r.off = 0
		}
	default:
		buf := append((*r.bp)[:0], (*r.bp)[r.off:]...) // keep only what is pending
		if cap(buf)-len(buf) < waitLen {
			buf = slices.Grow(buf, len(buf)+waitLen)
		}
		n, err = r.r.Read(buf[len(buf):cap(buf)])
		*r.bp, r.off = buf[:len(buf)+n], 0
	}
	switch {
	case r.poll && n == 0 && errors.Is(err, ErrWouldBlock):
		r.block = true
	case err != nil && !errors.Is(err, ErrWouldBlock):
		r.err = err
	case n == 0:
		if r.idle++; r.idle > 100 {
			r.err = io.ErrNoProgress
		}
	default:
		r.idle = 0
	}
}

// maxDiscard bounds how much of an overlong line the Reader drops looking
// for its end: a peer streaming bytes without a newline gets an error
// after 1 MiB instead of holding the reader until it stops.
const maxDiscard = 1 << 20

// discardLine drops input up to and including the next newline, at most
// maxDiscard bytes, and reports the line as too long (or the read error
// that came first, other than EOF).
func (r *Reader) discardLine() error {
	for n := 0; ; {
		buf := r.pending()
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			r.off += i + 1
			return fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.max)
		}
		n += len(buf)
		r.off += len(buf)
		if n > maxDiscard {
			return fmt.Errorf("%w: no newline within %d bytes", ErrLineTooLong, n)
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.max)
			}
			return r.err
		}
		r.fill()
		if r.block { // a poll Reader stops here, within the line
			r.block = false
			return fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.max)
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
