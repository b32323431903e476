package index

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
)

// fixedClock returns a clock stuck at one instant, so file names are predictable (and collide,
// which the Index resolves by adding a millisecond).
func fixedClock() func() time.Time {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	return func() time.Time { return at }
}

func openIndex(t testing.TB, dir string, opts Options) *Index {
	t.Helper()
	ix, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

const ts0 = int64(1700000000000)

// TestGoldenFile builds a 4-slot, 4-entry file and compares every byte with the layout worked
// out by hand from the spec.
func TestGoldenFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HashSlots: 4, MaxEntries: 4, Now: fixedClock()}
	ix := openIndex(t, dir, opts)
	// KeyHash("A")=65, ("E")=69: both slot 1; ("B")=66: slot 2.
	for _, p := range []struct {
		key string
		off int64
		ts  int64
	}{
		{"A", 100, ts0},
		{"E", 200, ts0 + 2500},
		{"B", 300, ts0 + 61000},
	} {
		if err := ix.Put(p.key, p.off, p.ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "20240102030405006"))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		0000018bcfe56800 0000018bcfe65648 0000000000000064 000000000000012c 00000002 00000004
		00000000 00000002 00000003 00000000
		00000000 0000000000000000 00000000 00000000
		00000041 0000000000000064 00000000 00000000
		00000045 00000000000000c8 00000002 00000001
		00000042 000000000000012c 0000003d 00000000`)
	if !bytes.Equal(got, want) {
		t.Fatalf("file bytes\n got %x\nwant %x", got, want)
	}

	// The file is full: the next put rolls to a file named one millisecond later, seeded with
	// the previous end values.
	ix = openIndex(t, dir, opts)
	if err := ix.Put("C", 400, ts0+70000); err != nil {
		t.Fatal(err)
	}
	if err := ix.Put("C", 399, ts0+70000); err != nil { // below endPhyOffset: skipped
		t.Fatal(err)
	}
	infos := ix.Files()
	if len(infos) != 2 || infos[1].Name != "20240102030405007" {
		t.Fatalf("files after roll: %+v", infos)
	}
	wantSeeded := Header{BeginTimestamp: ts0 + 70000, EndTimestamp: ts0 + 70000, BeginPhyOffset: 400, EndPhyOffset: 400, HashSlotCount: 1, IndexCount: 2}
	if infos[1].Header != wantSeeded {
		t.Fatalf("second file header %+v, want %+v", infos[1].Header, wantSeeded)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	got, err = os.ReadFile(filepath.Join(dir, "20240102030405007"))
	if err != nil {
		t.Fatal(err)
	}
	want = unhex(t, `
		0000018bcfe67970 0000018bcfe67970 0000000000000190 0000000000000190 00000001 00000002
		00000000 00000000 00000000 00000001
		00000000 0000000000000000 00000000 00000000
		00000043 0000000000000190 00000000 00000000
		00000000 0000000000000000 00000000 00000000
		00000000 0000000000000000 00000000 00000000`)
	if !bytes.Equal(got, want) {
		t.Fatalf("second file bytes\n got %x\nwant %x", got, want)
	}
}

// TestSeededHeader checks the header of a fresh file that rolled but has no entry yet.
func TestSeededHeader(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir, Options{HashSlots: 4, MaxEntries: 2, Now: fixedClock()})
	defer ix.Close()
	if err := ix.Put("A", 100, ts0); err != nil {
		t.Fatal(err)
	}
	if err := ix.Put("B", 200, ts0+5000); err != nil {
		t.Fatal(err)
	}
	infos := ix.Files()
	if len(infos) != 2 {
		t.Fatalf("%d files, want 2", len(infos))
	}
	// Second file: begin set by its first put (timeDiff 0), not the seeded begin.
	want := Header{BeginTimestamp: ts0 + 5000, EndTimestamp: ts0 + 5000, BeginPhyOffset: 200, EndPhyOffset: 200, HashSlotCount: 1, IndexCount: 2}
	if infos[1].Header != want {
		t.Fatalf("header %+v, want %+v", infos[1].Header, want)
	}
	if got, _ := ix.Query("", "", 0, 0, math.MaxInt64); got != nil {
		t.Fatalf("unexpected hit %v", got)
	}
}

// message is one test message.
type testMessage struct {
	offset int64
	ts     int64
	uniq   string
	keys   []string
}

func (m testMessage) has(key string) bool {
	return m.uniq == key || slices.Contains(m.keys, key)
}

// corpus is a set of messages with shared and unique keys.
type corpus struct {
	topic string
	msgs  []testMessage
	byOff map[int64]int
	byKey map[string][]int // message indexes per key, oldest first
}

const corpusStride = 97

func newCorpus(n int) *corpus {
	c := &corpus{topic: "TopicTest", byOff: make(map[int64]int, n), byKey: make(map[string][]int)}
	for i := range n {
		m := testMessage{
			offset: int64(i) * corpusStride,
			ts:     ts0 + int64(i)*7, // 7 ms apart: many messages per second
			uniq:   fmt.Sprintf("U%08d", i),
			keys:   []string{fmt.Sprintf("user-%d", i%4999)},
		}
		if i%50 == 0 {
			m.keys = append(m.keys, "hot")
		}
		c.byOff[m.offset] = i
		c.msgs = append(c.msgs, m)
		for _, k := range append([]string{m.uniq}, m.keys...) {
			c.byKey[k] = append(c.byKey[k], i)
		}
	}
	return c
}

func (c *corpus) keysString(i int) string {
	s := ""
	for _, k := range c.msgs[i].keys {
		s += " " + k + " " // extra spaces: empty keys are skipped
	}
	return s
}

func (c *corpus) put(t testing.TB, ix *Index, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		m := c.msgs[i]
		if err := ix.PutMessage(c.topic, m.uniq, c.keysString(i), 0, m.offset, m.ts); err != nil {
			t.Fatal(err)
		}
	}
}

// expected returns the offsets of messages with key stored in [begin, end], newest first.
func (c *corpus) expected(key string, begin, end int64, limit int) []int64 {
	var out []int64
	ids := c.byKey[key]
	for j := len(ids) - 1; j >= 0 && len(out) < limit; j-- {
		m := c.msgs[ids[j]]
		if m.ts >= begin && m.ts <= end {
			out = append(out, m.offset)
		}
	}
	return out
}

// confirm filters candidates as the store does: the message must carry the key and have been
// stored in [begin, end]. It also checks the candidates' order and time precision.
func (c *corpus) confirm(t testing.TB, key string, got []int64, begin, end int64) []int64 {
	t.Helper()
	var out []int64
	for j, off := range got {
		if j > 0 && off >= got[j-1] {
			t.Fatalf("key %s: offsets not strictly newest first: %v", key, got)
		}
		i, ok := c.byOff[off]
		if !ok {
			t.Fatalf("key %s: offset %d is no message", key, off)
		}
		m := c.msgs[i]
		// An entry knows its store time to the second: candidates may lie up to 999 ms
		// outside the range, never more.
		if m.ts-999 > end || m.ts+999 < begin {
			t.Fatalf("key %s: candidate stored at %d outside [%d-999, %d+999]", key, m.ts, begin, end)
		}
		if m.has(key) && m.ts >= begin && m.ts <= end {
			out = append(out, off)
		}
	}
	return out
}

func (c *corpus) check(t testing.TB, ix *Index, key string, maxNum int, begin, end int64, limit int) {
	t.Helper()
	got, err := ix.Query(c.topic, key, maxNum, begin, end)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := c.confirm(t, key, got, begin, end)
	want := c.expected(key, begin, end, limit)
	if len(got) < limit && !slices.Equal(confirmed, want) {
		t.Fatalf("Query(%s, [%d, %d]) confirmed %v, want %v", key, begin, end, confirmed, want)
	}
	if len(got) >= limit && !slices.Equal(confirmed, want[:len(confirmed)]) {
		t.Fatalf("Query(%s) capped: confirmed %v, want a prefix of %v", key, confirmed, want)
	}
}

// TestManyMessages indexes 100,000 messages (200,000+ keys) over several small files and checks
// every shared key, a sample of unique keys, time ranges, the cap, and the same after reopening.
func TestManyMessages(t *testing.T) {
	n := 100_000
	c := newCorpus(n)
	dir := t.TempDir()
	opts := Options{HashSlots: 1000, MaxEntries: 20000}
	ix := openIndex(t, dir, opts)
	start := time.Now()
	c.put(t, ix, 0, n)
	t.Logf("indexed %d messages in %v", n, time.Since(start))
	if files := ix.Files(); len(files) < 5 {
		t.Fatalf("only %d files; the test wants several", len(files))
	}
	last := c.msgs[n-1]
	if ix.MaxPhysicalOffset() != last.offset || ix.LastTimestamp() != last.ts {
		t.Fatalf("MaxPhysicalOffset %d LastTimestamp %d, want %d %d", ix.MaxPhysicalOffset(), ix.LastTimestamp(), last.offset, last.ts)
	}

	verify := func(t *testing.T, ix *Index) {
		all := int64(math.MaxInt64)
		for k := range 4999 {
			c.check(t, ix, fmt.Sprintf("user-%d", k), 0, 0, all, 64)
		}
		for i := 0; i < n; i += 37 {
			got, err := ix.Query(c.topic, c.msgs[i].uniq, 0, 0, all)
			if err != nil {
				t.Fatal(err)
			}
			if confirmed := c.confirm(t, c.msgs[i].uniq, got, 0, all); len(confirmed) != 1 || confirmed[0] != c.msgs[i].offset {
				t.Fatalf("uniq key %s: %v, want [%d]", c.msgs[i].uniq, got, c.msgs[i].offset)
			}
		}
		// Time ranges not aligned to seconds, inside one file and across files.
		for _, r := range [][2]int64{
			{ts0 + 1234, ts0 + 98765},
			{ts0 + 100_001, ts0 + 400_003},
			{ts0 + 555_555, ts0 + 555_555},
			{ts0 - 10_000, ts0 + 3},
			{ts0 + int64(n)*7 - 2500, math.MaxInt64},
		} {
			c.check(t, ix, "hot", 0, r[0], r[1], 64)
			c.check(t, ix, "user-42", 0, r[0], r[1], 64)
		}
		if got, _ := ix.Query(c.topic, "user-1", 0, ts0+int64(n)*7+1000, math.MaxInt64); len(got) != 0 {
			t.Fatalf("range after the last message: %v", got)
		}
		if got, _ := ix.Query(c.topic, "no-such-key", 0, 0, all); len(c.confirm(t, "no-such-key", got, 0, all)) != 0 {
			t.Fatal("hits for a missing key")
		}
		if got, _ := ix.Query("OtherTopic", "user-1", 0, 0, all); len(got) != 0 {
			t.Fatalf("hits in another topic: %v", got)
		}
		// The cap: "hot" has n/50 messages.
		c.check(t, ix, "hot", 5, 0, all, 5)
		c.check(t, ix, "hot", 1000, 0, all, 64)
		if got, _ := ix.Query(c.topic, "hot", 1000, 0, all); len(got) != 64 {
			t.Fatalf("hot: %d results, want the cap 64", len(got))
		}
	}
	t.Run("live", func(t *testing.T) { verify(t, ix) })
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir, opts)
	defer ix.Close()
	t.Run("reopened", func(t *testing.T) { verify(t, ix) })

	// A larger cap through Options.
	big := openIndex(t, t.TempDir(), Options{HashSlots: 1000, MaxEntries: 20000, MaxQueryNum: 10_000})
	defer big.Close()
	c.put(t, big, 0, n)
	got, err := big.Query(c.topic, "hot", 0, 0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.expected("hot", 0, math.MaxInt64, 10_000); !slices.Equal(c.confirm(t, "hot", got, 0, math.MaxInt64), want) || len(want) != n/50 {
		t.Fatalf("hot with MaxQueryNum 10000: %d results, want %d", len(got), n/50)
	}
}

func TestPutMessageKeys(t *testing.T) {
	ix := openIndex(t, t.TempDir(), Options{HashSlots: 64, MaxEntries: 64})
	defer ix.Close()
	all := int64(math.MaxInt64)
	tests := []struct {
		name    string
		uniq    string
		keys    string
		sysFlag int32
		want    []string // keys that find the message
		notWant []string
	}{
		{"uniq and keys", "UNIQ1", "a b", 0, []string{"UNIQ1", "a", "b"}, []string{"a b", ""}},
		{"spaces", "", "  c   d ", 0, []string{"c", "d"}, []string{"", " "}},
		{"tab is part of a key", "", "e\tf", 0, []string{"e\tf"}, []string{"e", "f"}},
		{"prepared is indexed", "UNIQ2", "g", 0x4, []string{"UNIQ2", "g"}, nil},
		{"commit is indexed", "", "h", 0x8 | 0x1, []string{"h"}, nil},
		{"rollback is not", "UNIQ3", "i", 0xC, nil, []string{"UNIQ3", "i"}},
		{"no keys", "", "", 0, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := int64(i+1) * 1000
			if err := ix.PutMessage("T", tt.uniq, tt.keys, tt.sysFlag, off, ts0+int64(i)); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.want {
				if got, _ := ix.Query("T", k, 0, 0, all); !slices.Contains(got, off) {
					t.Errorf("key %q: %v does not hold %d", k, got, off)
				}
			}
			for _, k := range tt.notWant {
				if got, _ := ix.Query("T", k, 0, 0, all); slices.Contains(got, off) {
					t.Errorf("key %q: %v holds %d", k, got, off)
				}
			}
		})
	}
	if err := ix.PutMessage("T", "x", "", 0, -1, ts0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative offset: %v", err)
	}
	if err := ix.Put("T#x", -1, ts0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative offset: %v", err)
	}
}

// TestRePutIsIdempotent re-dispatches messages already indexed: nothing is added for offsets
// below endPhyOffset, and a repeated last message does not show twice in results.
func TestRePutIsIdempotent(t *testing.T) {
	c := newCorpus(3000)
	ix := openIndex(t, t.TempDir(), Options{HashSlots: 100, MaxEntries: 1000})
	defer ix.Close()
	c.put(t, ix, 0, 3000)
	before := ix.Files()
	c.put(t, ix, 0, 2999)
	if after := ix.Files(); !slices.Equal(before, after) {
		t.Fatalf("re-put changed files:\n%+v\n%+v", before, after)
	}
	c.put(t, ix, 2999, 3000) // same offset as endPhyOffset: indexed again
	last := c.msgs[2999]
	for _, key := range append([]string{last.uniq}, last.keys...) {
		got, err := ix.Query(c.topic, key, 0, 0, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(c.confirm(t, key, got, 0, math.MaxInt64)); n != len(c.expected(key, 0, math.MaxInt64, 64)) {
			t.Fatalf("key %s: %v", key, got)
		}
	}
}

func TestTruncateAfterAndRebuild(t *testing.T) {
	c := newCorpus(5000)
	dir := t.TempDir()
	opts := Options{HashSlots: 100, MaxEntries: 1001} // 1000 keys = 500 messages per file
	ix := openIndex(t, dir, opts)
	c.put(t, ix, 0, 5000)
	files := ix.Files()
	if len(files) < 10 {
		t.Fatalf("%d files, want at least 10", len(files))
	}
	// The checkpoint says the index was flushed up to the end of the fourth file.
	cut := files[3].Header.EndTimestamp
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir, opts)
	defer ix.Close()
	if err := ix.TruncateAfter(cut); err != nil {
		t.Fatal(err)
	}
	if got := ix.Files(); len(got) != 4 || got[3].Name != files[3].Name {
		t.Fatalf("after TruncateAfter: %+v", got)
	}
	if ix.MaxPhysicalOffset() != files[3].Header.EndPhyOffset || ix.LastTimestamp() != cut {
		t.Fatalf("MaxPhysicalOffset %d LastTimestamp %d", ix.MaxPhysicalOffset(), ix.LastTimestamp())
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 4 {
		t.Fatalf("%d files on disk after TruncateAfter, want 4", len(names))
	}
	// Messages after the cut are gone until re-dispatched.
	if got, _ := ix.Query(c.topic, c.msgs[4999].uniq, 0, 0, math.MaxInt64); len(got) != 0 {
		t.Fatalf("truncated key still found: %v", got)
	}
	// Re-dispatch from an earlier point: offsets below the end are skipped, the rest rebuilt.
	c.put(t, ix, 1000, 5000)
	for k := range 4999 {
		c.check(t, ix, fmt.Sprintf("user-%d", k), 0, 0, math.MaxInt64, 64)
	}
	for i := range 5000 {
		got, _ := ix.Query(c.topic, c.msgs[i].uniq, 0, 0, math.MaxInt64)
		if confirmed := c.confirm(t, c.msgs[i].uniq, got, 0, math.MaxInt64); len(confirmed) != 1 {
			t.Fatalf("message %d after rebuild: %v", i, got)
		}
	}
	if err := ix.TruncateAfter(0); err != nil {
		t.Fatal(err)
	}
	if len(ix.Files()) != 0 || ix.MaxPhysicalOffset() != 0 || ix.LastTimestamp() != 0 {
		t.Fatalf("TruncateAfter(0) left %+v", ix.Files())
	}
	c.put(t, ix, 0, 10)
	c.check(t, ix, "user-3", 0, 0, math.MaxInt64, 64)
}

func TestDeleteBelow(t *testing.T) {
	c := newCorpus(5000)
	dir := t.TempDir()
	ix := openIndex(t, dir, Options{HashSlots: 100, MaxEntries: 1001})
	defer ix.Close()
	c.put(t, ix, 0, 5000)
	files := ix.Files()
	// Files wholly below the offset go; the one holding it stays.
	n, err := ix.DeleteBelow(files[2].Header.EndPhyOffset)
	if err != nil || n != 2 {
		t.Fatalf("DeleteBelow = %d, %v; want 2", n, err)
	}
	n, err = ix.DeleteBelow(files[2].Header.EndPhyOffset + 1)
	if err != nil || n != 1 {
		t.Fatalf("DeleteBelow = %d, %v; want 1", n, err)
	}
	if got := ix.Files(); len(got) != len(files)-3 || got[0].Name != files[3].Name {
		t.Fatalf("after DeleteBelow: %d files", len(got))
	}
	if got, _ := ix.Query(c.topic, c.msgs[0].uniq, 0, 0, math.MaxInt64); len(got) != 0 {
		t.Fatalf("deleted message found: %v", got)
	}
	c.check(t, ix, c.msgs[4000].uniq, 0, 0, math.MaxInt64, 64)
	// Never the last file.
	n, err = ix.DeleteBelow(math.MaxInt64)
	if err != nil || n != len(files)-4 {
		t.Fatalf("DeleteBelow(max) = %d, %v; want %d", n, err, len(files)-4)
	}
	if got := ix.Files(); len(got) != 1 || got[0].Name != files[len(files)-1].Name {
		t.Fatalf("last file not kept: %+v", got)
	}
	if onDisk, _ := os.ReadDir(dir); len(onDisk) != 1 {
		t.Fatalf("%d files on disk, want 1", len(onDisk))
	}
	if n, err := ix.DeleteBelow(math.MaxInt64); n != 0 || err != nil {
		t.Fatalf("DeleteBelow on one file = %d, %v", n, err)
	}
	c.check(t, ix, c.msgs[4999].uniq, 0, 0, math.MaxInt64, 64)
}

func TestFlushAndClose(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir, Options{HashSlots: 16, MaxEntries: 16})
	if ix.FlushedTimestamp() != 0 {
		t.Fatal("FlushedTimestamp before any flush")
	}
	if err := ix.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := ix.Put(fmt.Sprint("k", i), int64(i), ts0+int64(i)*1000); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Flush(); err != nil {
		t.Fatal(err)
	}
	if ix.FlushedTimestamp() != ts0+39000 {
		t.Fatalf("FlushedTimestamp = %d", ix.FlushedTimestamp())
	}
	if err := ix.Flush(); err != nil { // nothing dirty
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Close":         ix.Close(),
		"Flush":         ix.Flush(),
		"Put":           ix.Put("k", 100, ts0),
		"PutMessage":    ix.PutMessage("t", "u", "", 0, 100, ts0),
		"TruncateAfter": ix.TruncateAfter(0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := ix.DeleteBelow(0); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteBelow after Close: %v", err)
	}
	if _, err := ix.Query("t", "k", 0, 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: %v", err)
	}
	ix = openIndex(t, dir, Options{HashSlots: 16, MaxEntries: 16})
	defer ix.Close()
	if files := ix.Files(); len(files) != 3 || files[2].Header.EndTimestamp != ts0+39000 || files[2].Header.IndexCount != 11 {
		t.Fatalf("reopened files %+v", files)
	}
}

func TestOpenErrors(t *testing.T) {
	opts := Options{HashSlots: 4, MaxEntries: 4, Now: fixedClock()}
	size := FileSize(4, 4)
	write := func(t *testing.T, dir, name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("wrong size", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "20240102030405006", make([]byte, size+1))
		if _, err := Open(dir, opts); !errors.Is(err, mapped.ErrBadSize) {
			t.Fatalf("Open: %v, want mapped.ErrBadSize", err)
		}
	})
	t.Run("bad header", func(t *testing.T) {
		for _, h := range []Header{
			{IndexCount: 5},
			{IndexCount: -1},
			{EndTimestamp: 1},                  // indexCount 0 but not all zero
			{IndexCount: 2, EndPhyOffset: -10}, // negative offset
		} {
			dir := t.TempDir()
			write(t, dir, "20240102030405006", h.AppendTo(make([]byte, 0, size))[:size])
			if _, err := Open(dir, opts); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("header %+v: %v, want ErrCorrupt", h, err)
			}
		}
	})
	t.Run("drifted slot count", func(t *testing.T) {
		// A crash between a put's slot and header writes can push hashSlotCount past the slot
		// count (seen in txn's SIGKILL tests): statistics only, so the file opens, clamped.
		dir := t.TempDir()
		h := Header{IndexCount: 2, HashSlotCount: 5}
		write(t, dir, "20240102030405006", h.AppendTo(make([]byte, 0, size))[:size])
		ix, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer ix.Close()
		if got := ix.Files()[0].Header.HashSlotCount; got != 4 {
			t.Fatalf("hashSlotCount %d, want it clamped to 4", got)
		}
	})
	t.Run("invalid options", func(t *testing.T) {
		for _, o := range []Options{{HashSlots: -1}, {MaxEntries: 1}, {MaxEntries: -3}, {MaxQueryNum: -1}, {HashSlots: math.MaxInt32 + 1}, {MaxEntries: math.MaxInt32 + 1}} {
			if _, err := Open(t.TempDir(), o); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("%+v: %v, want ErrInvalidOptions", o, err)
			}
		}
		if err := (Options{}).Validate(); err != nil {
			t.Fatalf("zero Options: %v", err)
		}
	})
	t.Run("zero header and other names", func(t *testing.T) {
		dir := t.TempDir()
		ix := openIndex(t, dir, opts)
		if err := ix.Put("A", 100, ts0); err != nil {
			t.Fatal(err)
		}
		ix.Close()
		write(t, dir, "20240102030405009", make([]byte, size)) // created, never written
		write(t, dir, "README", []byte("not an index file"))
		write(t, dir, "2024010203040500x", nil)
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		ix = openIndex(t, dir, opts)
		defer ix.Close()
		infos := ix.Files()
		if len(infos) != 2 {
			t.Fatalf("files %+v", infos)
		}
		want := Header{BeginTimestamp: ts0, EndTimestamp: ts0, BeginPhyOffset: 100, EndPhyOffset: 100, IndexCount: 1}
		if infos[1].Header != want {
			t.Fatalf("empty file header %+v, want seeded %+v", infos[1].Header, want)
		}
		if err := ix.Put("A", 99, ts0); err != nil || ix.Files()[1].Header.IndexCount != 1 {
			t.Fatalf("put below the seeded end was not skipped: %v", err)
		}
		if err := ix.Put("A", 200, ts0+1); err != nil {
			t.Fatal(err)
		}
		if h := ix.Files()[1].Header; h.IndexCount != 2 || h.BeginPhyOffset != 200 {
			t.Fatalf("header after put %+v", h)
		}
		// A new file after the highest name on disk is named after it, even though the clock
		// is behind.
		for i := range 4 {
			if err := ix.Put("B", 300+int64(i), ts0+2); err != nil {
				t.Fatal(err)
			}
		}
		if infos := ix.Files(); infos[len(infos)-1].Name != "20240102030405010" {
			t.Fatalf("new file named %s", infos[len(infos)-1].Name)
		}
	})
}

// TestQueryTopicKey checks that Put("topic#key") and PutMessage(topic, key) index the same key.
func TestQueryTopicKey(t *testing.T) {
	ix := openIndex(t, t.TempDir(), Options{HashSlots: 8, MaxEntries: 4096})
	defer ix.Close()
	if err := ix.Put("T#k1", 10, ts0); err != nil {
		t.Fatal(err)
	}
	if err := ix.PutMessage("T", "", "k1", 0, 20, ts0+1); err != nil {
		t.Fatal(err)
	}
	got, err := ix.AppendQuery([]int64{-1}, "T", "k1", 0, ts0, ts0+1)
	if err != nil || !slices.Equal(got, []int64{-1, 20, 10}) {
		t.Fatalf("AppendQuery = %v, %v", got, err)
	}
	if n := testing.AllocsPerRun(100, func() { got, _ = ix.AppendQuery(got[:0], "T", "k1", 0, 0, math.MaxInt64) }); n != 0 {
		t.Fatalf("AppendQuery allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { ix.PutMessage("T", "UNIQ", "a b", 0, 30, ts0+2) }); n != 0 {
		t.Fatalf("PutMessage allocates %v times", n)
	}
}

// TestConcurrentQuery runs queries while one goroutine indexes, another flushes, and a third
// deletes old files, under -race. Every result must be a message of that key, newest first,
// and a key indexed before the query started must be found unless its file was deleted.
func TestConcurrentQuery(t *testing.T) {
	n := 40_000
	if testing.Short() {
		n = 10_000
	}
	c := newCorpus(n)
	ix := openIndex(t, t.TempDir(), Options{HashSlots: 500, MaxEntries: 4001})
	defer ix.Close()

	var indexed atomic.Int64 // messages fully indexed
	var deletedBelow atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range n {
			m := c.msgs[i]
			if err := ix.PutMessage(c.topic, m.uniq, c.keysString(i), 0, m.offset, m.ts); err != nil {
				errs <- err
				return
			}
			indexed.Store(int64(i + 1))
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := ix.Flush(); err != nil {
				errs <- err
				return
			}
			// Retention: drop files below a third of what is indexed.
			below := c.msgs[indexed.Load()/3].offset
			deletedBelow.Store(below) // before deleting, so readers never expect a deleted hit
			if _, err := ix.DeleteBelow(below); err != nil {
				errs <- err
				return
			}
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []int64
			for q := 0; ; q++ {
				select {
				case <-done:
					return
				default:
				}
				i := int((int64(q)*7919 + int64(r)*104729) % max(indexed.Load(), 1))
				if indexed.Load() <= int64(i) {
					continue
				}
				m := c.msgs[i]
				var err error
				buf, err = ix.AppendQuery(buf[:0], c.topic, m.uniq, 0, 0, math.MaxInt64)
				if err != nil {
					errs <- err
					return
				}
				found := false
				for j, off := range buf {
					if j > 0 && off >= buf[j-1] {
						errs <- fmt.Errorf("results not newest first: %v", buf)
						return
					}
					k, ok := c.byOff[off]
					if !ok {
						errs <- fmt.Errorf("offset %d is no message", off)
						return
					}
					found = found || k == i
				}
				// Retention deletes files whose end is below deletedBelow, which only grows
				// and is read after the query: a message at or above it was not deleted.
				if !found && m.offset >= deletedBelow.Load() {
					errs <- fmt.Errorf("message %d not found: %v", i, buf)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.check(t, ix, c.msgs[n-1].uniq, 0, 0, math.MaxInt64, 64)
}

// TestKilledPut simulates a process killed inside a put, after the entry and its slot were
// written but before the header counted it: on reopen the message is re-indexed and the
// slot's older chain survives. One slot puts every key in one chain.
func TestKilledPut(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HashSlots: 1, MaxEntries: 100, Now: fixedClock()}
	ix := openIndex(t, dir, opts)
	for i := range 10 {
		if err := ix.PutMessage("T", fmt.Sprint("U", i), "", 0, int64(i)*100, ts0+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Undo the header update of the last put: count 11 → 10, end offset and time of message 8.
	path := filepath.Join(dir, "20240102030405006")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(b)
	h.IndexCount--
	h.EndPhyOffset -= 100
	h.EndTimestamp--
	h.AppendTo(b[:0])
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir, opts)
	defer ix.Close()
	if ix.MaxPhysicalOffset() != 800 {
		t.Fatalf("MaxPhysicalOffset %d", ix.MaxPhysicalOffset())
	}
	// Re-dispatch from message 5: 5..7 are skipped; 8 (at endPhyOffset) and 9 are indexed
	// again, 9 over its uncounted entry.
	for i := 5; i < 10; i++ {
		if err := ix.PutMessage("T", fmt.Sprint("U", i), "", 0, int64(i)*100, ts0+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if h := ix.Files()[0].Header; h.IndexCount != 12 || h.EndPhyOffset != 900 {
		t.Fatalf("header after re-dispatch %+v", h)
	}
	for i := range 10 {
		got, err := ix.Query("T", fmt.Sprint("U", i), 0, 0, math.MaxInt64)
		if err != nil || !slices.Equal(got, []int64{int64(i) * 100}) {
			t.Fatalf("U%d: %v, %v", i, got, err)
		}
	}
}

func TestTruncateFrom(t *testing.T) {
	c := newCorpus(5000)
	opts := Options{HashSlots: 100, MaxEntries: 1001}
	tests := []struct {
		name string
		cut  func(files []FileInfo) int64 // the commitlog offset to cut at
	}{
		{"middle of a file", func([]FileInfo) int64 { return c.msgs[3210].offset }},
		{"between messages", func([]FileInfo) int64 { return c.msgs[3210].offset - 1 }},
		{"start of a file", func(files []FileInfo) int64 { return files[4].Header.BeginPhyOffset }},
		{"end of a file", func(files []FileInfo) int64 { return files[4].Header.EndPhyOffset }},
		{"last message", func([]FileInfo) int64 { return c.msgs[4999].offset }},
		{"past the end", func([]FileInfo) int64 { return c.msgs[4999].offset + 1 }},
		{"everything", func([]FileInfo) int64 { return 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ix := openIndex(t, dir, opts)
			c.put(t, ix, 0, 5000)
			cut := tt.cut(ix.Files())
			if err := ix.TruncateFrom(cut); err != nil {
				t.Fatal(err)
			}
			kept := 0 // messages below the cut
			for kept < len(c.msgs) && c.msgs[kept].offset < cut {
				kept++
			}
			if kept > 0 {
				last := c.msgs[kept-1]
				if ix.MaxPhysicalOffset() != last.offset || ix.LastTimestamp() < last.ts || ix.LastTimestamp() > last.ts+999 {
					t.Fatalf("MaxPhysicalOffset %d LastTimestamp %d; last kept message %d at %d", ix.MaxPhysicalOffset(), ix.LastTimestamp(), last.offset, last.ts)
				}
			} else if len(ix.Files()) != 0 {
				t.Fatalf("files left: %+v", ix.Files())
			}
			// Reopen, as recovery would, then check and re-dispatch.
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			ix = openIndex(t, dir, opts)
			defer ix.Close()
			for _, i := range []int{0, kept / 2, kept - 1, kept, kept + 1, 4999} {
				if i < 0 || i >= len(c.msgs) {
					continue
				}
				got, _ := ix.Query(c.topic, c.msgs[i].uniq, 0, 0, math.MaxInt64)
				if n := len(c.confirm(t, c.msgs[i].uniq, got, 0, math.MaxInt64)); n != 0 && i >= kept || n != 1 && i < kept {
					t.Fatalf("message %d (kept %d): %v", i, kept, got)
				}
			}
			c.put(t, ix, max(kept-100, 0), 5000)
			for k := range 4999 {
				c.check(t, ix, fmt.Sprintf("user-%d", k), 0, 0, math.MaxInt64, 64)
			}
			for i := range 5000 {
				got, _ := ix.Query(c.topic, c.msgs[i].uniq, 0, 0, math.MaxInt64)
				if confirmed := c.confirm(t, c.msgs[i].uniq, got, 0, math.MaxInt64); len(confirmed) != 1 {
					t.Fatalf("message %d after re-dispatch: %v", i, got)
				}
			}
		})
	}
}

// TestTruncateFromKilledPut cuts a file whose last put was killed before the header counted it.
func TestTruncateFromKilledPut(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HashSlots: 1, MaxEntries: 100, Now: fixedClock()}
	ix := openIndex(t, dir, opts)
	for i := range 10 {
		if err := ix.Put(fmt.Sprint("T#U", i), int64(i)*100, ts0+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	ix.Close()
	path := filepath.Join(dir, "20240102030405006")
	b, _ := os.ReadFile(path)
	h, _ := ParseHeader(b)
	h.IndexCount--
	h.EndPhyOffset -= 100
	h.AppendTo(b[:0])
	os.WriteFile(path, b, 0o644)
	ix = openIndex(t, dir, opts)
	defer ix.Close()
	if err := ix.TruncateFrom(500); err != nil {
		t.Fatal(err)
	}
	if h := ix.Files()[0].Header; h.IndexCount != 6 || h.EndPhyOffset != 400 {
		t.Fatalf("header %+v", h)
	}
	for i := range 10 {
		got, _ := ix.Query("T", fmt.Sprint("U", i), 0, 0, math.MaxInt64)
		want := []int64{int64(i) * 100}
		if i >= 5 {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Fatalf("U%d: %v, want %v", i, got, want)
		}
	}
}
