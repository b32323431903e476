package filter

import (
	"errors"
	"testing"
)

// FuzzCompile feeds arbitrary text to the parser (seeds in testdata/fuzz/FuzzCompile): Compile
// either fails with ErrInvalid or returns an expression that evaluates, twice the same way,
// against several property sets without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"a > 5 AND b IN ('x', 'y')", "a is not null or TAGS = 'T'", "NOT (a between 1 and 2.5e3)",
		"c not contains 'x' and d startswith '' or e endswith 'z'", "- -5 = +5L", "x <> y", "'''' = a",
	} {
		f.Add(s)
	}
	sets := []Properties{
		nil,
		props("a", "7", "b", "x", "c", "1.5", "TAGS", "T", "x", "NaN", "y", "-0"),
		props("a", "abc", "b", "", "c", " 2 ", "d", "9223372036854775808", "e", "true"),
	}
	f.Fuzz(func(t *testing.T, sql string) {
		e, err := Compile(sql)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile(%q): %v does not wrap ErrInvalid", sql, err)
			}
			return
		}
		for _, p := range sets {
			if e.Match(p) != e.Match(p) {
				t.Fatalf("%q: Match is not deterministic", sql)
			}
		}
	})
}
