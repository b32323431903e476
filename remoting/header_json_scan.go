package remoting

import (
	"math"
	"unicode/utf8"
)

// scan decodes the common shapes of a JSON header without fastjson: one
// flat object whose code/flag/opaque/version are plain integers, whose
// language and remark are strings, whose extFields is an object of string
// values, and whose other keys hold strings, integers, true, false or
// null. It returns false, having changed nothing visible, for anything
// else (errors included), and decode then uses fastjson, which defines the
// result: FuzzJSONHeader checks that both agree wherever scan succeeds.
func (d *jsonDecoder) scan(h []byte, c *Command) bool {
	var s scanner
	s.b = h
	s.ws()
	if !s.eat('{') {
		return false
	}
	var code, flag, opaque, version int32
	language := c.Language
	s.ws()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.ws()
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		switch string(key) {
		case "code":
			code, ok = s.int32()
		case "flag":
			flag, ok = s.int32()
		case "opaque":
			opaque, ok = s.int32()
		case "version":
			version, ok = s.int32()
		case "language":
			var name []byte
			if name, ok = s.plainString(); ok {
				language, _ = parseLanguageBytes(name)
			}
		case "remark":
			start := len(d.arena)
			if d.arena, ok = s.appendString(d.arena); ok {
				d.spans[0], d.spans[1] = start, len(d.arena)
			}
		case "extFields":
			ok = d.scanExt(&s)
		default:
			ok = s.skipScalar()
		}
		if !ok {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return false
	}
	if !s.end() {
		return false
	}
	c.Code, c.Flag, c.Opaque, c.Version, c.Language = code, flag, opaque, version, language
	return true
}

func (d *jsonDecoder) scanExt(s *scanner) bool {
	if s.null() {
		return true
	}
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		start := len(d.arena)
		key, ok := s.plainString()
		if !ok {
			return false
		}
		d.arena = append(d.arena, key...)
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if d.arena, ok = s.appendString(d.arena); !ok {
			return false
		}
		d.spans = append(d.spans, start, start+len(key), 0, len(d.arena))
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

type scanner struct {
	b   []byte
	off int
}

func (s *scanner) ws() {
	for s.off < len(s.b) {
		switch s.b[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

func (s *scanner) eat(ch byte) bool {
	if s.off < len(s.b) && s.b[s.off] == ch {
		s.off++
		return true
	}
	return false
}

func (s *scanner) end() bool {
	s.ws()
	return s.off == len(s.b)
}

func (s *scanner) null() bool {
	if len(s.b)-s.off >= 4 && string(s.b[s.off:s.off+4]) == "null" {
		s.off += 4
		return true
	}
	return false
}

// int32 reads -?[1-9][0-9]* or 0 within int32.
func (s *scanner) int32() (int32, bool) {
	neg := s.eat('-')
	start := s.off
	var n int64
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' && s.off-start < 11 {
		n = n*10 + int64(s.b[s.off]-'0')
		s.off++
	}
	digits := s.off - start
	if digits == 0 || digits > 10 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.off < len(s.b) {
		switch s.b[s.off] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}

// plainString reads a string without escapes and returns its contents.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.off
	for s.off < len(s.b) {
		switch s.b[s.off] {
		case '"':
			s.off++
			return s.b[start : s.off-1], true
		case '\\':
			return nil, false
		}
		s.off++
	}
	return nil, false
}

// appendString reads a string, unescaping it into dst. \u escapes of
// surrogates are left to fastjson.
func (s *scanner) appendString(dst []byte) ([]byte, bool) {
	if !s.eat('"') {
		return dst, false
	}
	start := s.off
	for s.off < len(s.b) {
		ch := s.b[s.off]
		if ch == '"' {
			dst = append(dst, s.b[start:s.off]...)
			s.off++
			return dst, true
		}
		if ch != '\\' {
			s.off++
			continue
		}
		dst = append(dst, s.b[start:s.off]...)
		if s.off+1 >= len(s.b) {
			return dst, false
		}
		esc := s.b[s.off+1]
		s.off += 2
		switch esc {
		case '"', '\\', '/':
			dst = append(dst, esc)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if len(s.b)-s.off < 4 {
				return dst, false
			}
			var r rune
			for _, h := range s.b[s.off : s.off+4] {
				switch {
				case h >= '0' && h <= '9':
					r = r<<4 | rune(h-'0')
				case h >= 'a' && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case h >= 'A' && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					return dst, false
				}
			}
			if r >= 0xD800 && r <= 0xDFFF {
				return dst, false
			}
			s.off += 4
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
		start = s.off
	}
	return dst, false
}

// skipScalar skips a string without escapes, an int32-sized integer,
// true, false or null.
func (s *scanner) skipScalar() bool {
	if s.off >= len(s.b) {
		return false
	}
	switch s.b[s.off] {
	case '"':
		_, ok := s.plainString()
		return ok
	case 't':
		return s.word("true")
	case 'f':
		return s.word("false")
	case 'n':
		return s.null()
	}
	_, ok := s.int32()
	return ok
}

func (s *scanner) word(w string) bool {
	if len(s.b)-s.off >= len(w) && string(s.b[s.off:s.off+len(w)]) == w {
		s.off += len(w)
		return true
	}
	return false
}
