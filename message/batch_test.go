package message

import (
	"bytes"
	"errors"
	"testing"
)

type batchEntry struct {
	flag  int32
	body  []byte
	props Properties
}

func TestBatchGolden(t *testing.T) {
	var g golden
	// entry 1: flag 1, body "ab", props "A\x01B\x02"
	g.u32(22 + 2 + 4) // TOTALSIZE
	g.u32(0)          // MAGICCODE
	g.u32(0)          // BODYCRC
	g.u32(1)          // FLAG
	g.u32(2)
	g.raw([]byte("ab"))
	g.u16(4)
	g.raw([]byte("A\x01B\x02"))
	// entry 2: flag -1, empty body, no props
	g.u32(22)
	g.u32(0)
	g.u32(0)
	g.u32(0xFFFFFFFF)
	g.u32(0)
	g.u16(0)
	want := g.b

	var got []byte
	var err error
	for _, e := range []batchEntry{{1, []byte("ab"), Properties("A\x01B\x02")}, {-1, nil, nil}} {
		if got, err = AppendBatchEntry(got, e.flag, e.body, e.props); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	var entries []batchEntry
	if err := DecodeBatch(want, func(flag int32, body []byte, props Properties) error {
		entries = append(entries, batchEntry{flag, body, props})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].flag != 1 || string(entries[0].body) != "ab" || string(entries[0].props) != "A\x01B\x02" ||
		entries[1].flag != -1 || len(entries[1].body) != 0 || len(entries[1].props) != 0 {
		t.Fatalf("%+v", entries)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good, _ := AppendBatchEntry(nil, 1, []byte("body"), Properties("A\x01B\x02"))
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"short header", good[:21]},
		{"torn", good[:len(good)-1]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"total off", mod(func(b []byte) { b[3]++ })},
		{"body len negative", mod(func(b []byte) { b[16] = 0x80 })},
		{"body len too big", mod(func(b []byte) { b[19] = 200 })},
		{"prop len negative", mod(func(b []byte) { b[20+4] = 0x80 })},
		{"prop len too big", mod(func(b []byte) { b[20+5] = 100 })},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			err := DecodeBatch(c.in, func(int32, []byte, Properties) error { n++; return nil })
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("err = %v", err)
			}
			if c.name == "trailing bytes" && n != 1 {
				t.Fatalf("%d entries before the error", n)
			}
		})
	}
	if err := DecodeBatch(nil, func(int32, []byte, Properties) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	if err := DecodeBatch(append(bytes.Clone(good), good...), func(int32, []byte, Properties) error { return stop }); err != stop {
		t.Fatalf("fn error not returned: %v", err)
	}
	if _, err := AppendBatchEntry(nil, 0, nil, make(Properties, MaxPropertiesLength+1)); !errors.Is(err, ErrPropertiesTooLong) {
		t.Fatal(err)
	}
}
