package consumequeue

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzUnit is the unit of message i in FuzzRecover: varied sizes and tags codes.
func fuzzUnit(i int64) Unit {
	return Unit{CommitLogOffset: 1000 + 250*i, Size: int32(100 + i%50), TagsCode: i*0x1E3779B97F4A7C15 - 3}
}

// FuzzRecover writes a queue, damages the last three files the way a crash does (a zeroed tail
// from any byte, and zeroed holes of at least 40 bytes: lost sectors or pages, each holding a
// whole unit), reopens it and checks that recovery keeps an intact prefix, that re-dispatching
// every original unit succeeds and restores the queue exactly, and that the result survives a
// reopen.
func FuzzRecover(f *testing.F) {
	const unitsPerFile = 50
	const fileSize = unitsPerFile * UnitSize
	opts := Options{UnitsPerFile: unitsPerFile}
	f.Add(uint16(120), uint8(0), uint32(1<<31|1500), []byte{})
	f.Fuzz(func(t *testing.T, count uint16, firstOffset uint8, cut uint32, holes []byte) {
		n := int64(count)%300 + 1
		first := int64(firstOffset) % 150
		root := t.TempDir()
		q, err := Open(root, "Fuzz", 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := first; i < first+n; i++ {
			if err := q.Put(i, fuzzUnit(i)); err != nil {
				t.Fatal(err)
			}
		}
		dir := q.Dir()
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}

		// Load the files, damage the last three in memory, write them back.
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var data [][]byte
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, e.Name())
			data = append(data, b)
		}
		original := make([][]byte, len(data))
		for i := range data {
			original[i] = append([]byte(nil), data[i]...)
		}
		damaged := max(0, len(data)-3)
		region := int64(len(data)-damaged) * fileSize
		if cut>>31 == 1 {
			p := int64(cut&(1<<31-1)) % region
			for fi := damaged + int(p/fileSize); fi < len(data); fi++ {
				from := int64(0)
				if fi == damaged+int(p/fileSize) {
					from = p % fileSize
				}
				clear(data[fi][from:])
			}
		}
		for ; len(holes) >= 3; holes = holes[3:] {
			fi := damaged + int(holes[0])%(len(data)-damaged)
			start := int64(holes[1]) * 4 % fileSize
			end := min(start+40+int64(holes[2]), fileSize)
			clear(data[fi][start:end])
		}
		// The first changed byte, as a queue byte offset: every unit before it is intact.
		firstChanged := int64(-1)
		fileStart := (first / unitsPerFile) * fileSize
		for fi := range data {
			for j := range data[fi] {
				if data[fi][j] != original[fi][j] {
					firstChanged = fileStart + int64(fi)*fileSize + int64(j)
					break
				}
			}
			if firstChanged >= 0 {
				break
			}
		}
		for fi := range data {
			if err := os.WriteFile(filepath.Join(dir, names[fi]), data[fi], 0o644); err != nil {
				t.Fatal(err)
			}
		}

		q, err = Open(root, "Fuzz", 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { q.Close() }()
		maxOffset, minOffset := q.MaxOffset(), q.MinOffset()
		if maxOffset > first+n {
			t.Fatalf("recovered max %d beyond the %d written", maxOffset, first+n)
		}
		if firstChanged < 0 && maxOffset != first+n {
			t.Fatalf("undamaged queue recovered to %d, want %d", maxOffset, first+n)
		}
		if firstChanged >= 0 && maxOffset < firstChanged/UnitSize {
			t.Fatalf("recovered max %d, but units before %d were intact", maxOffset, firstChanged/UnitSize)
		}
		if want := min(first, maxOffset); maxOffset > first && minOffset != want {
			t.Fatalf("min %d, want %d (max %d)", minOffset, want, maxOffset)
		}
		for i := minOffset; i < maxOffset; i++ {
			u, ok := q.Get(i)
			if !ok || u.CommitLogOffset != fuzzUnit(i).CommitLogOffset {
				t.Fatalf("Get(%d) = %+v %v, want offset %d", i, u, ok, fuzzUnit(i).CommitLogOffset)
			}
		}
		// Re-dispatch everything.
		for i := first; i < first+n; i++ {
			if err := q.Put(i, fuzzUnit(i)); err != nil {
				t.Fatalf("re-Put(%d): %v (recovered max %d)", i, err, maxOffset)
			}
		}
		check := func(q *ConsumeQueue) {
			t.Helper()
			if q.MinOffset() != first || q.MaxOffset() != first+n || q.MaxPhysicalOffset() != fuzzUnit(first+n-1).End() {
				t.Fatalf("after re-dispatch: min %d max %d phys %d", q.MinOffset(), q.MaxOffset(), q.MaxPhysicalOffset())
			}
			for i := first; i < first+n; i++ {
				if u, ok := q.Get(i); !ok || u != fuzzUnit(i) {
					t.Fatalf("after re-dispatch Get(%d) = %+v %v", i, u, ok)
				}
			}
		}
		check(q)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		q, err = Open(root, "Fuzz", 0, opts)
		if err != nil {
			t.Fatal(err)
		}
		check(q)
	})
}
