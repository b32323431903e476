package message

import (
	"unicode/utf8"
	"unsafe"
)

// JavaHashCode returns Java's String.hashCode of s: h = 31*h + c over the
// UTF-16 code units of the string, with int32 wrap-around. s is read as
// UTF-8; invalid sequences count as U+FFFD, one per maximal invalid subpart,
// as Java's UTF-8 decoder replaces them. ASCII strings take a fast path; it
// never allocates.
func JavaHashCode(s string) int32 {
	return JavaHashContinue(0, s)
}

// JavaHashContinue continues a Java String.hashCode h over s, as if s were appended to the
// string h was computed from: JavaHashContinue(JavaHashCode(a), b) == JavaHashCode(a + b). It
// hashes a concatenation without building it (the index hashes "topic#key" this way).
func JavaHashContinue(h int32, s string) int32 {
	i := 0
	// ASCII, four bytes at a time: h*31^4 + c0*31^3 + c1*31^2 + c2*31 + c3.
	for ; i+4 <= len(s); i += 4 {
		c0, c1, c2, c3 := s[i], s[i+1], s[i+2], s[i+3]
		if (c0|c1|c2|c3)&0x80 != 0 {
			break
		}
		h = h*923521 + int32(c0)*29791 + int32(c1)*961 + int32(c2)*31 + int32(c3)
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return javaHashSlow(h, s[i:])
		}
		h = 31*h + int32(c)
	}
	return h
}

// JavaHashCodeBytes is JavaHashCode of string(b), without the conversion.
func JavaHashCodeBytes(b []byte) int32 {
	var h int32
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			// javaHashSlow only reads the string and does not keep it.
			return javaHashSlow(h, unsafe.String(&b[i], len(b)-i))
		}
		h = 31*h + int32(c)
	}
	return h
}

// TagsHashCode is the tags code a consume-queue unit stores: the Java hashCode
// of the TAGS property sign-extended to int64, and 0 when there are no tags
// (Java MessageExtBrokerInner.tagsString2tagsCode).
func TagsHashCode(tags string) int64 {
	if tags == "" {
		return 0
	}
	return int64(JavaHashCode(tags))
}

func javaHashSlow(h int32, s string) int32 {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			size = invalidSubpart(s[i:])
		}
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
		} else {
			h = 31*h + int32(r)
		}
		i += size
	}
	return h
}

// invalidSubpart returns the length of the maximal subpart of an ill-formed
// UTF-8 sequence at the start of s (Unicode §3.9, "U+FFFD substitution of
// maximal subparts", which Java's decoder follows): the lead byte plus the
// continuation bytes that could still begin a well-formed sequence. At least 1.
func invalidSubpart(s string) int {
	lead := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 1
	case lead == 0xE0:
		need, lo = 2, 0xA0
	case lead >= 0xE1 && lead <= 0xEC, lead == 0xEE, lead == 0xEF:
		need = 2
	case lead == 0xED:
		need, hi = 2, 0x9F
	case lead == 0xF0:
		need, lo = 3, 0x90
	case lead >= 0xF1 && lead <= 0xF3:
		need = 3
	case lead == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(s); n++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}
