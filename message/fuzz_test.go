package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; regenerate them with
//
//	MQSTORE_WRITE_FUZZ_SEEDS=1 go test ./message -run TestWriteFuzzSeeds

func recordSeeds() [][]byte {
	var seeds [][]byte
	var stream []byte
	for i, c := range goldenCases() {
		rec, _ := AppendRecord(nil, &c.msg)
		PatchRecord(rec, int64(i), int64(len(stream)), 1700000000000)
		seeds = append(seeds, rec)
		stream = append(stream, rec...)
	}
	seeds = append(seeds, append(bytes.Clone(stream), AppendBlankRecord(nil, 16)...))
	seeds = append(seeds, AppendBlankRecord(nil, 1024), make([]byte, 16), seeds[0][:50])
	return seeds
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range recordSeeds() {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, verify bool) {
		// Walk the input as a commitlog reader would.
		for off := 0; off < len(data); {
			var r Record
			n, err := DecodeRecord(data[off:], &r, verify)
			switch {
			case err == nil:
				checkDecoded(t, data[off:off+n], &r, n)
				off += n
				continue
			case errors.Is(err, ErrBlank):
				if n < BlankRecordMinSize || errors.Is(err, ErrCorrupt) {
					t.Fatalf("blank: n=%d err=%v", n, err)
				}
			default:
				if n != 0 || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("n=%d err=%v", n, err)
				}
			}
			break
		}
	})
}

// checkDecoded checks a successfully decoded record: its slices lie inside
// rec, and, when rec is in canonical form, encoding the decoded fields gives
// back rec exactly.
func checkDecoded(t *testing.T, rec []byte, r *Record, n int) {
	t.Helper()
	if n != int(r.TotalSize) || n != len(rec) {
		t.Fatalf("n=%d TotalSize=%d", n, r.TotalSize)
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(rec)))
	within := func(s []byte) bool {
		if len(s) == 0 {
			return true
		}
		p := uintptr(unsafe.Pointer(&s[0]))
		return p >= start && p+uintptr(len(s)) <= start+uintptr(len(rec)) && cap(s) == len(s)
	}
	if !within(r.Body) || !within(r.Topic) || !within(r.Properties) {
		t.Fatal("slice outside the record")
	}
	m := r.Message()
	canonical := CRC32(r.Body) == r.BodyCRC &&
		(r.Magic == MagicV1) == (len(r.Topic) <= MaxTopicLengthV1) &&
		!r.BornHost.Addr().Is4In6() && !r.StoreHost.Addr().Is4In6()
	// Ports are read as their low 16 bits; the high bits must be zero.
	storeHostAt := StoreTimestampOffset(r.SysFlag) + 8
	bornPortAt, storePortAt := offsetBornHost+4, storeHostAt+4
	if r.SysFlag&SysFlagBornHostV6 != 0 {
		bornPortAt += 12
	}
	if r.SysFlag&SysFlagStoreHostV6 != 0 {
		storePortAt += 12
	}
	if binary.BigEndian.Uint16(rec[bornPortAt:]) != 0 || binary.BigEndian.Uint16(rec[storePortAt:]) != 0 {
		canonical = false
	}
	if !canonical {
		return
	}
	again, err := AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	PatchRecord(again, r.QueueOffset, r.PhysicalOffset, r.StoreTimestamp)
	if !bytes.Equal(again, rec) {
		t.Fatalf("re-encoding differs\n got %x\nwant %x", again, rec)
	}
}

func FuzzProperties(f *testing.F) {
	for _, s := range propertySeeds() {
		f.Add(s, "TAGS", "v")
	}
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		p := Properties(data)
		before := bytes.Clone(data)
		m := p.Map()
		if want := javaParse(string(data)); !maps.Equal(m, want) {
			t.Fatalf("Map = %q, Java rules give %q", m, want)
		}
		v, ok := p.Lookup(name)
		if w, wok := m[name]; ok != wok || string(v) != w {
			t.Fatalf("Lookup(%q) = %q %v, map %q %v", name, v, ok, w, wok)
		}
		count := 0
		p.Range(func(k, v []byte) bool {
			if len(k) == 0 || len(v) == 0 || bytes.IndexByte(k, NameValueSeparator) >= 0 || bytes.IndexByte(v, PropertySeparator) >= 0 {
				t.Fatalf("bad entry %q=%q", k, v)
			}
			count++
			return true
		})
		if count < len(m) {
			t.Fatalf("Range saw %d entries, map has %d", count, len(m))
		}
		if got := EncodeProperties(m).Map(); !maps.Equal(got, m) {
			t.Fatalf("EncodeProperties round trip: %q", got)
		}
		d := p.Delete(name)
		wantDel := maps.Clone(m)
		delete(wantDel, name)
		if got := d.Map(); !maps.Equal(got, wantDel) {
			t.Fatalf("Delete(%q): %q, want %q", name, got, wantDel)
		}
		if ValidProperty(name, value) {
			s := p.Set(name, value)
			want := maps.Clone(m)
			want[name] = value
			if got := s.Map(); !maps.Equal(got, want) {
				t.Fatalf("Set(%q, %q): %q, want %q", name, value, got, want)
			}
		}
		if !bytes.Equal(data, before) {
			t.Fatal("input modified")
		}
	})
}

func propertySeeds() [][]byte {
	return [][]byte{
		nil,
		[]byte("TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A80114D0DB00000000000000000001\x02"),
		[]byte("A\x01B"),
		[]byte("A\x01\x02\x01B\x02C\x01D\x01E\x02\x02\x02"),
		[]byte("TAGS\x011\x02TAGS\x012\x02"),
	}
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range batchSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var again []byte
		err := DecodeBatch(data, func(flag int32, body []byte, props Properties) error {
			var err error
			again, err = AppendBatchEntry(again, flag, body, props)
			return err
		})
		if err != nil {
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		// Re-encoding gives the input back, but for MAGICCODE and BODYCRC,
		// which are ignored and written as zero.
		if len(again) != len(data) {
			t.Fatalf("re-encoded %d bytes of %d", len(again), len(data))
		}
		want := bytes.Clone(data)
		for off := 0; off < len(want); off += int(binary.BigEndian.Uint32(want[off:])) {
			clear(want[off+4 : off+12])
		}
		if !bytes.Equal(again, want) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func batchSeeds() [][]byte {
	var b []byte
	b, _ = AppendBatchEntry(b, 0, []byte("hello"), Properties("TAGS\x01TagA\x02"))
	b, _ = AppendBatchEntry(b, 7, nil, nil)
	b, _ = AppendBatchEntry(b, -1, bytes.Repeat([]byte{0xAB}, 100), Properties("KEYS\x01a b\x02"))
	one, _ := AppendBatchEntry(nil, 1, []byte("x"), nil)
	return [][]byte{nil, b, one, b[:30]}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MQSTORE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set MQSTORE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(target string, i int, values ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
			case string:
				fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range recordSeeds() {
		write("FuzzDecodeRecord", i, s, i%2 == 0)
	}
	names := []string{"TAGS", "A", "", "KEYS", "X\x01"}
	for i, s := range propertySeeds() {
		write("FuzzProperties", i, s, names[i%len(names)], "value")
	}
	for i, s := range batchSeeds() {
		write("FuzzDecodeBatch", i, s)
	}
}
