package index

import (
	"github.com/mqstore/mqstore/message"

	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderGolden(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want string
	}{
		{"zero", Header{}, "0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000000 00000000"},
		{"seeded", Header{IndexCount: 1}, "0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000000 00000001"},
		{"values", Header{
			BeginTimestamp: 1700000000000, EndTimestamp: 1700000061000,
			BeginPhyOffset: 100, EndPhyOffset: 0x0102030405060708,
			HashSlotCount: 2, IndexCount: 4,
		}, "0000018bcfe56800 0000018bcfe65648 0000000000000064 0102030405060708 00000002 00000004"},
		{"negative", Header{BeginTimestamp: -1, IndexCount: -2}, "ffffffffffffffff 0000000000000000 0000000000000000 0000000000000000 00000000 fffffffe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			got := tt.h.AppendTo([]byte("x"))
			if !bytes.Equal(got[1:], want) || got[0] != 'x' {
				t.Fatalf("AppendTo = %x, want x + %x", got, want)
			}
			back, err := ParseHeader(want)
			if err != nil || back != tt.h {
				t.Fatalf("ParseHeader = %+v, %v; want %+v", back, err, tt.h)
			}
		})
	}
	if _, err := ParseHeader(make([]byte, HeaderSize-1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short header: %v, want ErrCorrupt", err)
	}
}

func TestEntryGolden(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"zero", Entry{}, "00000000 0000000000000000 00000000 00000000"},
		{"values", Entry{KeyHash: 65, PhyOffset: 300, TimeDiff: 61, PrevIndex: 2}, "00000041 000000000000012c 0000003d 00000002"},
		{"max", Entry{KeyHash: math.MaxInt32, PhyOffset: math.MaxInt64, TimeDiff: math.MaxInt32, PrevIndex: 19999999},
			"7fffffff 7fffffffffffffff 7fffffff 01312cff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			if got := tt.e.AppendTo(nil); !bytes.Equal(got, want) {
				t.Fatalf("AppendTo = %x, want %x", got, want)
			}
			back, err := ParseEntry(want)
			if err != nil || back != tt.e {
				t.Fatalf("ParseEntry = %+v, %v; want %+v", back, err, tt.e)
			}
		})
	}
	if _, err := ParseEntry(make([]byte, EntrySize-1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short entry: %v, want ErrCorrupt", err)
	}
}

func TestGeometry(t *testing.T) {
	if got := FileSize(DefaultHashSlots, DefaultMaxEntries); got != 420_000_040 {
		t.Fatalf("default file size = %d, want 420000040 (RocketMQ)", got)
	}
	if slotOffset(3) != 52 || entryOffset(4, 1) != 76 {
		t.Fatalf("offsets: slot 3 at %d, entry 1 at %d", slotOffset(3), entryOffset(4, 1))
	}
}

// Vectors produced by Java 17: new String(bytes, UTF_8).hashCode() and its abs (MIN → 0).
var javaHashVectors = []struct {
	in      string
	hash    int32
	keyHash int32
}{
	{"", 0, 0},
	{"\x61", 97, 97},
	{"\x68\x65\x6c\x6c\x6f", 99162322, 99162322},
	{"polygenelubricants", -2147483648, 0},
	{"TopicTest#KEY1", -1656969516, 1656969516},
	{"TopicTest#7F0000010001000000000000000000AB", 352740180, 352740180},
	{"orders#order-123456789", -1168212264, 1168212264},
	{"\xc3\xa9\x74\xc3\xa9\x23\xe4\xb8\xad\xe6\x96\x87", -1804592641, 1804592641},
	{"\x65\x6d\x6f\x6a\x69\x23\xf0\x9f\x98\x80\x21", 1739814241, 1739814241},
	{"\x6b\x23\xe4\xb8\x78", 5252915, 5252915},         // truncated 3-byte sequence: one U+FFFD
	{"\x6b\x23\xff\xc0\x80\x79", 817977556, 817977556}, // three invalid bytes: three U+FFFD
	{"\xf0\x9f\x98", 65533, 65533},                     // truncated 4-byte sequence
	{strings.Repeat("z", 40), 1577242880, 1577242880},
}

func TestKeyHashJavaVectors(t *testing.T) {
	for _, v := range javaHashVectors {
		if got := message.JavaHashCode(v.in); got != v.hash {
			t.Errorf("javaHash(%q) = %d, want %d", v.in, got, v.hash)
		}
		if got := KeyHash(v.in); got != v.keyHash {
			t.Errorf("KeyHash(%q) = %d, want %d", v.in, got, v.keyHash)
		}
		if topic, key, ok := strings.Cut(v.in, "#"); ok {
			if got := topicKeyHash(topic, key); got != v.keyHash {
				t.Errorf("topicKeyHash(%q, %q) = %d, want %d", topic, key, got, v.keyHash)
			}
		}
	}
}

// utf16Hash is the definition: Java's hashCode over the UTF-16 encoding of valid UTF-8.
func utf16Hash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

func TestKeyHashMatchesUTF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ09#-_ é中文😀\u0800\uffff\U0010ffff")
	for range 2000 {
		n := rng.IntN(30)
		var sb strings.Builder
		for range n {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		s := sb.String()
		if !utf8.ValidString(s) {
			t.Fatal("generator made invalid UTF-8")
		}
		if got, want := message.JavaHashCode(s), utf16Hash(s); got != want {
			t.Fatalf("javaHash(%q) = %d, want %d", s, got, want)
		}
		topic, key := s[:len(s)/2], s[len(s)/2:]
		if utf8.ValidString(topic) && utf8.ValidString(key) {
			if got, want := topicKeyHash(topic, key), KeyHash(topic+"#"+key); got != want {
				t.Fatalf("topicKeyHash(%q, %q) = %d, want %d", topic, key, got, want)
			}
		}
	}
}

func TestKeyHashDoesNotAllocate(t *testing.T) {
	keys := []string{"TopicTest#KEY1", "\xc3\xa9\x74\xc3\xa9\x23\xe4\xb8\xad", "k#\xff"}
	if n := testing.AllocsPerRun(100, func() {
		for _, k := range keys {
			KeyHash(k)
		}
	}); n != 0 {
		t.Fatalf("KeyHash allocates %v times", n)
	}
}

func TestTimeDiff(t *testing.T) {
	tests := []struct {
		begin, ts int64
		want      int32
	}{
		{0, 1700000000000, 0},
		{-5, 1700000000000, 0},
		{1700000000000, 1700000000000, 0},
		{1700000000000, 1700000000999, 0},
		{1700000000000, 1700000001000, 1},
		{1700000000000, 1700000061500, 61},
		{1700000000000, 1699999999000, 0},
		{1, math.MaxInt64, math.MaxInt32},
	}
	for _, tt := range tests {
		if got := TimeDiff(tt.begin, tt.ts); got != tt.want {
			t.Errorf("TimeDiff(%d, %d) = %d, want %d", tt.begin, tt.ts, got, tt.want)
		}
	}
}

func TestFileName(t *testing.T) {
	loc := time.FixedZone("UTC+8", 8*3600)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC), "20240102030405006"},
		{time.Date(2024, 1, 2, 3, 4, 5, 6_999_999, time.UTC), "20240102030405006"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, loc), "20240102030405000"},
		{time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), "19991231235959999"},
	}
	for _, tt := range tests {
		got := FileName(tt.t)
		if got != tt.want || len(got) != FileNameLen || !isFileName(got) {
			t.Errorf("FileName(%v) = %q, want %q", tt.t, got, tt.want)
		}
		back, ok := parseFileName(got, tt.t.Location())
		if !ok || !back.Equal(tt.t.Truncate(time.Millisecond)) {
			t.Errorf("parseFileName(%q) = %v, %v", got, back, ok)
		}
	}
	for _, bad := range []string{"", "2024010203040500", "2024010203040500x", "20241302030405006"} {
		if _, ok := parseFileName(bad, time.UTC); ok {
			t.Errorf("parseFileName(%q) accepted", bad)
		}
	}
}

// FuzzParseHeader checks that any 40 bytes decode and re-encode to themselves.
func FuzzParseHeader(f *testing.F) {
	f.Add(make([]byte, HeaderSize))
	f.Add((&Header{BeginTimestamp: 1700000000000, EndTimestamp: 1700000061000, EndPhyOffset: 300, HashSlotCount: 2, IndexCount: 4}).AppendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if len(b) < HeaderSize {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("short input: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := h.AppendTo(nil); !bytes.Equal(got, b[:HeaderSize]) {
			t.Fatalf("round trip %x != %x", got, b[:HeaderSize])
		}
	})
}

// FuzzParseEntry checks that any 20 bytes decode and re-encode to themselves.
func FuzzParseEntry(f *testing.F) {
	f.Add(make([]byte, EntrySize))
	f.Add((&Entry{KeyHash: 65, PhyOffset: 300, TimeDiff: 61, PrevIndex: 2}).AppendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if len(b) < EntrySize {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("short input: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendTo(nil); !bytes.Equal(got, b[:EntrySize]) {
			t.Fatalf("round trip %x != %x", got, b[:EntrySize])
		}
	})
}

// FuzzKeyHash checks the incremental topic#key hash against the whole-string hash, and the
// UTF-16 definition on valid UTF-8.
func FuzzKeyHash(f *testing.F) {
	for _, v := range javaHashVectors {
		topic, key, _ := strings.Cut(v.in, "#")
		f.Add(topic, key)
	}
	f.Fuzz(func(t *testing.T, topic, key string) {
		whole := topic + "#" + key
		if got, want := topicKeyHash(topic, key), KeyHash(whole); got != want {
			t.Fatalf("topicKeyHash(%q, %q) = %d, KeyHash = %d", topic, key, got, want)
		}
		if h := KeyHash(whole); h < 0 {
			t.Fatalf("negative KeyHash %d", h)
		}
		if utf8.ValidString(whole) {
			if got, want := message.JavaHashCode(whole), utf16Hash(whole); got != want {
				t.Fatalf("javaHash(%q) = %d, want %d", whole, got, want)
			}
		}
	})
}

// fuzzGeometry is the tiny geometry of FuzzOpenQuery: 4 slots, 4 entries, 136 bytes.
var fuzzGeometry = Options{HashSlots: 4, MaxEntries: 4, Now: fixedClock()}

// FuzzOpenQuery opens an index file holding arbitrary bytes and queries, puts into, truncates
// and deletes it: a damaged file must give ErrCorrupt or answers, never a panic or an endless
// chain walk.
func FuzzOpenQuery(f *testing.F) {
	size := int(FileSize(fuzzGeometry.HashSlots, fuzzGeometry.MaxEntries))
	f.Add(make([]byte, size))
	f.Add(goldenTinyFile(f))
	loop := goldenTinyFile(f)
	loop[entryOffset(4, 3)+16+3] = 3 // entry 3 points at itself
	f.Add(loop)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		b := make([]byte, size)
		copy(b, data)
		if err := os.WriteFile(filepath.Join(dir, "20240102030405006"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		ix, err := Open(dir, fuzzGeometry)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			return
		}
		defer ix.Close()
		query := func() {
			for _, key := range []string{"A", "B", "C", "D", "E", "F", "G", "H"} {
				got, err := ix.Query("T", key, 0, math.MinInt64, math.MaxInt64)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > DefaultMaxQueryNum {
					t.Fatalf("%d results", len(got))
				}
			}
		}
		query()
		h := ix.Files()[0].Header
		for i := range 5 {
			if err := ix.PutMessage("T", "A", "B", 0, h.EndPhyOffset+int64(i), h.EndTimestamp+int64(i)*1000); err != nil {
				t.Fatal(err)
			}
		}
		query()
		if err := ix.TruncateAfter(h.EndTimestamp); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.DeleteBelow(math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		query()
	})
}

// goldenTinyFile is the file of TestGoldenFile: keys "A", "E", "B" in a 4-slot, 4-entry file.
func goldenTinyFile(t testing.TB) []byte {
	return unhex(t, `
		0000018bcfe56800 0000018bcfe65648 0000000000000064 000000000000012c 00000002 00000004
		00000000 00000002 00000003 00000000
		00000000 0000000000000000 00000000 00000000
		00000041 0000000000000064 00000000 00000000
		00000045 00000000000000c8 00000002 00000001
		00000042 000000000000012c 0000003d 00000000`)
}
