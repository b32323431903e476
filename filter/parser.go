package filter

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parser is a recursive-descent parser of SelectorParser.jj's grammar:
//
//	selector    = or EOF
//	or          = and { OR and }
//	and         = equality { AND equality }
//	equality    = comparison { ("=" | "<>") comparison | IS [NOT] NULL }
//	comparison  = unary { (">" | ">=" | "<" | "<=") unary
//	                    | [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string
//	                    | [NOT] BETWEEN unary AND unary
//	                    | [NOT] IN "(" string { "," string } ")" }
//	unary       = "+" unary | "-" unary | NOT unary | primary
//	primary     = literal | property | "(" or ")"
//	literal     = string | decimal | float | TRUE | FALSE | NULL
//
// It also applies the checks RocketMQ makes while building the tree (asBooleanExpression,
// checkEqualOperand, checkLessThanOperand, createBetween, createInFilter). Unlike RocketMQ, which
// stops at the first token that does not continue the expression and ignores the rest
// ("a = 1 b = 2" selects on a = 1), trailing tokens are an error.
type parser struct {
	lex    lexer
	tokens []token
	pos    int
	depth  int
}

var errTooDeep = errors.New("nested too deeply")

func (p *parser) parse() (node, error) {
	for {
		t, err := p.lex.next()
		if err != nil {
			return nil, err
		}
		p.tokens = append(p.tokens, t)
		if t.kind == tokEOF {
			break
		}
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t, "")
	}
	return asBoolean(n, 0)
}

func (p *parser) peek() token { return p.tokens[p.pos] }

// peek2 is the token after the next one (EOF at the end).
func (p *parser) peek2() token {
	if p.pos+1 < len(p.tokens) {
		return p.tokens[p.pos+1]
	}
	return p.tokens[len(p.tokens)-1]
}

func (p *parser) advance() token {
	t := p.tokens[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) unexpected(t token, want string) error {
	what := t.kind.String()
	if t.kind != tokEOF {
		what = fmt.Sprintf("%s %q", what, t.text)
	}
	if want != "" {
		return fmt.Errorf("expected %s but found %s at position %d", want, what, t.pos)
	}
	return fmt.Errorf("unexpected %s at position %d", what, t.pos)
}

func (p *parser) expect(k tokenKind) (token, error) {
	if t := p.peek(); t.kind != k {
		return t, p.unexpected(t, k.String())
	}
	return p.advance(), nil
}

func (p *parser) or() (node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokOr {
		op := p.advance()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		if left, err = logic(op, left, right); err != nil {
			return nil, err
		}
	}
	return left, nil
}

func (p *parser) and() (node, error) {
	left, err := p.equality()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokAnd {
		op := p.advance()
		right, err := p.equality()
		if err != nil {
			return nil, err
		}
		if left, err = logic(op, left, right); err != nil {
			return nil, err
		}
	}
	return left, nil
}

// logic builds AND or OR of two boolean operands.
func logic(op token, left, right node) (node, error) {
	l, err := asBoolean(left, op.pos)
	if err != nil {
		return nil, err
	}
	r, err := asBoolean(right, op.pos)
	if err != nil {
		return nil, err
	}
	if op.kind == tokAnd {
		return &andNode{l, r}, nil
	}
	return &orNode{l, r}, nil
}

func (p *parser) equality() (node, error) {
	left, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		switch {
		case op.kind == tokEq || op.kind == tokNe:
			p.advance()
			right, err := p.comparison()
			if err != nil {
				return nil, err
			}
			if err := checkEqualOperands(op, left, right); err != nil {
				return nil, err
			}
			left = &eqNode{left, right}
			if op.kind == tokNe {
				left = &notNode{left}
			}
		case op.kind == tokIs && p.peek2().kind == tokNull:
			p.advance()
			p.advance()
			left = &eqNode{left, &constNode{nullValue}}
		case op.kind == tokIs && p.peek2().kind == tokNot:
			p.advance()
			p.advance()
			if _, err := p.expect(tokNull); err != nil {
				return nil, err
			}
			left = &notNode{&eqNode{left, &constNode{nullValue}}}
		case op.kind == tokIs:
			p.advance()
			return nil, p.unexpected(p.peek(), "NULL or NOT NULL")
		default:
			return left, nil
		}
	}
}

func (p *parser) comparison() (node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		not := false
		if op.kind == tokNot {
			switch p.peek2().kind {
			case tokContains, tokStartsWith, tokEndsWith, tokBetween, tokIn:
				p.advance()
				op, not = p.peek(), true
			default:
				return left, nil
			}
		}
		switch op.kind {
		case tokGt, tokGe, tokLt, tokLe:
			p.advance()
			right, err := p.unary()
			if err != nil {
				return nil, err
			}
			if left, err = compare(op, left, right); err != nil {
				return nil, err
			}
		case tokContains, tokStartsWith, tokEndsWith:
			p.advance()
			s, err := p.expect(tokString)
			if err != nil {
				return nil, err
			}
			n := &strOpNode{not: not, x: left, search: s.text}
			switch op.kind {
			case tokStartsWith:
				n.op = opStartsWith
			case tokEndsWith:
				n.op = opEndsWith
			}
			left = n
		case tokBetween:
			p.advance()
			low, err := p.unary()
			if err != nil {
				return nil, err
			}
			and, err := p.expect(tokAnd)
			if err != nil {
				return nil, err
			}
			high, err := p.unary()
			if err != nil {
				return nil, err
			}
			if left, err = between(op, and, left, low, high, not); err != nil {
				return nil, err
			}
		case tokIn:
			p.advance()
			prop, ok := left.(*propNode)
			if !ok {
				return nil, fmt.Errorf("IN at position %d needs a property on its left", op.pos)
			}
			if _, err := p.expect(tokLParen); err != nil {
				return nil, err
			}
			n := &inNode{name: prop.name, not: not}
			for {
				s, err := p.expect(tokString)
				if err != nil {
					return nil, err
				}
				n.list = append(n.list, s.text)
				if p.peek().kind != tokComma {
					break
				}
				p.advance()
			}
			if _, err := p.expect(tokRParen); err != nil {
				return nil, err
			}
			if len(n.list) >= 5 {
				n.set = make(map[string]struct{}, len(n.list))
				for _, s := range n.list {
					n.set[s] = struct{}{}
				}
				n.list = nil
			}
			left = n
		default:
			return left, nil
		}
	}
}

func (p *parser) unary() (node, error) {
	if p.depth++; p.depth > MaxDepth {
		return nil, fmt.Errorf("%w (more than %d levels) at position %d", errTooDeep, MaxDepth, p.peek().pos)
	}
	defer func() { p.depth-- }()
	switch t := p.peek(); t.kind {
	case tokAdd:
		p.advance()
		return p.unary()
	case tokSub:
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &negNode{x}, nil
	case tokNot:
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		b, err := asBoolean(x, t.pos)
		if err != nil {
			return nil, err
		}
		return &notNode{b}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.advance()
	switch t.kind {
	case tokString:
		return &constNode{value{kind: kindString, s: t.text}}, nil
	case tokDecimal:
		return decimal(t)
	case tokFloat:
		return float(t)
	case tokTrue:
		return &constNode{trueValue}, nil
	case tokFalse:
		return &constNode{falseValue}, nil
	case tokNull:
		return &constNode{nullValue}, nil
	case tokID:
		return &propNode{t.text}, nil
	case tokLParen:
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, p.unexpected(t, "a value, a property or '('")
}

// decimal is ConstantExpression.createFromDecimal: a long, narrowed to an int when it fits.
func decimal(t token) (node, error) {
	text := strings.TrimRight(t.text, "lL")
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("integer %s at position %d is out of the long range", t.text, t.pos)
	}
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return &constNode{value{kind: kindInt, i: n}}, nil
	}
	return &constNode{value{kind: kindLong, i: n}}, nil
}

// float is ConstantExpression.createFloat, which refuses values above Double.MAX_VALUE and
// below Double.MIN_VALUE (the smallest positive double): a literal 0.0 is refused too, as in
// RocketMQ (write 0).
func float(t token) (node, error) {
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("bad number %s at position %d", t.text, t.pos)
	}
	if f > math.MaxFloat64 {
		return nil, fmt.Errorf("number %s at position %d is greater than %g", t.text, t.pos, math.MaxFloat64)
	}
	if f < math.SmallestNonzeroFloat64 {
		return nil, fmt.Errorf("number %s at position %d is less than %g (write an integer)", t.text, t.pos, math.SmallestNonzeroFloat64)
	}
	return &constNode{value{kind: kindDouble, f: f}}, nil
}

// isBoolean reports whether n is a boolean expression: a comparison, a logical operator or a
// TRUE, FALSE or NULL literal.
func isBoolean(n node) bool {
	switch n := n.(type) {
	case *constNode:
		return n.v.kind == kindBool || n.v.kind == kindNull
	case *propNode, *negNode:
		return false
	}
	return true
}

// asBoolean is asBooleanExpression: a boolean expression as is, a property cast to boolean,
// anything else an error.
func asBoolean(n node, pos int) (node, error) {
	if isBoolean(n) {
		return n, nil
	}
	if _, ok := n.(*propNode); ok {
		return &boolCastNode{n}, nil
	}
	return nil, fmt.Errorf("%s near position %d will not result in a boolean value", describe(n), pos)
}

// describe names an operand in an error message.
func describe(n node) string {
	switch n := n.(type) {
	case *constNode:
		switch n.v.kind {
		case kindString:
			return fmt.Sprintf("the string '%s'", strings.ReplaceAll(n.v.s, "'", "''"))
		case kindInt, kindLong:
			return fmt.Sprintf("the number %d", n.v.i)
		case kindDouble:
			return fmt.Sprintf("the number %g", n.v.f)
		case kindBool:
			return strings.ToUpper(strconv.FormatBool(n.v.b))
		}
		return "NULL"
	case *propNode:
		return "the property " + n.name
	case *negNode:
		return "a negated value"
	}
	return "a condition"
}

// checkEqualOperands is checkEqualOperand on both sides (no NULL literal: use IS NULL) and
// checkEqualOperandCompatability (a TRUE/FALSE literal is not compared with another literal).
func checkEqualOperands(op token, left, right node) error {
	for _, n := range [2]node{left, right} {
		if c, ok := n.(*constNode); ok && c.v.kind == kindNull {
			return fmt.Errorf("NULL cannot be compared with %s at position %d (use IS NULL)", op.text, op.pos)
		}
	}
	lc, lok := left.(*constNode)
	rc, rok := right.(*constNode)
	if lok && rok && lc.v.kind == kindBool && rc.v.kind != kindBool {
		return fmt.Errorf("%s cannot be compared with %s at position %d", describe(left), describe(right), op.pos)
	}
	return nil
}

// checkLessThanOperand: >, >=, <, <= and BETWEEN take numbers, properties or negations, never a
// string, boolean or NULL literal nor a condition.
func checkLessThanOperand(op token, n node) error {
	if c, ok := n.(*constNode); ok {
		if c.v.isNumber() {
			return nil
		}
		return fmt.Errorf("%s cannot be compared with %s at position %d (only numbers can)", describe(n), op.text, op.pos)
	}
	if isBoolean(n) {
		return fmt.Errorf("%s cannot be compared with %s at position %d", describe(n), op.text, op.pos)
	}
	return nil
}

func compare(op token, left, right node) (node, error) {
	if err := checkLessThanOperand(op, left); err != nil {
		return nil, err
	}
	if err := checkLessThanOperand(op, right); err != nil {
		return nil, err
	}
	n := &cmpNode{l: left, r: right}
	switch op.kind {
	case tokGe:
		n.op = opGe
	case tokLt:
		n.op = opLt
	case tokLe:
		n.op = opLe
	}
	return n, nil
}

// between is createBetween (x >= low AND x <= high; two literal bounds must not be NULL and
// must be in order) or createNotBetween (x < low OR x > high).
func between(op, and token, x, low, high node, not bool) (node, error) {
	if not {
		lt, err := compare(token{kind: tokLt, text: "NOT BETWEEN", pos: op.pos}, x, low)
		if err != nil {
			return nil, err
		}
		gt, err := compare(token{kind: tokGt, text: "NOT BETWEEN", pos: op.pos}, x, high)
		if err != nil {
			return nil, err
		}
		return &orNode{lt, gt}, nil
	}
	lc, lok := low.(*constNode)
	hc, hok := high.(*constNode)
	if lok && hok {
		if lc.v.kind == kindNull || hc.v.kind == kindNull {
			return nil, fmt.Errorf("the bounds of BETWEEN at position %d cannot be NULL", op.pos)
		}
		if c, ok := compareValues(hc.v, lc.v); !ok || c < 0 {
			return nil, fmt.Errorf("the bounds of BETWEEN at position %d are not in order: %s must be less than or equal to %s",
				op.pos, describe(low), describe(high))
		}
	}
	ge, err := compare(token{kind: tokGe, text: "BETWEEN", pos: op.pos}, x, low)
	if err != nil {
		return nil, err
	}
	le, err := compare(token{kind: tokLe, text: "BETWEEN", pos: and.pos}, x, high)
	if err != nil {
		return nil, err
	}
	return &andNode{ge, le}, nil
}
