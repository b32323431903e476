package filter

import (
	"fmt"
	"strings"
)

// tokenKind is a token of RocketMQ's SelectorParser.jj.
type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokComma
	tokEq  // =
	tokNe  // <>
	tokGt  // >
	tokGe  // >=
	tokLt  // <
	tokLe  // <=
	tokAdd // +
	tokSub // -
	tokDecimal
	tokFloat
	tokString
	tokID
	// Reserved words, case-insensitive.
	tokNot
	tokAnd
	tokOr
	tokBetween
	tokIn
	tokTrue
	tokFalse
	tokNull
	tokIs
	tokContains
	tokStartsWith
	tokEndsWith
)

var keywords = map[string]tokenKind{
	"NOT": tokNot, "AND": tokAnd, "OR": tokOr, "BETWEEN": tokBetween, "IN": tokIn,
	"TRUE": tokTrue, "FALSE": tokFalse, "NULL": tokNull, "IS": tokIs,
	"CONTAINS": tokContains, "STARTSWITH": tokStartsWith, "ENDSWITH": tokEndsWith,
}

var tokenNames = [...]string{
	tokEOF: "end of expression", tokLParen: "'('", tokRParen: "')'", tokComma: "','",
	tokEq: "'='", tokNe: "'<>'", tokGt: "'>'", tokGe: "'>='", tokLt: "'<'", tokLe: "'<='",
	tokAdd: "'+'", tokSub: "'-'", tokDecimal: "integer", tokFloat: "number", tokString: "string",
	tokID: "property name", tokNot: "NOT", tokAnd: "AND", tokOr: "OR", tokBetween: "BETWEEN",
	tokIn: "IN", tokTrue: "TRUE", tokFalse: "FALSE", tokNull: "NULL", tokIs: "IS",
	tokContains: "CONTAINS", tokStartsWith: "STARTSWITH", tokEndsWith: "ENDSWITH",
}

func (k tokenKind) String() string { return tokenNames[k] }

// token is one lexeme; text is the source text (a string literal's text is decoded).
type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the source
}

// lexer splits a selector into tokens: whitespace is space, tab, CR, LF and FF; comments are
// "--" up to a line end (a line end is required, as in RocketMQ) and "/* ... */".
type lexer struct {
	src string
	pos int
}

func isIDStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isIDPart(c byte) bool { return isIDStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("%s at position %d", fmt.Sprintf(format, args...), pos)
}

// skip passes whitespace and comments.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		switch c := l.src[l.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "--"):
			end := strings.IndexAny(l.src[l.pos:], "\r\n")
			if end < 0 {
				return l.errorf(l.pos, "comment not ended by a line end")
			}
			l.pos += end + 1
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(l.pos, "unterminated comment")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	one := func(k tokenKind) (token, error) {
		l.pos++
		return token{kind: k, text: l.src[start:l.pos], pos: start}, nil
	}
	two := func(k tokenKind) (token, error) {
		l.pos += 2
		return token{kind: k, text: l.src[start:l.pos], pos: start}, nil
	}
	peek := byte(0)
	if l.pos+1 < len(l.src) {
		peek = l.src[l.pos+1]
	}
	switch {
	case c == '(':
		return one(tokLParen)
	case c == ')':
		return one(tokRParen)
	case c == ',':
		return one(tokComma)
	case c == '=':
		return one(tokEq)
	case c == '+':
		return one(tokAdd)
	case c == '-':
		return one(tokSub)
	case c == '<' && peek == '>':
		return two(tokNe)
	case c == '<' && peek == '=':
		return two(tokLe)
	case c == '<':
		return one(tokLt)
	case c == '>' && peek == '=':
		return two(tokGe)
	case c == '>':
		return one(tokGt)
	case c == '\'':
		return l.stringLiteral()
	case isDigit(c) || c == '.' && isDigit(peek):
		return l.number()
	case isIDStart(c):
		for l.pos < len(l.src) && isIDPart(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		if k, ok := keywords[strings.ToUpper(text)]; ok {
			return token{kind: k, text: text, pos: start}, nil
		}
		return token{kind: tokID, text: text, pos: start}, nil
	}
	return token{}, l.errorf(start, "unexpected character %q", rune(c))
}

// stringLiteral reads '...' where ” stands for one quote.
func (l *lexer) stringLiteral() (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		i := strings.IndexByte(l.src[l.pos:], '\'')
		if i < 0 {
			return token{}, l.errorf(start, "unterminated string")
		}
		b.WriteString(l.src[l.pos : l.pos+i])
		l.pos += i + 1
		if l.pos < len(l.src) && l.src[l.pos] == '\'' {
			b.WriteByte('\'')
			l.pos++
			continue
		}
		return token{kind: tokString, text: b.String(), pos: start}, nil
	}
}

// number reads a DECIMAL_LITERAL ("0" | [1-9][0-9]* [lL]?) or a FLOATING_POINT_LITERAL
// (digits "." digits? exponent? | "." digits exponent? | digits exponent), longest match first.
func (l *lexer) number() (token, error) {
	start := l.pos
	digits := func() int {
		n := 0
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			n++
		}
		return n
	}
	exponent := func() bool {
		p := l.pos
		if p < len(l.src) && (l.src[p] == 'e' || l.src[p] == 'E') {
			p++
			if p < len(l.src) && (l.src[p] == '+' || l.src[p] == '-') {
				p++
			}
			if p < len(l.src) && isDigit(l.src[p]) {
				l.pos = p
				digits()
				return true
			}
		}
		return false
	}
	digits()
	isFloat := false
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		digits()
		exponent()
		isFloat = true
	} else if exponent() {
		isFloat = true
	}
	if isFloat {
		return token{kind: tokFloat, text: l.src[start:l.pos], pos: start}, nil
	}
	// A decimal literal: "0" alone ("01" is "0" then "1", "0L" is "0" then L), or digits
	// without a leading zero and an optional L.
	if l.src[start] == '0' {
		l.pos = start + 1
		return token{kind: tokDecimal, text: "0", pos: start}, nil
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'l' || l.src[l.pos] == 'L') {
		l.pos++
	}
	return token{kind: tokDecimal, text: l.src[start:l.pos], pos: start}, nil
}
