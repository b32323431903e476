package consumequeue

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestUnitGolden(t *testing.T) {
	tests := []struct {
		name string
		unit Unit
		hex  string
	}{
		{"zero", Unit{}, "0000000000000000" + "00000000" + "0000000000000000"},
		{"blank", BlankUnit, "0000000000000000" + "7fffffff" + "0000000000000000"},
		{"typical", Unit{CommitLogOffset: 0x0102030405060708, Size: 0x0a0b0c0d, TagsCode: 0x1112131415161718},
			"0102030405060708" + "0a0b0c0d" + "1112131415161718"},
		{"negative tags", Unit{CommitLogOffset: 6000000, Size: 1024, TagsCode: -2},
			"00000000005b8d80" + "00000400" + "fffffffffffffffe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			got := AppendUnit([]byte{0xee}, tt.unit)
			if !bytes.Equal(got[1:], want) || got[0] != 0xee || len(got) != 1+UnitSize {
				t.Fatalf("AppendUnit = %x, want ee%x", got, want)
			}
			put := make([]byte, UnitSize)
			PutUnit(put, tt.unit)
			if !bytes.Equal(put, want) {
				t.Fatalf("PutUnit = %x, want %x", put, want)
			}
			if back := DecodeUnit(want); back != tt.unit {
				t.Fatalf("DecodeUnit = %+v, want %+v", back, tt.unit)
			}
		})
	}
}

func TestUnitPredicates(t *testing.T) {
	tests := []struct {
		unit         Unit
		blank, valid bool
	}{
		{Unit{}, false, false},
		{BlankUnit, true, false},
		{Unit{CommitLogOffset: 0, Size: BlankSize, TagsCode: 7}, true, false},
		{Unit{CommitLogOffset: 1, Size: BlankSize}, false, false},
		{Unit{CommitLogOffset: 0, Size: 1}, false, true},
		{Unit{CommitLogOffset: 100, Size: MaxUnitSize}, false, true},
		{Unit{CommitLogOffset: 100, Size: MaxUnitSize + 1}, false, false},
		{Unit{CommitLogOffset: -1, Size: 10}, false, false},
		{Unit{CommitLogOffset: 10, Size: -10}, false, false},
	}
	for _, tt := range tests {
		if got := tt.unit.IsBlank(); got != tt.blank {
			t.Errorf("%+v IsBlank = %v", tt.unit, got)
		}
		if got := tt.unit.valid(); got != tt.valid {
			t.Errorf("%+v valid = %v", tt.unit, got)
		}
	}
	if end := (Unit{CommitLogOffset: 1000, Size: 24}).End(); end != 1024 {
		t.Fatalf("End = %d", end)
	}
}
