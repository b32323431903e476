package remoting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is one command on the wire (RemotingCommand#encode/decode,
// ../shared/spec/rocketmq.md §7.1). All integers are big-endian:
//
//	+----------------+----------------------+------------------+-----------+
//	| length  uint32 | type:8 | hlen:24     | header (hlen B)  | body      |
//	+----------------+----------------------+------------------+-----------+
//	  0               4                      8                  8+hlen
//
//	length = 4 + hlen + len(body)   (excludes the length field itself)
//	type   = 0 JSON header (header_json.go), 1 ROCKETMQ header (header_binary.go)
//
// A frame's total size (4 + length) is at most the configured maximum
// (DefaultMaxFrameSize, Java's frameMaxLength); the length is checked before
// any buffer is allocated. The layout and type numbers are frozen.
const (
	frameLengthSize = 4
	framePrefixSize = 8 // length + type/hlen word

	// DefaultMaxFrameSize is the default limit on a frame's total size,
	// 16 MiB like Java's com.rocketmq.remoting.frameMaxLength.
	DefaultMaxFrameSize = 16 << 20

	maxHeaderLength = 1<<24 - 1 // hlen is 24 bits

	// largeFrameStep is the first buffer size for a frame larger than the
	// read buffer; it doubles as the frame's bytes arrive.
	largeFrameStep = 256 << 10
)

// AppendFrame appends the whole frame of c (prefix, header, Body and
// BodyParts) to dst. The header uses c.SerializeType. It fails with
// ErrFieldTooLong if c does not fit that serialization, or ErrFrameTooLarge
// if the frame exceeds DefaultMaxFrameSize.
func AppendFrame(dst []byte, c *Command) ([]byte, error) {
	start := len(dst)
	dst, err := appendFramePrefix(dst, c, DefaultMaxFrameSize)
	if err != nil {
		return dst[:start], err
	}
	dst = append(dst, c.Body...)
	for _, p := range c.BodyParts {
		dst = append(dst, p...)
	}
	return dst, nil
}

// appendFramePrefix appends the length, type word and header of c; the
// length counts c's body, which the caller writes after.
func appendFramePrefix(dst []byte, c *Command, maxFrameSize int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.SerializeType {
	case SerializeJSON:
		dst = appendJSONHeader(dst, c)
	case SerializeRocketMQ:
		dst, err = appendBinaryHeader(dst, c)
	default:
		err = fmt.Errorf("%w: %d", ErrUnknownSerializeType, c.SerializeType)
	}
	if err != nil {
		return dst[:start], err
	}
	headerLen := len(dst) - start - framePrefixSize
	total := framePrefixSize + headerLen + c.BodyLen()
	if headerLen > maxHeaderLength || total > maxFrameSize {
		return dst[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, total, maxFrameSize)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(total-frameLengthSize))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(headerLen))
	return dst, nil
}

// decodeFrame decodes a frame without its length field (type word, header,
// body) into c. The body is copied into a pooled buffer unless owned is
// non-nil, in which case frame lies in *owned and c takes it over.
func decodeFrame(frame []byte, owned *[]byte, c *Command) error {
	if len(frame) < 4 {
		return fmt.Errorf("%w: frame length %d", ErrMalformedFrame, len(frame))
	}
	word := binary.BigEndian.Uint32(frame)
	headerLen := int(word & maxHeaderLength)
	if headerLen > len(frame)-4 {
		return fmt.Errorf("%w: header length %d in a %d-byte frame", ErrMalformedFrame, headerLen, len(frame))
	}
	header := frame[4 : 4+headerLen]
	var err error
	switch t := SerializeType(word >> 24); t {
	case SerializeJSON:
		err = decodeJSONHeader(header, c)
	case SerializeRocketMQ:
		err = decodeBinaryHeader(header, c)
	default:
		err = fmt.Errorf("%w: %d", ErrUnknownSerializeType, t)
	}
	if err != nil {
		return err
	}
	c.SerializeType = SerializeType(word >> 24)
	body := frame[4+headerLen:]
	switch {
	case owned != nil:
		c.buf = owned
		c.Body = body
	case len(body) > 0:
		c.buf = getBuffer(len(body))
		c.Body = *c.buf
		copy(c.Body, body)
	}
	return nil
}

// FrameReader reads frames from a stream and decodes them into commands.
// It buffers reads, so one Read from the network can yield many frames.
type FrameReader struct {
	r            io.Reader
	maxFrameSize int
	buf          []byte // buf[start:end] is read but not yet decoded
	start, end   int
	// BeforeRead, if set, is called before every Read from the stream (the
	// server uses it to push the idle deadline forward).
	BeforeRead func()
}

// NewFrameReader returns a FrameReader on r with a read buffer of bufSize
// bytes (frames larger than it are read into a buffer of their own).
// Frames larger than maxFrameSize fail with ErrFrameTooLarge.
func NewFrameReader(r io.Reader, bufSize, maxFrameSize int) *FrameReader {
	if bufSize < framePrefixSize*64 {
		bufSize = framePrefixSize * 64
	}
	return &FrameReader{r: r, maxFrameSize: maxFrameSize, buf: make([]byte, bufSize)}
}

// Buffered reports the number of bytes read from the stream and not yet
// decoded.
func (fr *FrameReader) Buffered() int { return fr.end - fr.start }

// hasFrame reports whether a whole frame is buffered, so that the next
// ReadCommand returns without reading from the stream.
func (fr *FrameReader) hasFrame() bool {
	n := fr.end - fr.start
	return n >= frameLengthSize && uint64(binary.BigEndian.Uint32(fr.buf[fr.start:]))+frameLengthSize <= uint64(n)
}

// ReadCommand reads and decodes the next frame into a pooled command. At a
// clean end of stream it returns io.EOF; a stream ending inside a frame
// gives io.ErrUnexpectedEOF. After any error the reader is unusable.
func (fr *FrameReader) ReadCommand() (*Command, error) {
	if err := fr.fill(frameLengthSize); err != nil {
		return nil, err
	}
	length := binary.BigEndian.Uint32(fr.buf[fr.start:])
	if uint64(length)+frameLengthSize > uint64(fr.maxFrameSize) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, uint64(length)+frameLengthSize, fr.maxFrameSize)
	}
	if length < 4 {
		return nil, fmt.Errorf("%w: length %d", ErrMalformedFrame, length)
	}
	n := int(length)
	c := acquireCommand()
	if frameLengthSize+n <= len(fr.buf) {
		if err := fr.fill(frameLengthSize + n); err != nil {
			c.Release()
			return nil, err
		}
		frame := fr.buf[fr.start+frameLengthSize : fr.start+frameLengthSize+n]
		fr.start += frameLengthSize + n
		if err := decodeFrame(frame, nil, c); err != nil {
			c.Release()
			return nil, err
		}
		return c, nil
	}
	// A frame larger than the read buffer is read into a buffer of its own,
	// which becomes the command's body buffer. The buffer grows as bytes
	// arrive, so a peer that declares a large frame and sends little of it
	// does not make us hold the whole size.
	fr.start += frameLengthSize
	owned := getBuffer(min(n, max(len(fr.buf), largeFrameStep)))
	copied := copy(*owned, fr.buf[fr.start:fr.end])
	fr.start += copied
	for copied < n {
		if copied == len(*owned) {
			grown := getBuffer(min(n, 2*len(*owned)))
			copy(*grown, (*owned)[:copied])
			putBuffer(owned)
			owned = grown
		}
		if fr.BeforeRead != nil {
			fr.BeforeRead()
		}
		m, err := fr.r.Read((*owned)[copied:])
		copied += m
		if err != nil && copied < n {
			putBuffer(owned)
			c.Release()
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if err := decodeFrame(*owned, owned, c); err != nil {
		c.Release() // decodeFrame attaches owned only on success
		putBuffer(owned)
		return nil, err
	}
	return c, nil
}

// fill makes at least n bytes available in buf[start:end]; n <= len(buf).
func (fr *FrameReader) fill(n int) error {
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start+n > len(fr.buf) {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	for fr.end-fr.start < n {
		if fr.BeforeRead != nil {
			fr.BeforeRead()
		}
		m, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += m
		if err != nil {
			if fr.end-fr.start >= n {
				return nil
			}
			if errors.Is(err, io.EOF) && fr.end > fr.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
