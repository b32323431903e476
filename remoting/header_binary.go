package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The ROCKETMQ header (serialize type 1, RocketMQSerializable.java,
// ../shared/spec/rocketmq.md §7.3), big-endian:
//
//	+---------+----------+---------+--------+--------+------------+--------+-----------+---------+
//	| code    | language | version | opaque | flag   | remark len | remark | ext len   | ext     |
//	| int16   | uint8    | int16   | int32  | int32  | int32      | UTF-8  | int32     | entries |
//	+---------+----------+---------+--------+--------+------------+--------+-----------+---------+
//	  0         2          3         5        9        13           17
//
//	ext entry: | key len int16 | key | value len int32 | value |
//
// A remark or ext length of 0 means null (we read it as ""). Every length is
// checked against the bytes left in the header; code and version must fit
// an int16 to be written (so 200050 POP_MESSAGE can only travel in JSON).
// Bytes after the ext entries are ignored, as Java does. The layout is
// frozen.
const binaryHeaderFixedSize = 2 + 1 + 2 + 4 + 4 + 4 + 4 // with both lengths, no data

func appendBinaryHeader(dst []byte, c *Command) ([]byte, error) {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 {
		return dst, fmt.Errorf("%w: code %d in a ROCKETMQ header", ErrFieldTooLong, c.Code)
	}
	if c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return dst, fmt.Errorf("%w: version %d in a ROCKETMQ header", ErrFieldTooLong, c.Version)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Code)))
	dst = append(dst, byte(c.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Version)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	extStart := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for _, f := range c.ExtFields {
		if len(f.Key) > math.MaxInt16 {
			return dst, fmt.Errorf("%w: ext key of %d bytes", ErrFieldTooLong, len(f.Key))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(f.Key)))
		dst = append(dst, f.Key...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Value)))
		dst = append(dst, f.Value...)
	}
	binary.BigEndian.PutUint32(dst[extStart:], uint32(len(dst)-extStart-4))
	return dst, nil
}

// binaryReader reads big-endian fields from a header with a sticky error.
type binaryReader struct {
	b   []byte
	off int
	bad bool
}

func (r *binaryReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *binaryReader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *binaryReader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *binaryReader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func decodeBinaryHeader(header []byte, c *Command) error {
	r := binaryReader{b: header}
	code := int16(r.u16())
	language := Language(r.u8())
	version := int16(r.u16())
	opaque := int32(r.u32())
	flag := int32(r.u32())
	remarkLen := int(int32(r.u32()))
	remarkStart := r.off
	r.take(remarkLen)
	remarkEnd := r.off
	extLen := int(int32(r.u32()))
	ext := r.take(extLen)
	extStart := r.off - len(ext)
	if r.bad {
		return fmt.Errorf("%w: ROCKETMQ header of %d bytes", ErrMalformedHeader, len(header))
	}
	c.Code = int32(code)
	c.Language = language
	c.Version = int32(version)
	c.Opaque = opaque
	c.Flag = flag
	if remarkLen == 0 && extLen == 0 {
		return nil
	}
	// One string holds remark and ext; fields are substrings of it. The
	// entries are checked as they are split (one pass); a malformed one
	// drops the fields taken so far.
	s := string(header[remarkStart : extStart+extLen])
	c.Remark = s[:remarkEnd-remarkStart]
	base := extStart - remarkStart
	fields := len(c.ExtFields)
	for off := 0; off < len(ext); {
		if len(ext)-off < 2 {
			return malformedExt(c, fields)
		}
		keyLen := int(binary.BigEndian.Uint16(ext[off:]))
		off += 2
		if keyLen > math.MaxInt16 || len(ext)-off < keyLen+4 {
			return malformedExt(c, fields)
		}
		keyAt := base + off
		off += keyLen
		valueLen := int(int32(binary.BigEndian.Uint32(ext[off:])))
		off += 4
		if valueLen < 0 || valueLen > len(ext)-off {
			return malformedExt(c, fields)
		}
		valueAt := base + off
		off += valueLen
		c.ExtFields = append(c.ExtFields, Field{Key: s[keyAt : keyAt+keyLen], Value: s[valueAt : valueAt+valueLen]})
	}
	return nil
}

// malformedExt undoes a partial decode of ext fields and returns the error.
func malformedExt(c *Command, fields int) error {
	clear(c.ExtFields[fields:])
	c.ExtFields = c.ExtFields[:fields]
	c.Remark = ""
	return fmt.Errorf("%w: ROCKETMQ ext fields", ErrMalformedHeader)
}
