package txn

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpBody(t *testing.T) {
	tests := []struct {
		body string
		want []int64
		bad  bool
	}{
		{"1234", []int64{1234}, false},
		{"12,13,17", []int64{12, 13, 17}, false},
		{"12,13,17,", []int64{12, 13, 17}, false}, // RocketMQ 5.x trailing comma
		{"", nil, false},
		{",,", nil, false},
		{"0", []int64{0}, false},
		{"9223372036854775807", []int64{9223372036854775807}, false},
		{"9223372036854775808", nil, true},
		{"-1", nil, true},
		{"1,x,2", []int64{1, 2}, true},
		{" 1", nil, true},
	}
	for _, tt := range tests {
		var got []int64
		err := parseOpBody([]byte(tt.body), func(q int64) { got = append(got, q) })
		if !slices.Equal(got, tt.want) || (err != nil) != tt.bad {
			t.Errorf("parseOpBody(%q) = %v, %v", tt.body, got, err)
		}
	}
	var b []byte
	for _, q := range []int64{12, 13, 17} {
		b = appendOpOffset(b, q)
	}
	if string(b) != "12,13,17" {
		t.Errorf("appendOpOffset: %q", b)
	}
}

// Golden vectors: the formats are frozen.
func TestCheckRecordGolden(t *testing.T) {
	r := checkRecord{queueOffset: 0x0102030405060708, halfOffset: 42, checkTime: 1_700_000_000_000, count: 3, result: CheckUnknown}
	got := hex.EncodeToString(appendCheckRecord(nil, r))
	const want = "0102030405060708" + "000000000000002a" + "0000018bcfe56800" + "0003" + "01" + "00" + "9ff2a33a"
	if got != want {
		t.Fatalf("check record\n got %s\nwant %s", got, want)
	}
	back, err := decodeCheckRecord(appendCheckRecord(nil, r))
	if err != nil || back != r {
		t.Fatalf("round trip %+v %v", back, err)
	}
	bad := appendCheckRecord(nil, r)
	bad[3] ^= 1
	if _, err := decodeCheckRecord(bad); !errors.Is(err, errBadCheckRecord) {
		t.Fatalf("corrupt record: %v", err)
	}
}

func TestProgressGolden(t *testing.T) {
	p := progress{halfWatermark: 7, opWatermark: 3, horizon: 1 << 20}
	got := hex.EncodeToString(appendProgress(nil, p))
	const want = "4d515450" + "0000000000000007" + "0000000000000003" + "0000000000100000" + "d7863fc5"
	if got != want {
		t.Fatalf("progress\n got %s\nwant %s", got, want)
	}
	if back, err := decodeProgress(appendProgress(nil, p)); err != nil || back != p {
		t.Fatalf("round trip %+v %v", back, err)
	}
	for _, b := range [][]byte{nil, make([]byte, progressSize), appendProgress(nil, p)[:31]} {
		if _, err := decodeProgress(b); !errors.Is(err, ErrCorruptState) {
			t.Errorf("decodeProgress(%x): %v", b, err)
		}
	}
}

// A torn tail of the check file is cut off at the last whole record.
func TestCheckFileTornTail(t *testing.T) {
	dir := t.TempDir()
	var data []byte
	for i := 0; i < 3; i++ {
		data = appendCheckRecord(data, checkRecord{queueOffset: int64(i), halfOffset: int64(100 * i), count: i + 1})
	}
	data = append(data, appendCheckRecord(nil, checkRecord{queueOffset: 9})[:20]...)
	if err := os.WriteFile(filepath.Join(dir, checkFileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []checkRecord
	cf, err := openCheckFile(nil, dir, func(r checkRecord) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].count != 3 {
		t.Fatalf("records %+v", got)
	}
	cf.add(checkRecord{queueOffset: 5, count: 1})
	if err := cf.compact([]checkRecord{{queueOffset: 7, count: 2}}); err != nil {
		t.Fatal(err)
	}
	cf.add(checkRecord{queueOffset: 8, count: 4})
	if err := cf.close(); err != nil {
		t.Fatal(err)
	}
	got = nil
	cf, err = openCheckFile(nil, dir, func(r checkRecord) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	defer cf.close()
	if len(got) != 2 || got[0].queueOffset != 7 || got[1].queueOffset != 8 {
		t.Fatalf("after compaction %+v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"negative timeout", Options{TransactionTimeout: -1}, false},
		{"negative interval", Options{CheckInterval: -1}, false},
		{"negative max", Options{CheckMax: -1}, false},
		{"max too large", Options{CheckMax: maxCheckCount + 1}, false},
		{"negative reserved", Options{FileReservedTime: -1}, false},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
			t.Errorf("%s: %v", tt.name, err)
		}
		if _, err := New(newFakeStore(newClock()), tt.opts); (err == nil) != tt.ok {
			t.Errorf("New %s: %v", tt.name, err)
		}
	}
	d := Options{}.withDefaults()
	if d.TransactionTimeout != 6e9 || d.CheckInterval != 60e9 || d.CheckMax != 15 || d.FileReservedTime != 72*3600e9 || d.Now == nil {
		t.Errorf("defaults %+v", d)
	}
}

func FuzzParseOpBody(f *testing.F) {
	for _, s := range []string{"1234", "12,13,17,", "", "x", "9223372036854775808"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got []byte
		err := parseOpBody(body, func(q int64) {
			if q < 0 {
				t.Fatalf("negative offset %d", q)
			}
			got = appendOpOffset(got, q)
		})
		if err == nil { // a clean body re-encodes to itself, commas aside
			var again []byte
			if parseOpBody(got, func(q int64) { again = appendOpOffset(again, q) }) != nil || string(again) != string(got) {
				t.Fatalf("re-parse of %q", got)
			}
		}
	})
}

func FuzzDecodeCheckRecord(f *testing.F) {
	f.Add(appendCheckRecord(nil, checkRecord{queueOffset: 1, halfOffset: 2, checkTime: 3, count: 4, result: CheckFailed}))
	f.Add(make([]byte, 31))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCheckRecord(b)
		if err != nil {
			return
		}
		if got := appendCheckRecord(nil, r); string(got) != string(b[:checkRecordSize]) && b[27] == 0 {
			t.Fatalf("re-encode %x != %x", got, b[:checkRecordSize])
		}
	})
}

func FuzzDecodeProgress(f *testing.F) {
	f.Add(appendProgress(nil, progress{halfWatermark: 1, opWatermark: 2, horizon: 3}))
	f.Add([]byte("MQTP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProgress(b)
		if err != nil {
			return
		}
		if got := appendProgress(nil, p); string(got) != string(b) {
			t.Fatalf("re-encode %x != %x", got, b)
		}
	})
}
