// Package fastjsonkeys reads the JSON dialect Java's fastjson writes for maps with non-string
// keys, which RocketMQ uses on the wire and on disk (route tables, consumer offsets, topic and
// consume statistics): a key may be a bare number ({0:"a"}) or a whole object
// ({{"topic":"T","queueId":0}:{...}}). Quote turns such text into standard JSON by making every
// such key a JSON string of its text, so encoding/json or fastjson can parse it.
package fastjsonkeys

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on what Quote accepts (the input may come from the network).
const (
	MaxKeys  = 1 << 16 // object keys in the whole input
	MaxDepth = 64      // nesting of objects and arrays
)

// ErrMalformed marks input Quote cannot read.
var ErrMalformed = errors.New("fastjsonkeys: malformed fastjson text")

// Quote rewrites the fastjson peculiarities of map keys into JSON: a key that is an
// object ({"brokerName":...}:) or a bare number (0:) becomes a JSON string of its text. Other
// bytes are copied as they are, so valid JSON comes back unchanged. Nesting deeper than
// MaxDepth and more than MaxKeys keys are refused.
func Quote(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b)+len(b)/4)
	var stack []byte // '{' or '[' per open container
	expectKey := false
	keys := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case isSpace(c):
			out = append(out, c)
			i++
			continue
		case expectKey && c == '}': // an empty object
		case expectKey:
			keys++
			if keys > MaxKeys {
				return nil, fmt.Errorf("%w: more than %d keys", ErrMalformed, MaxKeys)
			}
			end, err := scanKey(b, i)
			if err != nil {
				return nil, err
			}
			if c == '"' {
				out = append(out, b[i:end]...)
			} else {
				q, _ := json.Marshal(string(b[i:end])) // a string always marshals
				out = append(out, q...)
			}
			i = end
			expectKey = false
			continue
		}
		switch c {
		case '"':
			end, err := scanString(b, i)
			if err != nil {
				return nil, err
			}
			out = append(out, b[i:end]...)
			i = end
			continue
		case '{', '[':
			if len(stack) == MaxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxDepth)
			}
			stack = append(stack, c)
			expectKey = c == '{'
		case '}', ']':
			if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
				return nil, fmt.Errorf("%w: unbalanced %q at %d", ErrMalformed, c, i)
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		}
		out = append(out, c)
		i++
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%w: %d containers left open", ErrMalformed, len(stack))
	}
	return out, nil
}

// scanKey returns the end of the map key starting at b[i]: a string, a balanced object (or
// array) or a bare token up to the colon.
func scanKey(b []byte, i int) (int, error) {
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end
				continue
			case '{', '[':
				depth++
				if depth > MaxDepth {
					return 0, fmt.Errorf("%w: key nested deeper than %d", ErrMalformed, MaxDepth)
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, fmt.Errorf("%w: key at %d not closed", ErrMalformed, i)
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ':', ' ', '\t', '\n', '\r', ',', '{', '}', '[', ']', '"':
			if j == i || (b[j] != ':' && !isSpace(b[j])) {
				return 0, fmt.Errorf("%w: bad key at %d", ErrMalformed, i)
			}
			return j, nil
		}
	}
	return 0, fmt.Errorf("%w: key at %d not followed by a colon", ErrMalformed, i)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanString returns the end of the JSON string starting at b[i] (a quote).
func scanString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: string at %d not closed", ErrMalformed, i)
}
