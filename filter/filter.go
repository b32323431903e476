// Package filter compiles and evaluates RocketMQ's SQL92 message selectors: the expressions a
// consumer subscribes with when its expression type is SQL92 (for example
// `a > 5 AND region IN ('eu', 'us') AND TAGS IS NOT NULL`).
//
// The grammar, the null logic and the type rules are RocketMQ's (filter module,
// SelectorParser.jj and the expression classes, themselves taken from ActiveMQ): every message
// property is a string; a string compared with a number literal is converted to the literal's
// type (int, long or double); a conversion that fails, or any other evaluation error, makes the
// whole expression not match; a comparison with an absent property is unknown (null), and an
// expression matches only when it evaluates to TRUE. docs/FILTERS.md lists the grammar and the
// semantics with examples.
//
// Compile once, evaluate many times: Match allocates nothing, and an Expression is immutable,
// safe for concurrent use.
package filter

import (
	"errors"
	"fmt"
)

// Expression types of a subscription (RocketMQ's ExpressionType).
const (
	// TypeTag is a tag list ("TagA || TagB", "*"). An empty type means TypeTag.
	TypeTag = "TAG"
	// TypeSQL92 is a SQL92 selector, compiled by Compile.
	TypeSQL92 = "SQL92"
)

// IsTagType reports whether an expression type is the tag type ("", "TAG"), as RocketMQ's
// ExpressionType.isTagType. Types are case-sensitive.
func IsTagType(expressionType string) bool {
	return expressionType == "" || expressionType == TypeTag
}

// Errors of Compile.
var (
	// ErrInvalid: the expression does not parse, or breaks a rule RocketMQ checks while parsing
	// (a NULL operand of =, a string operand of >, an empty BETWEEN range, ...). The wrapped
	// message says what and where.
	ErrInvalid = errors.New("invalid SQL92 expression")
	// ErrUnknownType: an expression type that is neither TAG nor SQL92.
	ErrUnknownType = errors.New("unknown expression type")
)

// Limits of Compile, so that a hostile subscription cannot exhaust memory or the stack.
const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 64 << 10
	// MaxDepth is the deepest nesting of parentheses, NOT and unary signs accepted.
	MaxDepth = 100
)

// Properties looks a message property up by name. The string it returns may alias the message
// record: Match never keeps it.
type Properties func(name string) (value string, ok bool)

// Expression is a compiled SQL92 selector.
type Expression struct {
	source string
	root   node
}

// Compile parses a SQL92 selector. The error wraps ErrInvalid and says what is wrong and where.
func Compile(sql string) (*Expression, error) {
	if len(sql) > MaxLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLength)
	}
	p := parser{lex: lexer{src: sql}}
	root, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &Expression{source: sql, root: root}, nil
}

// CompileType compiles an expression of the given type: nil (match all) for a tag type, the
// compiled selector for SQL92, ErrUnknownType for anything else.
func CompileType(expressionType, expression string) (*Expression, error) {
	switch {
	case IsTagType(expressionType):
		return nil, nil
	case expressionType == TypeSQL92:
		return Compile(expression)
	default:
		return nil, fmt.Errorf("%w %q (want %s or %s)", ErrUnknownType, expressionType, TypeTag, TypeSQL92)
	}
}

// Match reports whether a message with these properties is selected: the expression evaluates
// to TRUE. Unknown (null) and evaluation errors (a property that does not convert to the number
// it is compared with) do not match, as in RocketMQ's broker.
func (e *Expression) Match(props Properties) bool {
	v, ok := e.root.eval(props)
	return ok && v.kind == kindBool && v.b
}

// String returns the source text of the expression.
func (e *Expression) String() string { return e.source }
