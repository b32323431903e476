package client

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/mqstore/mqstore/message"
)

// Body compression, as RocketMQ's producers do it: a body larger than WithCompressOver (4 KiB by
// default, Java's compressMsgBodyOverHowmuch) is zlib-compressed at level 5 and flagged with
// SysFlagCompressed|CompressionZLIB; consumers inflate flagged bodies (zlib, and zstd for 5.x
// producers). github.com/klauspost/compress is used for both: its zlib runs ~2.3× faster than the
// standard library's on this machine (spec performance.md §4.7) and it has zstd.
const (
	// DefaultCompressOver is the body size above which a producer compresses.
	DefaultCompressOver = 4096
	// compressLevel is Java's default (rocketmq.message.compressLevel).
	compressLevel = 5
	// maxInflated caps a decompressed body (a peer cannot make us allocate more).
	maxInflated = 64 << 20
)

// WithCompressOver sets the body size above which a producer zlib-compresses bodies (0 or
// negative: never). Batches are not compressed, as in RocketMQ.
func WithCompressOver(n int) Option { return func(c *config) { c.compressOver = n } }

var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, compressLevel) // a valid level cannot fail
	return w
}}

// compressBody returns body compressed and the sysflag to send with it, or body and sysFlag
// unchanged when compression does not apply or does not help.
func compressBody(body []byte, sysFlag int32, over int) ([]byte, int32) {
	if over <= 0 || len(body) <= over || sysFlag&message.SysFlagCompressed != 0 {
		return body, sysFlag
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 2)
	w := zlibWriters.Get().(*zlib.Writer)
	w.Reset(&buf)
	_, err := w.Write(body)
	if err == nil {
		err = w.Close()
	}
	zlibWriters.Put(w)
	if err != nil || buf.Len() >= len(body) {
		return body, sysFlag
	}
	return buf.Bytes(), sysFlag | message.SysFlagCompressed | message.CompressionZLIB
}

var zstdDecoders = sync.Pool{New: func() any {
	d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxInflated))
	return d
}}

// inflateBody returns the body of a record as the producer sent it: compressed bodies are
// inflated (zlib or zstd), others returned as they are.
func inflateBody(body []byte, sysFlag int32) ([]byte, error) {
	if sysFlag&message.SysFlagCompressed == 0 {
		return body, nil
	}
	switch message.CompressionType(sysFlag) {
	case message.CompressionZLIB:
		r, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%w: zlib body: %v", ErrBadResponse, err)
		}
		defer r.Close()
		out, err := io.ReadAll(io.LimitReader(r, maxInflated+1))
		if err != nil {
			return nil, fmt.Errorf("%w: zlib body: %v", ErrBadResponse, err)
		}
		if len(out) > maxInflated {
			return nil, fmt.Errorf("%w: body inflates beyond %d bytes", ErrBadResponse, maxInflated)
		}
		return out, nil
	case message.CompressionZSTD:
		d := zstdDecoders.Get().(*zstd.Decoder)
		defer zstdDecoders.Put(d)
		out, err := d.DecodeAll(body, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd body: %v", ErrBadResponse, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: unsupported body compression 0x%x", ErrBadResponse, message.CompressionType(sysFlag))
	}
}
