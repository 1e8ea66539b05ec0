package mesos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxFrameSize is the default limit on one RecordIO record (4 MiB,
// as mesos-go).
const DefaultMaxFrameSize = 4 << 20

// maxLengthDigits bounds the length prefix: 20 digits hold any uint64.
const maxLengthDigits = 20

// ErrFrameTooLarge is wrapped by errors for records over the size limit.
var ErrFrameTooLarge = errors.New("mesos: recordio frame too large")

// ErrBadFrameHeader is wrapped by errors for a malformed length prefix.
var ErrBadFrameHeader = errors.New("mesos: malformed recordio length")

// Reader reads RecordIO records: ASCII decimal length, '\n', then exactly
// that many bytes. It buffers, so HTTP chunk boundaries do not matter.
// A Reader is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	max int
}

// NewReader returns a Reader over r that refuses records larger than
// maxFrame bytes (DefaultMaxFrameSize when maxFrame <= 0).
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	return &Reader{br: bufio.NewReader(r), max: maxFrame}
}

// ReadFrame returns the next record. The returned slice is newly
// allocated. At a clean end of stream (between records) it returns io.EOF;
// a stream that ends inside a record gives io.ErrUnexpectedEOF. A zero
// length, a non-digit in the length or a length over the limit is an error
// (wrapping ErrBadFrameHeader or ErrFrameTooLarge); the reader must then be
// discarded.
func (r *Reader) ReadFrame() ([]byte, error) {
	var digits [maxLengthDigits]byte
	n := 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n == 0 {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == '\n' {
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: byte %q", ErrBadFrameHeader, c)
		}
		if n == maxLengthDigits {
			return nil, fmt.Errorf("%w: length has more than %d digits", ErrBadFrameHeader, maxLengthDigits)
		}
		digits[n] = c
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty length", ErrBadFrameHeader)
	}
	size, err := strconv.ParseUint(string(digits[:n]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrameHeader, err)
	}
	if size == 0 {
		return nil, fmt.Errorf("%w: zero length", ErrBadFrameHeader)
	}
	if size > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, r.max)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// Writer writes RecordIO records. If the underlying writer is an
// http.Flusher-like value with a Flush() method, it is flushed after each
// record so events reach a streaming client at once. Not safe for
// concurrent use.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

type flusher interface{ Flush() }

// WriteFrame writes p as one record. An empty p is refused (Mesos never
// sends zero-length records).
func (w *Writer) WriteFrame(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("mesos: recordio: empty record")
	}
	buf := make([]byte, 0, len(p)+maxLengthDigits+1)
	buf = strconv.AppendUint(buf, uint64(len(p)), 10)
	buf = append(buf, '\n')
	buf = append(buf, p...)
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("mesos: recordio write: %w", err)
	}
	if f, ok := w.w.(flusher); ok {
		f.Flush()
	}
	return nil
}
