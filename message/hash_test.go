package message

import (
	"testing"
	"unicode/utf16"
)

// Expected values are Java's String.hashCode, computed independently (Python
// over UTF-16BE code units, h = 31*h + c; invalid UTF-8 decoded with
// errors="replace", which substitutes maximal subparts as Java does).
func TestJavaHashCode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		{"TagA", 2598919},
		{"Aa", 2112}, {"BB", 2112}, // the classic collision
		{"中文", 646394}, // U+4E2D U+6587: 20013*31 + 25991
		{"😀", 1772899}, // surrogates D83D DE00: 55357*31 + 56832
		{"hello world, this string is long enough to wrap", 597290610},
		{"RocketMQ", -453554280},
		{"%RETRY%please_rename_unique_group_name", -1360317909},
		{"\xe4\xb8A", 2031588},                           // truncated sequence: one U+FFFD (maximal subpart), then 'A'
		{"\xffA", 2031588},                               // invalid byte: U+FFFD, then 'A'
		{"\xed\xa0\x80", 65533*31*31 + 65533*31 + 65533}, // encoded surrogate: three U+FFFD
	} {
		if got := JavaHashCode(c.in); got != c.want {
			t.Errorf("JavaHashCode(%q) = %d, want %d", c.in, got, c.want)
		}
		if got := JavaHashCodeBytes([]byte(c.in)); got != c.want {
			t.Errorf("JavaHashCodeBytes(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestJavaHashCodeMatchesUTF16(t *testing.T) {
	for _, s := range []string{"TagA", "混合 mixed ✓ 𝄞 end", "ß", "κόσμε", "🙂🙃x"} {
		var want int32
		for _, u := range utf16.Encode([]rune(s)) {
			want = 31*want + int32(u)
		}
		if got := JavaHashCode(s); got != want {
			t.Errorf("JavaHashCode(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTagsHashCode(t *testing.T) {
	if TagsHashCode("") != 0 {
		t.Fatal("empty")
	}
	if TagsHashCode("TagA") != 2598919 {
		t.Fatal("TagA")
	}
	// Negative hashes are sign-extended.
	if got := TagsHashCode("RocketMQ"); got != -453554280 {
		t.Fatalf("got %d", got)
	}
}

func TestJavaHashCodeAllocs(t *testing.T) {
	b := []byte("中文 tags")
	if n := testing.AllocsPerRun(100, func() {
		JavaHashCode("TagA")
		JavaHashCodeBytes(b)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestJavaHashContinue(t *testing.T) {
	for _, pair := range [][2]string{{"", ""}, {"Topic", "#key-1"}, {"中文", "#キー"}, {"abcdefgh", "ijklmnopq"}, {"a\xff", "\xe0\x80b"}} {
		a, b := pair[0], pair[1]
		if got, want := JavaHashContinue(JavaHashCode(a), b), JavaHashCode(a+b); got != want {
			t.Errorf("JavaHashContinue(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}
