package namesrv

import (
	"fmt"
	"github.com/mqstore/mqstore/internal/fastjsonkeys"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// This file holds the JSON primitives shared by the body formats of the
// name server (route_json.go, cluster_json.go, register_body.go): an
// append-style string writer and the tolerant reading side.
//
// Java's fastjson writes the keys of a map whose keys are not strings bare:
// {0:"127.0.0.1:10911"}. That is not JSON, so the reading side first quotes
// such keys (quoteBareKeys) and then parses with github.com/valyala/fastjson.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. With ascii, every character
// beyond ASCII is written as \uXXXX (UTF-16, surrogate pairs above U+FFFF),
// as fastjson's BrowserCompatible feature does; otherwise UTF-8 is written
// as is. Invalid UTF-8 is written as U+FFFD.
func appendJSONString(dst []byte, s string, ascii bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if ascii {
				dst = appendU16(dst, utf8.RuneError)
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
			i += size
			start = i
			continue
		}
		if ascii {
			dst = append(dst, s[start:i]...)
			if r > 0xffff {
				r -= 0x10000
				dst = appendU16(dst, 0xd800+(r>>10))
				dst = appendU16(dst, 0xdc00+(r&0x3ff))
			} else {
				dst = appendU16(dst, r)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU16(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendIntKey appends a map key holding an integer: bare in the legacy
// (fastjson default) form, quoted in the standard form.
func appendIntKey(dst []byte, k int64, legacy bool) []byte {
	if legacy {
		return strconv.AppendInt(dst, k, 10)
	}
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, k, 10)
	return append(dst, '"')
}

// quoteBareKeys returns b with fastjson's non-string object keys ({0:"a"}, or an object as a
// key) quoted as JSON strings (fastjsonkeys.Quote). Text it cannot read is returned as it is,
// for the JSON parser to reject with its own error.
func quoteBareKeys(b []byte) []byte {
	out, err := fastjsonkeys.Quote(b)
	if err != nil {
		return b
	}
	return out
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var parserPool fastjson.ParserPool

// jsonMember returns member key of object v, or nil when it is absent or
// null.
func jsonMember(v *fastjson.Value, key string) *fastjson.Value {
	m := v.Get(key)
	if m == nil || m.Type() == fastjson.TypeNull {
		return nil
	}
	return m
}

// jsonInt64 returns integer member key of v; absent or null is 0.
func jsonInt64(v *fastjson.Value, key string) (int64, error) {
	m := jsonMember(v, key)
	if m == nil {
		return 0, nil
	}
	n, err := m.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", key, err)
	}
	return n, nil
}

// jsonInt returns integer member key of v as an int32-sized int; absent or
// null is 0.
func jsonInt(v *fastjson.Value, key string) (int, error) {
	n, err := jsonInt64(v, key)
	if err != nil {
		return 0, err
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, fmt.Errorf("%s: %d out of int32 range", key, n)
	}
	return int(n), nil
}

// jsonString returns string member key of v; absent or null is "".
func jsonString(v *fastjson.Value, key string) (string, error) {
	m := jsonMember(v, key)
	if m == nil {
		return "", nil
	}
	b, err := m.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: %v", key, err)
	}
	return string(b), nil
}

// jsonBool returns boolean member key of v; absent or null is false.
func jsonBool(v *fastjson.Value, key string) (bool, error) {
	m := jsonMember(v, key)
	if m == nil {
		return false, nil
	}
	t, err := m.Bool()
	if err != nil {
		return false, fmt.Errorf("%s: %v", key, err)
	}
	return t, nil
}
