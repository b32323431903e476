package message

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// javaParse is Java MessageDecoder.string2messageProperties, transcribed on
// strings as the reference for the parser rules.
func javaParse(properties string) map[string]string {
	m := map[string]string{}
	index := 0
	for index < len(properties) {
		newIndex := strings.IndexByte(properties[index:], 0x02)
		if newIndex < 0 {
			newIndex = len(properties)
		} else {
			newIndex += index
		}
		if newIndex-index >= 3 {
			kvSep := strings.IndexByte(properties[index:], 0x01)
			if kvSep >= 0 {
				kvSep += index
			}
			if kvSep > index && kvSep < newIndex-1 {
				m[properties[index:kvSep]] = properties[kvSep+1 : newIndex]
			}
		}
		index = newIndex + 1
	}
	return m
}

func TestPropertiesParse(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"one", "A\x01B\x02", map[string]string{"A": "B"}},
		{"no trailing separator", "A\x01B\x02C\x01D", map[string]string{"A": "B", "C": "D"}},
		{"two", "TAGS\x01TagA\x02KEYS\x01k1 k2\x02", map[string]string{"TAGS": "TagA", "KEYS": "k1 k2"}},
		{"empty value dropped", "A\x01\x02B\x01C\x02", map[string]string{"B": "C"}},
		{"empty key dropped", "\x01V\x02B\x01C\x02", map[string]string{"B": "C"}},
		{"no name-value separator", "ABC\x02B\x01C\x02", map[string]string{"B": "C"}},
		{"short piece", "A\x01\x02\x02\x02", map[string]string{}},
		{"value holds 0x01", "A\x01B\x01C\x02", map[string]string{"A": "B\x01C"}},
		{"duplicate: last wins", "A\x011\x02A\x012\x02", map[string]string{"A": "2"}},
		{"separators only", "\x01\x02\x01\x02\x02", map[string]string{}},
		{"utf-8", "名\x01值\x02", map[string]string{"名": "值"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Properties(c.in)
			if got := p.Map(); !maps.Equal(got, c.want) {
				t.Fatalf("Map = %q, want %q", got, c.want)
			}
			if got := javaParse(c.in); !maps.Equal(got, c.want) {
				t.Fatalf("reference parser = %q, want %q (bad table row)", got, c.want)
			}
			for k, v := range c.want {
				if got, ok := p.Get(k); !ok || got != v {
					t.Fatalf("Get(%q) = %q, %v", k, got, ok)
				}
				if got, ok := p.Lookup(k); !ok || string(got) != v {
					t.Fatalf("Lookup(%q) = %q, %v", k, got, ok)
				}
			}
			if _, ok := p.Get("absent"); ok {
				t.Fatal("absent found")
			}
			n := 0
			p.Range(func(k, v []byte) bool { n++; return true })
			if n != p.Len() {
				t.Fatal("Len != Range count")
			}
		})
	}
}

func TestPropertiesRangeStops(t *testing.T) {
	p := Properties("A\x011\x02B\x012\x02C\x013\x02")
	var names []string
	p.Range(func(k, v []byte) bool {
		names = append(names, string(k)+"="+string(v))
		return len(names) < 2
	})
	if strings.Join(names, ",") != "A=1,B=2" {
		t.Fatal(names)
	}
}

func TestPropertiesSetDelete(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    string
		op    func(Properties) Properties
		want  string
		check map[string]string
	}{
		{"set on empty", "", func(p Properties) Properties { return p.Set("A", "1") }, "A\x011\x02", map[string]string{"A": "1"}},
		{"add", "A\x011\x02", func(p Properties) Properties { return p.Set("B", "2") }, "A\x011\x02B\x012\x02", nil},
		{"replace", "A\x011\x02B\x012\x02", func(p Properties) Properties { return p.Set("A", "3") }, "B\x012\x02A\x013\x02", nil},
		{"replace duplicates", "A\x011\x02B\x012\x02A\x01x\x02", func(p Properties) Properties { return p.Set("A", "3") }, "B\x012\x02A\x013\x02", nil},
		{"no trailing separator", "A\x011", func(p Properties) Properties { return p.Set("B", "2") }, "A\x011\x02B\x012\x02", nil},
		{"set empty deletes", "A\x011\x02B\x012\x02", func(p Properties) Properties { return p.Set("A", "") }, "B\x012\x02", nil},
		{"delete", "A\x011\x02B\x012\x02C\x013\x02", func(p Properties) Properties { return p.Delete("B") }, "A\x011\x02C\x013\x02", nil},
		{"delete last no separator", "A\x011\x02B\x012", func(p Properties) Properties { return p.Delete("B") }, "A\x011\x02", nil},
		{"delete absent", "A\x011\x02", func(p Properties) Properties { return p.Delete("Z") }, "A\x011\x02", nil},
		{"junk kept", "junk\x02A\x011\x02", func(p Properties) Properties { return p.Set("A", "2") }, "junk\x02A\x012\x02", nil},
		{"prefix name not matched", "AB\x011\x02", func(p Properties) Properties { return p.Delete("A") }, "AB\x011\x02", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The input sits in a larger shared array; nothing may change it.
			backing := []byte(c.in + "\xAA\xBB\xCC\xDD\xEE\xFF")
			p := Properties(backing[:len(c.in)])
			before := bytes.Clone(backing)
			got := c.op(p)
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if !bytes.Equal(backing, before) {
				t.Fatalf("input modified: %q", backing)
			}
			if len(got) > 0 && len(p) > 0 && &got[0] == &p[0] && string(got) != string(p) {
				t.Fatal("result shares the input's array")
			}
			for k, v := range c.check {
				if g, _ := got.Get(k); g != v {
					t.Fatalf("Get(%q) = %q", k, g)
				}
			}
		})
	}
}

func TestEncodeProperties(t *testing.T) {
	m := map[string]string{"UNIQ_KEY": "X", "A": "1", "TAGS": "t", "": "dropped", "EMPTY": ""}
	want := "A\x011\x02TAGS\x01t\x02UNIQ_KEY\x01X\x02"
	for range 5 {
		if got := EncodeProperties(m); string(got) != want {
			t.Fatalf("got %q", got)
		}
	}
	if EncodeProperties(nil) != nil {
		t.Fatal("empty map should encode to nil")
	}
	delete(m, "")
	delete(m, "EMPTY")
	if !maps.Equal(EncodeProperties(m).Map(), m) {
		t.Fatal("round trip")
	}
}

func TestValidProperty(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"A", "B", true}, {"", "B", false}, {"A", "", false},
		{"A\x01", "B", false}, {"A", "B\x02", false}, {"A\x02", "B", false}, {"A", "B\x01", false},
	} {
		if ValidProperty(c.name, c.value) != c.ok {
			t.Errorf("ValidProperty(%q, %q) != %v", c.name, c.value, c.ok)
		}
	}
}

func TestPropertiesLookupAllocs(t *testing.T) {
	p := EncodeProperties(map[string]string{"TAGS": "TagA", "KEYS": "k1", "UNIQ_KEY": "ABC"})
	allocs := testing.AllocsPerRun(100, func() {
		if v, ok := p.Lookup("UNIQ_KEY"); !ok || len(v) != 3 {
			t.Fatal("lookup")
		}
		if _, ok := p.Get("ABSENT"); ok {
			t.Fatal("absent")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs", allocs)
	}
}
