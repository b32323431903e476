package replication

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// TestRowGolden pins the raftidx row layout: a change of these bytes is a format change.
func TestRowGolden(t *testing.T) {
	var b [RowSize]byte
	putRow(b[:], row{phys: 0x0102030405060708, term: 9, size: 1234, typ: pb.EntryType_EntryConfChange, crc: 0xcafef00d})
	const want = "0102030405060708" + "0000000000000009" + "000004d2" + "01" + "000000" + "cafef00d" + "f6e655d8"
	if got := hex.EncodeToString(b[:]); got != want {
		t.Fatalf("row bytes\n got %s\nwant %s", got, want)
	}
	r, ok := getRow(b[:])
	if !ok || r != (row{phys: 0x0102030405060708, term: 9, size: 1234, typ: pb.EntryType_EntryConfChange, crc: 0xcafef00d}) {
		t.Fatalf("decoded %+v %v", r, ok)
	}
	for i := range RowSize {
		c := b
		c[i] ^= 0x10
		if _, ok := getRow(c[:]); ok {
			t.Fatalf("a flipped bit in byte %d went unnoticed", i)
		}
	}
	if _, ok := getRow(make([]byte, RowSize)); ok {
		t.Fatal("a zero row decoded")
	}
}

// FuzzGetRow: any 32 bytes decode without panicking, and what decodes re-encodes to itself.
func FuzzGetRow(f *testing.F) {
	var b [RowSize]byte
	putRow(b[:], row{phys: 77, term: 3, size: 100})
	f.Add(b[:])
	f.Add(make([]byte, RowSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < RowSize {
			return
		}
		r, ok := getRow(in)
		if !ok {
			return
		}
		var out [RowSize]byte
		putRow(out[:], r)
		if got, _ := getRow(out[:]); got != r {
			t.Fatalf("%+v re-decodes as %+v", r, got)
		}
	})
}

// TestHardStateSlots: the newest valid slot wins; a torn newest slot falls back to the other;
// a commit-only change is written (not necessarily synced) and read back.
func TestHardStateSlots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hardstate")
	h, hs, err := openHardState(path)
	if err != nil || hs.GetTerm() != 0 {
		t.Fatalf("new file: %v %v", hs, err)
	}
	for _, st := range []*pb.HardState{hardState(1, 1, 0), hardState(2, 3, 5), hardState(2, 3, 9)} {
		if err := h.set(st); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.setAcked(12, 2, false); err != nil {
		t.Fatal(err)
	}
	h.close()
	h, hs, err = openHardState(path)
	if err != nil || hs.GetTerm() != 2 || hs.GetVote() != 3 || hs.GetCommit() != 9 || h.acked != 12 || h.ackTerm != 2 {
		t.Fatalf("reopen: %v acked %d/%d %v", hs, h.acked, h.ackTerm, err)
	}
	// Tear the newest slot (seq 4 is in slot 0): the previous state comes back.
	if _, err := h.f.WriteAt([]byte{0xFF}, 20); err != nil {
		t.Fatal(err)
	}
	h.close()
	h, hs, err = openHardState(path)
	if err != nil || hs.GetTerm() != 2 || hs.GetCommit() != 9 || h.acked != 0 {
		t.Fatalf("after a torn slot: %v acked %d %v", hs, h.acked, err)
	}
	h.close()
}
