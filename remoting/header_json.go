package remoting

import (
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/valyala/fastjson"
)

// The JSON header (serialize type 0) is fastjson's JSON.toJSONString of
// RemotingCommand (../shared/spec/rocketmq.md §7.2): an object with keys in
// alphabetical order and null values omitted,
//
//	{"code":310,"extFields":{"a":"g1","b":"T"},"flag":0,"language":"GO","opaque":7,"remark":"r","version":401}
//
//	code      int     request or response code
//	extFields object  string → string; written even when empty ({}), because
//	                  Java callers read it without a null check
//	flag      int     bit 0 response, bit 1 oneway
//	language  string  LanguageCode name ("JAVA", "GO", ...)
//	opaque    int     request id, echoed in the response
//	remark    string  omitted when empty
//	version   int     MQVersion ordinal
//
// Java adds "serializeTypeCurrentRPC":"JSON"; we do not write it and, like
// every decoder, ignore unknown keys. Decoding accepts any key order, a
// numeric language, null remark/extFields, and non-string extFields values
// (kept as their JSON text); a present code, flag, opaque or version must be
// an integer within int32. Every extFields value we write is a JSON string:
// the Go client drops a frame with any other value type
// (../shared/spec/clientgo.md §1).

var jsonDecoderPool = sync.Pool{New: func() any { return new(jsonDecoder) }}

// jsonDecoder holds the reusable state of one JSON header decode: the
// parser, and an arena collecting remark and extFields bytes so that they
// become one string allocation.
type jsonDecoder struct {
	parser fastjson.Parser
	arena  []byte
	spans  []int // remark [0,1], then key/value offsets in arena, 4 per field
	err    error
}

func decodeJSONHeader(header []byte, c *Command) error {
	d := jsonDecoderPool.Get().(*jsonDecoder)
	err := d.decode(header, c)
	if cap(d.arena) > 64<<10 {
		d.arena = nil
	}
	jsonDecoderPool.Put(d)
	return err
}

func (d *jsonDecoder) decode(header []byte, c *Command) error {
	d.arena = d.arena[:0]
	d.spans = append(d.spans[:0], 0, 0)
	if !d.scan(header, c) {
		d.arena = d.arena[:0]
		d.spans = append(d.spans[:0], 0, 0)
		if err := d.parse(header, c); err != nil {
			return err
		}
	}
	return d.finish(c)
}

// parse decodes header with fastjson, which accepts any JSON.
func (d *jsonDecoder) parse(header []byte, c *Command) error {
	v, err := d.parser.ParseBytes(header)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedHeader, err)
	}
	o, err := v.Object()
	if err != nil {
		return fmt.Errorf("%w: header is not an object", ErrMalformedHeader)
	}
	d.err = nil
	o.Visit(func(key []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		switch string(key) {
		case "code":
			c.Code, d.err = jsonInt32(v, "code")
		case "flag":
			c.Flag, d.err = jsonInt32(v, "flag")
		case "opaque":
			c.Opaque, d.err = jsonInt32(v, "opaque")
		case "version":
			c.Version, d.err = jsonInt32(v, "version")
		case "language":
			c.Language = jsonLanguage(v)
		case "remark":
			switch v.Type() {
			case fastjson.TypeString:
				d.spans[0] = len(d.arena)
				d.arena = append(d.arena, v.GetStringBytes()...)
				d.spans[1] = len(d.arena)
			case fastjson.TypeNull:
			default:
				d.err = fmt.Errorf("%w: remark is %s", ErrMalformedHeader, v.Type())
			}
		case "extFields":
			switch v.Type() {
			case fastjson.TypeObject:
				ext, _ := v.Object()
				ext.Visit(d.addField)
			case fastjson.TypeNull:
			default:
				d.err = fmt.Errorf("%w: extFields is %s", ErrMalformedHeader, v.Type())
			}
		}
	})
	return d.err
}

// finish turns the arena into one string and slices remark and ext fields
// from it.
func (d *jsonDecoder) finish(c *Command) error {
	if len(d.arena) == 0 {
		for i := 2; i < len(d.spans); i += 4 {
			c.ExtFields = append(c.ExtFields, Field{})
		}
		return nil
	}
	s := string(d.arena)
	c.Remark = s[d.spans[0]:d.spans[1]]
	for i := 2; i < len(d.spans); i += 4 {
		c.ExtFields = append(c.ExtFields, Field{Key: s[d.spans[i]:d.spans[i+1]], Value: s[d.spans[i+1]:d.spans[i+3]]})
	}
	return nil
}

// addField records one extFields entry; a null value is skipped (Java's
// map would hold null, which header decoding treats as absent).
func (d *jsonDecoder) addField(key []byte, v *fastjson.Value) {
	start := len(d.arena)
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeString:
		d.arena = append(d.arena, key...)
		d.arena = append(d.arena, v.GetStringBytes()...)
	default:
		d.arena = append(d.arena, key...)
		d.arena = v.MarshalTo(d.arena)
	}
	// key = [start, start+len(key)), value = [start+len(key), end)
	d.spans = append(d.spans, start, start+len(key), 0, len(d.arena))
}

func jsonInt32(v *fastjson.Value, name string) (int32, error) {
	if v.Type() == fastjson.TypeNull {
		return 0, nil
	}
	n, err := v.Int64()
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s is not an int32", ErrMalformedHeader, name)
	}
	return int32(n), nil
}

func jsonLanguage(v *fastjson.Value) Language {
	switch v.Type() {
	case fastjson.TypeString:
		l, _ := parseLanguageBytes(v.GetStringBytes())
		return l
	case fastjson.TypeNumber:
		n, err := v.Int()
		if err == nil && n >= 0 && n <= math.MaxUint8 {
			return Language(n)
		}
	}
	return LanguageOther
}

// appendJSONHeader appends the JSON header of c.
func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"extFields":{`...)
	for i, f := range c.ExtFields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Key)
		dst = append(dst, ':')
		dst = appendJSONString(dst, f.Value)
	}
	dst = append(dst, `},"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"language":"`...)
	if int(c.Language) < len(languageNames) {
		dst = append(dst, languageNames[c.Language]...)
	} else {
		dst = append(dst, "OTHER"...)
	}
	dst = append(dst, `","opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way fastjson (Java)
// writes it: '"' and '\\' escaped with a backslash, \b \f \n \r \t by
// name, other control characters below 0x20 as \u00XX. Everything else,
// including non-ASCII UTF-8 and '/', is written as is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
