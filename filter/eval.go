package filter

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// kind is the type of a value during evaluation: Java's null, Boolean, Integer, Long, Double
// and String, the only types a selector produces (literals and string properties).
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt // a Java int: i holds a value in int32 range
	kindLong
	kindDouble
	kindString
)

// value is one evaluated operand; passed by value, never allocated.
type value struct {
	kind kind
	b    bool
	i    int64
	f    float64
	s    string
}

var (
	nullValue  = value{}
	trueValue  = value{kind: kindBool, b: true}
	falseValue = value{kind: kindBool}
)

func boolValue(b bool) value {
	if b {
		return trueValue
	}
	return falseValue
}

func (v value) isNumber() bool {
	return v.kind == kindInt || v.kind == kindLong || v.kind == kindDouble
}

func (v value) toDouble() value {
	if v.kind == kindInt || v.kind == kindLong {
		return value{kind: kindDouble, f: float64(v.i)}
	}
	return v
}

// node is a compiled expression. eval returns ok=false on an evaluation error (RocketMQ throws:
// the message does not match, whatever the rest of the expression says).
type node interface {
	eval(props Properties) (v value, ok bool)
}

// constNode is a literal. A TRUE, FALSE or NULL literal is a boolean expression (RocketMQ's
// BooleanConstantExpression); string and number literals are not.
type constNode struct{ v value }

func (n *constNode) eval(Properties) (value, bool) { return n.v, true }

// propNode is a message property: a string, or null when the message does not have it.
type propNode struct{ name string }

func (n *propNode) eval(props Properties) (value, bool) {
	if props == nil {
		return nullValue, true
	}
	s, ok := props(n.name)
	if !ok {
		return nullValue, true
	}
	return value{kind: kindString, s: s}, true
}

// boolCastNode uses a property where a boolean is expected: null stays null, anything that is
// not a boolean (every property value) is FALSE.
type boolCastNode struct{ x node }

func (n *boolCastNode) eval(props Properties) (value, bool) {
	v, ok := n.x.eval(props)
	if !ok || v.kind == kindNull {
		return v, ok
	}
	if v.kind != kindBool {
		return falseValue, true
	}
	return v, true
}

// negNode is unary minus: numbers are negated in their own type (int wraps as Java's does),
// anything else is null.
type negNode struct{ x node }

func (n *negNode) eval(props Properties) (value, bool) {
	v, ok := n.x.eval(props)
	if !ok {
		return v, false
	}
	switch v.kind {
	case kindInt:
		return value{kind: kindInt, i: int64(-int32(v.i))}, true
	case kindLong:
		return value{kind: kindLong, i: -v.i}, true
	case kindDouble:
		return value{kind: kindDouble, f: -v.f}, true
	}
	return nullValue, true
}

// notNode is NOT: null stays null.
type notNode struct{ x node }

func (n *notNode) eval(props Properties) (value, bool) {
	v, ok := n.x.eval(props)
	if !ok || v.kind == kindNull {
		return v, ok
	}
	if v.kind != kindBool {
		return v, false // a ClassCastException in RocketMQ
	}
	return boolValue(!v.b), true
}

// andNode and orNode are three-valued AND and OR, evaluated left to right with a short cut
// on FALSE (AND) and TRUE (OR).
type andNode struct{ l, r node }

func (n *andNode) eval(props Properties) (value, bool) {
	lv, ok := n.l.eval(props)
	if !ok || lv.kind != kindNull && lv.kind != kindBool {
		return lv, false
	}
	if lv.kind == kindBool && !lv.b {
		return falseValue, true
	}
	rv, ok := n.r.eval(props)
	if !ok || rv.kind != kindNull && rv.kind != kindBool {
		return rv, false
	}
	if rv.kind == kindBool && !rv.b {
		return falseValue, true
	}
	if lv.kind == kindNull || rv.kind == kindNull {
		return nullValue, true
	}
	return trueValue, true
}

type orNode struct{ l, r node }

func (n *orNode) eval(props Properties) (value, bool) {
	lv, ok := n.l.eval(props)
	if !ok || lv.kind != kindNull && lv.kind != kindBool {
		return lv, false
	}
	if lv.kind == kindBool && lv.b {
		return trueValue, true
	}
	rv, ok := n.r.eval(props)
	if !ok || rv.kind != kindNull && rv.kind != kindBool {
		return rv, false
	}
	if rv.kind == kindBool && rv.b {
		return trueValue, true
	}
	if lv.kind == kindNull || rv.kind == kindNull {
		return nullValue, true
	}
	return falseValue, true
}

// eqNode is = (and IS NULL, with a NULL right side). One null side: null when the left is
// null, FALSE when only the right is; both null: TRUE. Otherwise values of different types
// are converted as compareValues does.
type eqNode struct{ l, r node }

func (n *eqNode) eval(props Properties) (value, bool) {
	lv, ok := n.l.eval(props)
	if !ok {
		return lv, false
	}
	rv, ok := n.r.eval(props)
	if !ok {
		return rv, false
	}
	lnull, rnull := lv.kind == kindNull, rv.kind == kindNull
	switch {
	case lnull && rnull:
		return trueValue, true
	case lnull:
		return nullValue, true
	case rnull:
		return falseValue, true
	}
	if javaEquals(lv, rv) {
		return trueValue, true
	}
	c, ok := compareValues(lv, rv)
	if !ok {
		return nullValue, false
	}
	return boolValue(c == 0), true
}

// cmpOp is one of >, >=, <, <=.
type cmpOp uint8

const (
	opGt cmpOp = iota
	opGe
	opLt
	opLe
)

// cmpNode is >, >=, < or <=: null when a side is null; two strings compare as doubles (an
// error when one does not parse); other pairs convert as compareValues does.
type cmpNode struct {
	op   cmpOp
	l, r node
}

func (n *cmpNode) eval(props Properties) (value, bool) {
	lv, ok := n.l.eval(props)
	if !ok || lv.kind == kindNull {
		return lv, ok
	}
	rv, ok := n.r.eval(props)
	if !ok || rv.kind == kindNull {
		return rv, ok
	}
	var c int
	if lv.kind == kindString && rv.kind == kindString {
		lf, ok1 := parseJavaDouble(lv.s)
		rf, ok2 := parseJavaDouble(rv.s)
		if !ok1 || !ok2 {
			return nullValue, false
		}
		c = compareDoubles(lf, rf)
	} else if c, ok = compareValues(lv, rv); !ok {
		return nullValue, false
	}
	switch n.op {
	case opGt:
		return boolValue(c > 0), true
	case opGe:
		return boolValue(c >= 0), true
	case opLt:
		return boolValue(c < 0), true
	default:
		return boolValue(c <= 0), true
	}
}

// inNode is IN / NOT IN over string literals: null when the property is absent.
type inNode struct {
	name string
	list []string            // small lists
	set  map[string]struct{} // lists of 5 or more
	not  bool
}

func (n *inNode) eval(props Properties) (value, bool) {
	if props == nil {
		return nullValue, true
	}
	s, ok := props(n.name)
	if !ok {
		return nullValue, true
	}
	var found bool
	if n.set != nil {
		_, found = n.set[s]
	} else {
		for _, e := range n.list {
			if e == s {
				found = true
				break
			}
		}
	}
	return boolValue(found != n.not), true
}

// strOp is CONTAINS, STARTSWITH or ENDSWITH.
type strOp uint8

const (
	opContains strOp = iota
	opStartsWith
	opEndsWith
)

// strOpNode is [NOT] CONTAINS / STARTSWITH / ENDSWITH: FALSE (never null) when the operand is
// null or not a string, or the search string is empty, for the NOT forms too.
type strOpNode struct {
	op     strOp
	not    bool
	x      node
	search string
}

func (n *strOpNode) eval(props Properties) (value, bool) {
	v, ok := n.x.eval(props)
	if !ok {
		return v, false
	}
	if n.search == "" || v.kind != kindString {
		return falseValue, true
	}
	var r bool
	switch n.op {
	case opContains:
		r = strings.Contains(v.s, n.search)
	case opStartsWith:
		r = strings.HasPrefix(v.s, n.search)
	default:
		r = strings.HasSuffix(v.s, n.search)
	}
	return boolValue(r != n.not), true
}

// javaEquals is Object.equals on two non-null values: same type and same value (a Double by
// its bits, so NaN equals NaN and 0.0 does not equal -0.0).
func javaEquals(a, b value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindBool:
		return a.b == b.b
	case kindInt, kindLong:
		return a.i == b.i
	case kindDouble:
		return javaDoubleBits(a.f) == javaDoubleBits(b.f)
	case kindString:
		return a.s == b.s
	}
	return true
}

// compareValues is RocketMQ's ComparisonExpression.__compare with string conversion on: values
// of different types are converted up (int → long → double) or, against a string, the string is
// parsed as the other side's type (Integer.valueOf, Long.valueOf, Double.valueOf,
// Boolean.valueOf). ok is false when a string does not parse (a NumberFormatException) or a
// boolean meets a string (a ClassCastException); a boolean against a number compares as -1.
func compareValues(lv, rv value) (int, bool) {
	if lv.kind != rv.kind {
		var ok bool
		switch lv.kind {
		case kindBool:
			if rv.kind == kindString {
				return 0, false
			}
			return -1, true
		case kindInt:
			switch rv.kind {
			case kindLong:
				lv.kind = kindLong
			case kindDouble:
				lv = lv.toDouble()
			case kindString:
				if rv, ok = parseJavaInt(rv.s, 32); !ok {
					return 0, false
				}
			default:
				return -1, true
			}
		case kindLong:
			switch rv.kind {
			case kindInt:
				rv.kind = kindLong
			case kindDouble:
				lv = lv.toDouble()
			case kindString:
				if rv, ok = parseJavaInt(rv.s, 64); !ok {
					return 0, false
				}
			default:
				return -1, true
			}
		case kindDouble:
			switch rv.kind {
			case kindInt, kindLong:
				rv = rv.toDouble()
			case kindString:
				f, ok := parseJavaDouble(rv.s)
				if !ok {
					return 0, false
				}
				rv = value{kind: kindDouble, f: f}
			default:
				return -1, true
			}
		case kindString:
			switch rv.kind {
			case kindBool:
				lv = boolValue(strings.EqualFold(lv.s, "true"))
			case kindInt:
				if lv, ok = parseJavaInt(lv.s, 32); !ok {
					return 0, false
				}
			case kindLong:
				if lv, ok = parseJavaInt(lv.s, 64); !ok {
					return 0, false
				}
			case kindDouble:
				f, ok := parseJavaDouble(lv.s)
				if !ok {
					return 0, false
				}
				lv = value{kind: kindDouble, f: f}
			default:
				return -1, true
			}
		default:
			return -1, true
		}
	}
	switch lv.kind {
	case kindBool:
		switch {
		case lv.b == rv.b:
			return 0, true
		case lv.b:
			return 1, true
		}
		return -1, true
	case kindInt, kindLong:
		switch {
		case lv.i < rv.i:
			return -1, true
		case lv.i > rv.i:
			return 1, true
		}
		return 0, true
	case kindDouble:
		return compareDoubles(lv.f, rv.f), true
	case kindString:
		return strings.Compare(lv.s, rv.s), true
	}
	return 0, true
}

// compareDoubles is Java's Double.compare: -0.0 < 0.0, and NaN is above everything and equal
// to itself.
func compareDoubles(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	ab, bb := javaDoubleBits(a), javaDoubleBits(b)
	switch {
	case ab == bb:
		return 0
	case ab < bb:
		return -1
	}
	return 1
}

// javaDoubleBits is Double.doubleToLongBits: the bits, with every NaN made canonical.
func javaDoubleBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

// parseJavaInt is Integer.valueOf (bits 32) or Long.valueOf (bits 64): an optional sign and
// decimal digits, nothing else.
func parseJavaInt(s string, bits int) (value, bool) {
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return nullValue, false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return nullValue, false // checked here: strconv's error would allocate
		}
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return nullValue, false
	}
	if bits == 32 {
		return value{kind: kindInt, i: n}, true
	}
	return value{kind: kindLong, i: n}, true
}

// parseJavaDouble is Double.valueOf: surrounding whitespace (bytes up to ' ') is trimmed; a
// sign, decimal or hexadecimal digits, an exponent, an optional f/F/d/D suffix; "NaN" and
// "Infinity" spelled exactly. A value out of range is ±Infinity or 0, not an error.
func parseJavaDouble(s string) (float64, bool) {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return 0, false
	}
	switch body {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'f', 'F', 'd', 'D':
			if !strings.HasPrefix(body, "0x") && !strings.HasPrefix(body, "0X") || strings.ContainsAny(s, "pP") {
				s = s[:n-1]
			}
		}
	}
	// Only the characters of a Java number: this refuses what Go accepts and Java does not
	// ("inf" and "nan" in any case, underscores), and keeps strconv's allocating error off the
	// common path of a non-numeric property.
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c), c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case c == '+', c == '-', c == '.', c == 'x', c == 'X', c == 'p', c == 'P':
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}
