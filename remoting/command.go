package remoting

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Flag bits of Command.Flag (RemotingCommand RPC_TYPE and RPC_ONEWAY).
const (
	FlagResponse int32 = 1 << 0 // set on every response
	FlagOneway   int32 = 1 << 1 // set on oneway requests; no response is written
)

// SerializeType selects the header serialization of a frame.
type SerializeType uint8

// Header serializations. The numbers are wire values and frozen.
const (
	SerializeJSON     SerializeType = 0
	SerializeRocketMQ SerializeType = 1
)

// String returns "JSON" or "ROCKETMQ".
func (t SerializeType) String() string {
	switch t {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(t)) + ")"
}

// Field is one extension header field.
type Field struct {
	Key, Value string
}

// Fields are a command's extension header fields (RemotingCommand
// extFields) in insertion order. They are a slice rather than a map because
// headers carry a handful of fields and a linear scan of a few strings is
// cheaper than hashing; keys are unique when built with Set.
type Fields []Field

// Get returns the value of key and whether it is present.
func (f Fields) Get(key string) (string, bool) {
	for i := range f {
		if f[i].Key == key {
			return f[i].Value, true
		}
	}
	return "", false
}

// Set sets key to value, replacing an existing value.
func (f *Fields) Set(key, value string) {
	for i := range *f {
		if (*f)[i].Key == key {
			(*f)[i].Value = value
			return
		}
	}
	*f = append(*f, Field{key, value})
}

// Del removes key.
func (f *Fields) Del(key string) {
	for i := range *f {
		if (*f)[i].Key == key {
			*f = append((*f)[:i], (*f)[i+1:]...)
			return
		}
	}
}

// Command is one remoting request or response (RemotingCommand).
//
// The body written to the wire is Body followed by every slice of
// BodyParts, without copying: BodyParts lets a response carry slices of a
// memory mapping, and BodyRelease (if set) is called exactly once after the
// frame has been written or dropped, so the mapping can be released.
// Decoded commands carry their body in Body only.
type Command struct {
	Code      int32
	Language  Language
	Version   int32
	Opaque    int32
	Flag      int32
	Remark    string
	ExtFields Fields
	Body      []byte

	// BodyParts follow Body on the wire, written with one vectored write.
	BodyParts [][]byte
	// BodyRelease is called once, after the frame holding BodyParts was
	// written or dropped.
	BodyRelease func()

	// SerializeType is the header serialization: set on decode, copied
	// from the request by NewResponse, used on encode.
	SerializeType SerializeType

	// Internal ownership state; see the package comment.
	scratch []byte   // holds the values of AddExtBytes fields; kept across Release like ExtFields
	pooled  bool     // came from commandPool; Release puts it back
	buf     *[]byte  // pooled buffer that Body points into
	request *Command // request released after this response is written
	conn    *Conn    // connection a decoded request arrived on
	handler *route   // handler chosen for a decoded request
}

// DefaultVersion is the Version that NewRequest and NewResponse put in
// commands: 401, the MQVersion ordinal of V4_9_4, which makes Java name
// servers answer standard JSON (see ../shared/spec/rocketmq.md §7.9).
const DefaultVersion int32 = 401

var commandPool = sync.Pool{New: func() any { return new(Command) }}

// opaqueSeq numbers outgoing requests. It is process-wide, like the Java
// and Go clients' counters.
var opaqueSeq atomic.Int32

func nextOpaque() int32 { return opaqueSeq.Add(1) }

func acquireCommand() *Command {
	c := commandPool.Get().(*Command)
	c.pooled = true
	return c
}

// NewRequest returns a pooled request with the given code, Language Go,
// DefaultVersion and JSON headers. Opaque is assigned when it is sent.
func NewRequest(code RequestCode) *Command {
	c := acquireCommand()
	c.Code = int32(code)
	c.Language = LanguageGo
	c.Version = DefaultVersion
	return c
}

// NewResponse returns a pooled response to req: it echoes req's Opaque and
// SerializeType and has the response flag set.
func NewResponse(req *Command, code ResponseCode, remark string) *Command {
	c := acquireCommand()
	c.Code = int32(code)
	c.Language = LanguageJava
	c.Version = DefaultVersion
	c.Opaque = req.Opaque
	c.Flag = FlagResponse
	c.Remark = remark
	c.SerializeType = req.SerializeType
	return c
}

// ReplyInPlace turns req, a request a Handler received, into its own response
// with code and remark, and returns it, for a Handler to return: the response
// needs no command of its own. The request's ext fields and body are gone
// (its body buffer is kept until the response is released); strings read
// from its header stay valid. Like NewResponse, the response echoes Opaque
// and SerializeType and has the response flag set.
func ReplyInPlace(req *Command, code ResponseCode, remark string) *Command {
	clear(req.ExtFields)
	req.ExtFields = req.ExtFields[:0]
	req.Body = nil
	req.Code = int32(code)
	req.Language = LanguageJava
	req.Version = DefaultVersion
	req.Flag = req.Flag&FlagOneway | FlagResponse // a oneway request's answer is dropped
	req.Remark = remark
	return req
}

// IsResponse reports whether the response flag bit is set.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the oneway flag bit is set. (The Go client never
// sets it, even for oneway calls.)
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// RequestCode returns Code as a RequestCode.
func (c *Command) RequestCode() RequestCode { return RequestCode(c.Code) }

// ResponseCode returns Code as a ResponseCode.
func (c *Command) ResponseCode() ResponseCode { return ResponseCode(c.Code) }

// BodyLen returns the length of the body written to the wire: Body plus
// every slice of BodyParts.
func (c *Command) BodyLen() int {
	n := len(c.Body)
	for _, p := range c.BodyParts {
		n += len(p)
	}
	return n
}

// Release returns the command and its body buffer to their pools and runs
// BodyRelease if it has not run. The command must not be used afterwards.
// Releasing a command not made by this package only runs BodyRelease.
func (c *Command) Release() {
	if c == nil {
		return
	}
	if c.BodyRelease != nil {
		release := c.BodyRelease
		c.BodyRelease = nil
		release()
	}
	if c.request != nil {
		c.request.Release()
		c.request = nil
	}
	if !c.pooled {
		return
	}
	if c.buf != nil {
		putBuffer(c.buf)
	}
	// Only [:len] can hold references: the elements past it were cleared
	// when they were last released (an append writes below the new length;
	// Fields.Del leaves at most a copy of a kept field past the length).
	clear(c.ExtFields)
	fields := c.ExtFields[:0]
	clear(c.BodyParts)
	parts := c.BodyParts[:0]
	*c = Command{ExtFields: fields, BodyParts: parts, scratch: c.scratch[:0]}
	commandPool.Put(c)
}

// String formats the command for logs (without the body).
func (c *Command) String() string {
	code := RequestCode(c.Code).String()
	if c.IsResponse() {
		code = ResponseCode(c.Code).String()
	}
	return fmt.Sprintf("Command{code=%s language=%s version=%d opaque=%d flag=%d remark=%q ext=%v body=%dB serialize=%s}",
		code, c.Language, c.Version, c.Opaque, c.Flag, c.Remark, c.ExtFields, c.BodyLen(), c.SerializeType)
}

// Ext returns the extension field key, or "" if absent.
func (c *Command) Ext(key string) string {
	v, _ := c.ExtFields.Get(key)
	return v
}

// SetExt sets the extension field key.
func (c *Command) SetExt(key, value string) { c.ExtFields.Set(key, value) }

// AddExtBytes appends the extension field key with a copy of value kept in
// the command's own buffer, which a pooled command keeps across Release: once
// that buffer has grown, adding a field costs no allocation. The field's value
// is valid until the command is released (whoever keeps it longer copies it).
// Unlike SetExt it does not look for an existing key: for building a fresh
// command's fields.
func (c *Command) AddExtBytes(key string, value []byte) {
	if len(value) == 0 {
		c.ExtFields = append(c.ExtFields, Field{Key: key})
		return
	}
	if cap(c.scratch)-len(c.scratch) < len(value) {
		// A new buffer: the values added before keep the old one (never written again).
		c.scratch = make([]byte, 0, max(2*cap(c.scratch), len(value), 64))
	}
	start := len(c.scratch)
	c.scratch = append(c.scratch, value...)
	c.ExtFields = append(c.ExtFields, Field{Key: key, Value: unsafe.String(&c.scratch[start], len(value))})
}

// AddExtInt64 appends the extension field key with the decimal form of v,
// like AddExtBytes (no allocation once the command's buffer has grown; the
// value is valid until Release).
func (c *Command) AddExtInt64(key string, v int64) {
	var b [20]byte
	c.AddExtBytes(key, strconv.AppendInt(b[:0], v, 10))
}

// SetExtInt64 sets the extension field key to the decimal form of v.
func (c *Command) SetExtInt64(key string, v int64) {
	c.ExtFields.Set(key, strconv.FormatInt(v, 10))
}

// SetExtBool sets the extension field key to "true" or "false".
func (c *Command) SetExtBool(key string, v bool) {
	c.ExtFields.Set(key, strconv.FormatBool(v))
}

// GetString returns the extension field key, or ErrMissingField.
func (c *Command) GetString(key string) (string, error) {
	v, ok := c.ExtFields.Get(key)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrMissingField, key)
	}
	return v, nil
}

// GetInt64 parses the extension field key as a decimal int64. It fails
// with ErrMissingField or ErrBadField.
func (c *Command) GetInt64(key string) (int64, error) {
	return c.getInt(key, 64)
}

// GetInt32 parses the extension field key as a decimal int32. It fails
// with ErrMissingField or ErrBadField.
func (c *Command) GetInt32(key string) (int32, error) {
	v, err := c.getInt(key, 32)
	return int32(v), err
}

func (c *Command) getInt(key string, bits int) (int64, error) {
	s, ok := c.ExtFields.Get(key)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrMissingField, key)
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q: %v", ErrBadField, key, s, err)
	}
	return v, nil
}

// GetBool parses the extension field key as Java's Boolean.parseBoolean
// does: "true" in any case is true, anything else false. It fails with
// ErrMissingField only.
func (c *Command) GetBool(key string) (bool, error) {
	s, ok := c.ExtFields.Get(key)
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrMissingField, key)
	}
	return ParseBool(s), nil
}

// ParseBool is Java's Boolean.parseBoolean: "true" in any case is true,
// anything else false.
func ParseBool(s string) bool {
	return len(s) == 4 && (s[0]|0x20) == 't' && (s[1]|0x20) == 'r' && (s[2]|0x20) == 'u' && (s[3]|0x20) == 'e'
}
