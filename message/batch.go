package message

import (
	"encoding/binary"
	"math"
)

// This file encodes and decodes the body of SEND_BATCH_MESSAGE (request code
// 320), as the Java client (MessageDecoder.encodeMessages) and the Go client
// (primitive.Message.Marshal) write it: the entries concatenated, each
//
//	offset size  field
//	     0    4  TOTALSIZE   int32, the whole entry: 22 + n + p
//	     4    4  MAGICCODE   0 (not checked)
//	     8    4  BODYCRC     0 (not checked; the broker computes the record's)
//	    12    4  FLAG        int32
//	    16    4  BODYLEN     int32 >= 0
//	    20    n  BODY        never compressed
//	  20+n    2  PROPLEN     int16 >= 0
//	  22+n    p  PROPERTIES  see Properties
//
// The topic, queue, sysflag, born host and time are the batch's (from the
// request header). The layout is frozen: it is the clients'.

// batchEntryFixed is the size of an entry with empty body and properties.
const batchEntryFixed = 22

// DecodeBatch calls fn for each entry of a SEND_BATCH_MESSAGE body, in
// order. body and props alias the input. It stops at the first error fn
// returns and returns it. A malformed body (a length out of range, or a
// TOTALSIZE that differs from 22 + BODYLEN + PROPLEN) fails with
// ErrBadBatch; entries before the bad one have been passed to fn. An empty
// input is a batch of no entries. It never panics and does not allocate.
func DecodeBatch(data []byte, fn func(flag int32, body []byte, props Properties) error) error {
	be := binary.BigEndian
	for len(data) > 0 {
		if len(data) < batchEntryFixed {
			return ErrBadBatch
		}
		total := int64(int32(be.Uint32(data[0:])))
		flag := int32(be.Uint32(data[12:]))
		bodyLen := int64(int32(be.Uint32(data[16:])))
		if bodyLen < 0 || bodyLen > int64(len(data)-batchEntryFixed) {
			return ErrBadBatch
		}
		pos := 20 + int(bodyLen)
		body := data[20:pos:pos]
		propLen := int(int16(be.Uint16(data[pos:])))
		pos += 2
		if propLen < 0 || propLen > len(data)-pos {
			return ErrBadBatch
		}
		if total != int64(pos+propLen) {
			return ErrBadBatch
		}
		props := Properties(data[pos : pos+propLen : pos+propLen])
		if err := fn(flag, body, props); err != nil {
			return err
		}
		data = data[pos+propLen:]
	}
	return nil
}

// AppendBatchEntry appends one entry of a SEND_BATCH_MESSAGE body to dst.
// It fails with ErrPropertiesTooLong when props exceed MaxPropertiesLength
// and with ErrRecordTooLarge when the entry does not fit TOTALSIZE, returning
// dst unchanged.
func AppendBatchEntry(dst []byte, flag int32, body []byte, props Properties) ([]byte, error) {
	if len(props) > MaxPropertiesLength {
		return dst, ErrPropertiesTooLong
	}
	total := batchEntryFixed + len(body) + len(props)
	if total > math.MaxInt32 {
		return dst, ErrRecordTooLarge
	}
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(total))
	dst = be.AppendUint32(dst, 0) // MAGICCODE
	dst = be.AppendUint32(dst, 0) // BODYCRC
	dst = be.AppendUint32(dst, uint32(flag))
	dst = be.AppendUint32(dst, uint32(len(body)))
	dst = append(dst, body...)
	dst = be.AppendUint16(dst, uint16(len(props)))
	return append(dst, props...), nil
}
