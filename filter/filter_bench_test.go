package filter

import "testing"

// BenchmarkMatch measures one evaluation against a lookup over 6 properties.
func BenchmarkMatch(b *testing.B) {
	p := props("seq", "4711", "region", "eu", "TAGS", "TagA", "KEYS", "k1", "UNIQ_KEY", "U1", "WAIT", "true")
	for _, c := range []struct{ name, sql string }{
		{"eq-string", "region = 'eu'"},
		{"numeric", "seq > 100"},
		{"compound", "(seq BETWEEN 0 AND 9999 AND region IN ('eu', 'us')) OR TAGS = 'TagB'"},
	} {
		e, err := Compile(c.sql)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !e.Match(p) {
					b.Fatal("no match")
				}
			}
		})
	}
}
