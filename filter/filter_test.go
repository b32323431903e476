package filter

import (
	"errors"
	"strings"
	"testing"
)

// props builds a property lookup from name/value pairs.
func props(kv ...string) Properties {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// The cases of RocketMQ's ExpressionTest and ParserTest (filter module), with message
// properties as strings (a broker only ever sees strings), plus the type and null rules of
// ComparisonExpression, LogicExpression and UnaryExpression.
func TestMatch(t *testing.T) {
	const (
		and        = "a=3 and b<>4 And c>5 AND d<=4"
		or         = "a=3 or b<>4 Or c>5 OR d<=4"
		in         = "a in ('3', '4', '5')"
		notIn      = "a not in ('3', '4', '5')"
		between    = "a between 2 and 10"
		notBetween = "a not between 2 and 10"
		nullOr     = "a is null OR a='hello'"
		boolean    = "a=TRUE OR b=FALSE"
	)
	cases := []struct {
		expr  string
		props Properties
		want  bool
	}{
		{and, props("a", "3", "b", "5", "c", "6", "d", "1"), true},
		{and, props("a", "4", "b", "5", "c", "6", "d", "1"), false},
		{or, props("a", "3"), true},
		{or, props("a", "4", "b", "5"), true},
		{or, props("a", "4", "b", "4", "c", "6"), true},
		{or, props("a", "4", "b", "4", "c", "3", "d", "2"), true},
		{or, props("a", "4", "b", "4", "c", "3", "d", "10"), false},
		{in, props("a", "3"), true},
		{in, props("a", "5"), true},
		{in, props("a", "8"), false},
		{in, props(), false},
		{notIn, props("a", "8"), true},
		{notIn, props("a", "4"), false},
		{notIn, props(), false},                                   // null, not TRUE
		{"a in ('1','2','3','4','5','6')", props("a", "6"), true}, // the set form
		{"a not in ('1','2','3','4','5','6')", props("a", "7"), true},
		{between, props("a", "2"), true},
		{between, props("a", "10"), true},
		{between, props("a", "3"), true},
		{between, props("a", "1"), false},
		{between, props("a", "11"), false},
		{notBetween, props("a", "1"), true},
		{notBetween, props("a", "11"), true},
		{notBetween, props("a", "3"), false},
		{notBetween, props(), false},
		{"a is null", props("abc", "2"), true},
		{"a is null", props("a", "2"), false},
		{"a is not null", props("a", "2"), true},
		{"a is not null", props("abc", "2"), false},
		{"a is not null and a='hello'", props("a", "hello"), true},
		{"a is not null and a='hello'", props(), false},
		{nullOr, props(), true},
		{nullOr, props("a", "hello"), true},
		{nullOr, props("a", "abc"), false},
		{boolean, props("a", "true", "b", "false"), true},
		{boolean, props("a", "false", "b", "true"), false},
		{"a = TRUE", props("a", "TrUe"), true},    // Boolean.valueOf ignores case
		{"a = FALSE", props("a", "banana"), true}, // and anything else is false
		{"TAGS is not null and TAGS='''''tag'''''", props("TAGS", "''tag''"), true},
		{"a > 3.1E10", props("a", "3.1415E10"), true},
		{"a > 3.14", props("a", "3.1415"), true},
		{"a > b", props("a", "10", "b", "20"), false},
		{"a > b", props("a", "20", "b", "10"), true},
		{"a = b", props("a", "3.14", "b", "3.14"), true},
		{"a <> b", props("a", "3.14", "b", "3.14"), false},
		{"a <> b", props("a", "3.14", "b", "3.141"), true},
		{"a > b", props("a", "1e3", "b", " 999 "), true}, // two strings compare as doubles (trimmed)
		{"a > b", props("a", "x", "b", "1"), false},      // error → no match
		{"a between 0 and 100", props("a", "abc"), false},
		{"key is not null and key between 0 and 100", props("key", "con"), false},
		// Numbers: a property converts to the literal's type.
		{"a = 3", props("a", "3"), true},
		{"a = 3", props("a", "+3"), true},
		{"a = 3", props("a", "3.0"), false},                // Integer.valueOf fails: error
		{"a = 3.0", props("a", "3"), true},                 // Double.valueOf("3")
		{"a > 1", props("a", "3000000000"), false},         // not an int: error
		{"a > 1L", props("a", "3000000000"), false},        // 1L is still an int
		{"a > 2147483648", props("a", "3000000000"), true}, // a long literal
		{"a < 0.5", props("a", "1e-3"), true},
		{"a > 1.5", props("a", "2d"), true}, // Java's double suffix
		{"a > 1.5", props("a", "Infinity"), true},
		{"a > 1.5", props("a", "inf"), false},
		{"a > 1.5", props("a", "NaN"), true}, // NaN sorts above everything
		{"a = -5", props("a", "-5"), true},
		{"-a = 5", props("a", "-5"), false}, // negating a string is null
		{"- -5 = 5", nil, true},
		{"3 = 3.0", nil, true},
		{"2147483648 > 2147483647", nil, true},
		{"1 = TRUE", nil, false},
		// Errors end the evaluation: left-to-right with short cuts.
		{"a = 1 OR b = 'x'", props("a", "abc", "b", "x"), false},
		{"b = 'x' OR a = 1", props("a", "abc", "b", "x"), true},
		{"a = 1 AND b = 'x'", props("a", "2", "b", "x"), false},
		// Null logic: AND/OR/NOT are three-valued; only TRUE matches.
		{"a = 1", props(), false},
		{"a <> 1", props(), false},
		{"1 <> a", props(), true}, // RocketMQ: only a null left side is unknown
		{"1 = a", props(), false},
		{"NOT (a = 1)", props(), false},
		{"a = 1 OR TRUE", props(), true},
		{"a = 1 AND FALSE", props(), false},
		{"NOT (a = 1 AND TRUE)", props(), false},
		{"NULL IS NULL", nil, true},
		{"NULL", nil, false},
		{"TRUE", nil, true},
		{"FALSE", nil, false},
		{"a", props("a", "true"), false}, // a property is never a boolean
		{"NOT a", props("a", "true"), true},
		{"NOT a", props(), false},
		{"NOT a = 1", props("a", "1"), false}, // (NOT a) = 1: NOT binds tightest
		// Strings.
		{"a = 'hello'", props("a", "hello"), true},
		{"a = 'hello'", props("a", "Hello"), false},
		{"a = 'it''s'", props("a", "it's"), true},
		{"TAGS = 'TagA'", props("TAGS", "TagA"), true},
		{"value contains 'x'", props("value", "axb"), true},
		{"value startswith 'ax'", props("value", "axb"), true},
		{"value endswith 'xb'", props("value", "axb"), true},
		{"value not contains 'x'", props("value", "axb"), false},
		{"value not contains 'x'", props("value", "abb"), true},
		{"value contains ''", props("value", "axb"), false},
		{"value not contains ''", props("value", "axb"), false},
		{"value not startswith 'x'", props(), false},
		{"'axb' contains 'x'", nil, true},
		{"' ' endswith ' '", nil, true},
		{"a not in ('4', '4', '5') and b between 3 and 10 and c not contains 'axbc'", props("a", "3", "b", "3", "c", "axbdc"), true},
		// Case-insensitive keywords, comments, case-sensitive names.
		{"a Is NoT nUlL /* comment */ -- line\n", props("a", "x"), true},
		{"A = 1", props("a", "1"), false},
		{"$x_1 = 'y'", props("$x_1", "y"), true},
	}
	for _, c := range cases {
		e, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		if got := e.Match(c.props); got != c.want {
			t.Errorf("%q: Match = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"a and between 2 and 10", "BETWEEN"},
		{" a between 10 and 0", "not in order"},
		{"a > 100000000000000000000000", "out of the long range"},
		{"a > 1" + strings.Repeat("1", 400) + ".5", "greater than"},
		{"a > 0.0", "less than"},
		{"a = NULL", "IS NULL"},
		{"NULL = a", "IS NULL"},
		{"TRUE = 1", "cannot be compared"},
		{"a > 'x'", "cannot be compared"},
		{"a > TRUE", "cannot be compared"},
		{"a > (b = 1)", "cannot be compared"},
		{"a between 'x' and 'y'", "cannot be compared"},
		{"a between 1 and NULL", "NULL"},
		{"5 in ('5')", "property"},
		{"a in (5)", "expected string"},
		{"a in ()", "expected string"},
		{"a contains x", "expected string"},
		{"'axb' contains ", "expected string"},
		{"1", "boolean"},
		{"'x' AND a", "boolean"},
		{"NOT 5", "boolean"},
		{"-a", "boolean"},
		{"a = 1 b = 2", "unexpected"},
		{"a = 1)", "unexpected"},
		{"(a = 1", "expected ')'"},
		{"a == 1", "found '='"},
		{"a != 1", "unexpected character"},
		{"a = 'x", "unterminated string"},
		{"a = 1 -- no line end", "comment"},
		{"a = 1 /* open", "comment"},
		{"a is 1", "NULL"},
		{"", "found end of expression"},
		{"a.b = 1", "unexpected character"},
		{strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1), "nested"},
		{strings.Repeat(" ", MaxLength+1), "longer"},
	}
	for _, c := range cases {
		_, err := Compile(c.expr)
		if err == nil {
			t.Errorf("Compile(%.60q) succeeded, want an error containing %q", c.expr, c.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%.60q) = %v, want ErrInvalid containing %q", c.expr, err, c.want)
		}
	}
}

func TestCompileType(t *testing.T) {
	for _, typ := range []string{"", "TAG"} {
		if e, err := CompileType(typ, "a > 1 ||| junk"); e != nil || err != nil {
			t.Errorf("CompileType(%q) = %v, %v; want nil, nil", typ, e, err)
		}
	}
	if e, err := CompileType("SQL92", "a > 1"); err != nil || e == nil || e.String() != "a > 1" {
		t.Errorf("CompileType(SQL92) = %v, %v", e, err)
	}
	if _, err := CompileType("sql92", "a > 1"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("CompileType(sql92) = %v, want ErrUnknownType", err)
	}
}

func TestMatchAllocs(t *testing.T) {
	e, err := Compile("(a > 5 AND b IN ('x', 'y', 'z', 'w', 'v')) OR c BETWEEN 1.5 AND 9 OR d = 'q' OR e = 3")
	if err != nil {
		t.Fatal(err)
	}
	p := props("a", "7", "b", "w", "c", "nope", "e", "abc")
	if n := testing.AllocsPerRun(100, func() { e.Match(p) }); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}
