package consumequeue

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

const testUnitsPerFile = 100

var testOpts = Options{UnitsPerFile: testUnitsPerFile}

// unitFor is the unit of the test message with queue offset i: records of 100 bytes every 250
// bytes of commitlog (other queues' records in between).
func unitFor(i int64) Unit {
	return Unit{CommitLogOffset: 1000 + 250*i, Size: 100, TagsCode: i*7 - 3}
}

func openTest(t testing.TB, root string, opts Options) *ConsumeQueue {
	t.Helper()
	q, err := Open(root, "TopicTest", 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func putRange(t testing.TB, q *ConsumeQueue, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Put(i, unitFor(i)); err != nil {
			t.Fatalf("Put(%d): %v", i, err)
		}
	}
}

// checkUnits verifies every offset in [min, max) reads unitFor and the bounds are exact.
func checkUnits(t testing.TB, q *ConsumeQueue, minOffset, maxOffset int64) {
	t.Helper()
	if got := q.MinOffset(); got != minOffset {
		t.Fatalf("MinOffset = %d, want %d", got, minOffset)
	}
	if got := q.MaxOffset(); got != maxOffset {
		t.Fatalf("MaxOffset = %d, want %d", got, maxOffset)
	}
	wantPhysical := int64(0)
	if maxOffset > minOffset {
		wantPhysical = unitFor(maxOffset - 1).End()
	}
	if got := q.MaxPhysicalOffset(); got != wantPhysical {
		t.Fatalf("MaxPhysicalOffset = %d, want %d", got, wantPhysical)
	}
	for i := minOffset; i < maxOffset; i++ {
		u, ok := q.Get(i)
		if !ok || u != unitFor(i) {
			t.Fatalf("Get(%d) = %+v, %v; want %+v", i, u, ok, unitFor(i))
		}
	}
	for _, i := range []int64{minOffset - 1, maxOffset, maxOffset + 1, -1} {
		if u, ok := q.Get(i); ok && (i < minOffset || i >= maxOffset) {
			t.Fatalf("Get(%d) outside [%d, %d) = %+v", i, minOffset, maxOffset, u)
		}
	}
	next := minOffset
	q.Units(0, func(off int64, u Unit) bool {
		if off != next || u != unitFor(off) {
			t.Fatalf("Units: got %d %+v, want %d %+v", off, u, next, unitFor(next))
		}
		next++
		return true
	})
	if next != maxOffset {
		t.Fatalf("Units stopped at %d, want %d", next, maxOffset)
	}
}

func fileNames(t testing.TB, q *ConsumeQueue) []string {
	t.Helper()
	entries, err := os.ReadDir(q.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestPutGetAcrossFiles(t *testing.T) {
	for _, n := range []int64{0, 1, 99, 100, 101, 350} {
		t.Run("", func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			if q.Topic() != "TopicTest" || q.QueueID() != 3 || q.Dir() != filepath.Join(root, "TopicTest", "3") {
				t.Fatalf("identity %s %d %s", q.Topic(), q.QueueID(), q.Dir())
			}
			putRange(t, q, 0, n)
			checkUnits(t, q, 0, n)
			wantFiles := (n + testUnitsPerFile - 1) / testUnitsPerFile
			names := fileNames(t, q)
			if int64(len(names)) != wantFiles {
				t.Fatalf("files %v, want %d", names, wantFiles)
			}
			for i, name := range names {
				if want := mapped.FileName(int64(i) * testUnitsPerFile * UnitSize); name != want {
					t.Fatalf("file %d named %s, want %s", i, name, want)
				}
			}
			// Units from the middle, and stopping early.
			if n > 0 {
				from := n / 2
				var seen []int64
				q.Units(from, func(off int64, u Unit) bool {
					seen = append(seen, off)
					return len(seen) < 3
				})
				want := []int64{from, from + 1, from + 2}[:min(3, n-from)]
				if !slices.Equal(seen, want) {
					t.Fatalf("Units(%d) visited %v, want %v", from, seen, want)
				}
			}
			if err := q.Flush(); err != nil {
				t.Fatal(err)
			}
			q.Close()
			q2 := openTest(t, root, testOpts)
			checkUnits(t, q2, 0, n)
			putRange(t, q2, n, n+5)
			checkUnits(t, q2, 0, n+5)
		})
	}
}

func TestDefaultFileSize(t *testing.T) {
	q := openTest(t, t.TempDir(), Options{})
	putRange(t, q, 0, 3)
	st, err := os.Stat(filepath.Join(q.Dir(), mapped.FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != DefaultUnitsPerFile*UnitSize {
		t.Fatalf("file size %d", st.Size())
	}
}

func TestPutRules(t *testing.T) {
	u := unitFor
	tests := []struct {
		name    string
		prefill int64 // units 0..prefill-1 already stored
		offset  int64
		unit    Unit
		wantErr error
		wantMax int64
		want    Unit // unit read at offset afterwards (zero: do not check)
	}{
		{"append", 10, 10, u(10), nil, 11, u(10)},
		{"append to empty", 0, 0, u(0), nil, 1, u(0)},
		{"same unit again", 10, 5, u(5), nil, 10, u(5)},
		{"same unit at last", 10, 9, u(9), nil, 10, u(9)},
		{"different unit below max", 10, 5, u(6), ErrConflict, 10, u(5)},
		{"torn tags repaired", 10, 5, Unit{u(5).CommitLogOffset, u(5).Size, 99}, nil, 10, Unit{u(5).CommitLogOffset, u(5).Size, 99}},
		{"already dispatched record at max", 10, 10, u(3), nil, 10, Unit{}},
		{"already dispatched record beyond max", 10, 20, u(3), nil, 10, Unit{}},
		{"gap", 10, 11, u(11), ErrGap, 10, Unit{}},
		{"far gap", 10, 1000, u(1000), ErrGap, 10, Unit{}},
		{"overlapping record", 10, 10, Unit{u(9).CommitLogOffset + 50, 200, 0}, ErrConflict, 10, Unit{}},
		{"zero size", 10, 10, Unit{u(10).CommitLogOffset, 0, 0}, ErrInvalidUnit, 10, Unit{}},
		{"huge size", 10, 10, Unit{u(10).CommitLogOffset, MaxUnitSize + 1, 0}, ErrInvalidUnit, 10, Unit{}},
		{"negative commitlog offset", 10, 10, Unit{-5, 10, 0}, ErrInvalidUnit, 10, Unit{}},
		{"blank", 10, 10, BlankUnit, ErrInvalidUnit, 10, Unit{}},
		{"negative queue offset", 10, -1, u(10), ErrInvalidUnit, 10, Unit{}},
		{"across file boundary", 100, 100, u(100), nil, 101, u(100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := openTest(t, t.TempDir(), testOpts)
			putRange(t, q, 0, tt.prefill)
			err := q.Put(tt.offset, tt.unit)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Put = %v, want %v", err, tt.wantErr)
			}
			if got := q.MaxOffset(); got != tt.wantMax {
				t.Fatalf("MaxOffset = %d, want %d", got, tt.wantMax)
			}
			if tt.want != (Unit{}) {
				if got, ok := q.Get(tt.offset); !ok || got != tt.want {
					t.Fatalf("Get(%d) = %+v %v, want %+v", tt.offset, got, ok, tt.want)
				}
			}
		})
	}
}

func TestPutAfterClose(t *testing.T) {
	q := openTest(t, t.TempDir(), testOpts)
	putRange(t, q, 0, 3)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(3, unitFor(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if err := q.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	for _, err := range []error{q.Flush(), q.Recover(), q.TruncateAbove(0)} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
	if _, err := q.SetMinPhysicalOffset(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetMinPhysicalOffset after Close = %v", err)
	}
	if _, ok := q.Get(0); ok {
		t.Fatal("Get after Close found a unit")
	}
	if err := q.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(q.Dir()); !os.IsNotExist(err) {
		t.Fatalf("directory after Destroy: %v", err)
	}
}

func TestPreFill(t *testing.T) {
	tests := []struct {
		first     int64
		wantFirst string // name of the first file
	}{
		{0, mapped.FileName(0)},
		{1, mapped.FileName(0)},
		{99, mapped.FileName(0)},
		{100, mapped.FileName(2000)},
		{250, mapped.FileName(4000)},
	}
	for _, tt := range tests {
		t.Run(tt.wantFirst, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, tt.first, tt.first+120)
			checkUnits(t, q, tt.first, tt.first+120)
			if names := fileNames(t, q); names[0] != tt.wantFirst {
				t.Fatalf("files %v, want first %s", names, tt.wantFirst)
			}
			// The raw bytes below the first unit are blank units.
			data, err := os.ReadFile(filepath.Join(q.Dir(), tt.wantFirst))
			if err != nil {
				t.Fatal(err)
			}
			for i := int64(0); i < tt.first%testUnitsPerFile; i++ {
				if u := DecodeUnit(data[i*UnitSize:]); u != BlankUnit {
					t.Fatalf("unit %d on disk = %+v, want blank", i, u)
				}
			}
			// Re-dispatching a record that falls on a blank is accepted (nothing to compare).
			if tt.first%testUnitsPerFile > 0 {
				if err := q.Put(tt.first-1, unitFor(tt.first-1)); err != nil {
					t.Fatalf("Put on a blank: %v", err)
				}
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q2 := openTest(t, root, testOpts)
			checkUnits(t, q2, tt.first, tt.first+120)
			// A commitlog minimum of 0 still keeps the blanks below MinOffset.
			if _, err := q2.SetMinPhysicalOffset(0); err != nil {
				t.Fatal(err)
			}
			checkUnits(t, q2, tt.first, tt.first+120)
		})
	}
}

// TestRestartAfterLostFirstUnits: the pre-filled first file lost its real units in a crash; the
// next Put (at the same or at a later offset) starts the queue again.
func TestRestartBlankOnlyQueue(t *testing.T) {
	tests := []struct {
		name      string
		keepBytes int64 // bytes of the first file kept (the rest zeroed)
		restart   int64 // queue offset of the next Put
		wantFirst string
	}{
		{"all blanks kept, same offset", 50 * UnitSize, 50, mapped.FileName(0)},
		{"some blanks kept, same offset", 20*UnitSize + 7, 50, mapped.FileName(0)},
		{"no blank kept", 0, 50, mapped.FileName(0)},
		{"later offset in the file", 30 * UnitSize, 70, mapped.FileName(0)},
		{"later offset in another file", 50 * UnitSize, 230, mapped.FileName(4000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, 50, 60)
			q.Close()
			path := filepath.Join(q.Dir(), mapped.FileName(0))
			zeroFrom(t, path, tt.keepBytes)
			q2 := openTest(t, root, testOpts)
			if q2.MaxPhysicalOffset() != 0 || q2.MinOffset() != q2.MaxOffset() {
				t.Fatalf("after recovery: min %d max %d phys %d", q2.MinOffset(), q2.MaxOffset(), q2.MaxPhysicalOffset())
			}
			putRange(t, q2, tt.restart, tt.restart+10)
			checkUnits(t, q2, tt.restart, tt.restart+10)
			if names := fileNames(t, q2); names[0] != tt.wantFirst {
				t.Fatalf("files %v", names)
			}
		})
	}
}

func zeroFrom(t testing.TB, path string, from int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[from:])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeAt(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestRecover(t *testing.T) {
	file := func(i int64) string { return mapped.FileName(i * testUnitsPerFile * UnitSize) }
	tests := []struct {
		name    string
		n       int64
		damage  func(t *testing.T, dir string)
		wantMax int64
	}{
		{"clean", 250, func(*testing.T, string) {}, 250},
		{"clean full files", 300, func(*testing.T, string) {}, 300},
		{"torn last unit: size lost", 250, func(t *testing.T, dir string) {
			zeroFrom(t, filepath.Join(dir, file(2)), 49*UnitSize+8)
		}, 249},
		{"torn last unit: only tags lost", 250, func(t *testing.T, dir string) {
			zeroFrom(t, filepath.Join(dir, file(2)), 49*UnitSize+14)
		}, 250},
		{"zeroed tail mid file", 250, func(t *testing.T, dir string) {
			zeroFrom(t, filepath.Join(dir, file(2)), 10*UnitSize+3)
		}, 210},
		{"zeroed whole last file", 250, func(t *testing.T, dir string) {
			zeroFrom(t, filepath.Join(dir, file(2)), 0)
		}, 200},
		{"hole in the middle file drops what follows", 250, func(t *testing.T, dir string) {
			path := filepath.Join(dir, file(1))
			writeAt(t, path, 40*UnitSize, make([]byte, 3*UnitSize))
		}, 140},
		{"unit going backwards", 250, func(t *testing.T, dir string) {
			writeAt(t, filepath.Join(dir, file(2)), 20*UnitSize, AppendUnit(nil, unitFor(3)))
		}, 220},
		{"head-torn unit (offset bytes zero)", 250, func(t *testing.T, dir string) {
			writeAt(t, filepath.Join(dir, file(2)), 30*UnitSize, make([]byte, 8))
		}, 230},
		{"blank after a real unit", 250, func(t *testing.T, dir string) {
			writeAt(t, filepath.Join(dir, file(2)), 5*UnitSize, AppendUnit(nil, BlankUnit))
		}, 205},
		{"garbage size", 250, func(t *testing.T, dir string) {
			writeAt(t, filepath.Join(dir, file(2)), 7*UnitSize+8, []byte{0x7f, 0xff, 0x00, 0x00})
		}, 207},
		{"damage before the third-to-last file is trusted", 450, func(t *testing.T, dir string) {
			writeAt(t, filepath.Join(dir, file(0)), 10*UnitSize, make([]byte, UnitSize))
		}, 450},
		{"stale preallocated empty file", 200, func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, file(2)), make([]byte, testUnitsPerFile*UnitSize), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, 0, tt.n)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, q.Dir())
			q2 := openTest(t, root, testOpts)
			if got := q2.MaxOffset(); got != tt.wantMax {
				t.Fatalf("MaxOffset after recovery = %d, want %d", got, tt.wantMax)
			}
			if tt.name == "damage before the third-to-last file is trusted" {
				return
			}
			// Every retained unit is the original (or, for a torn tail, has its commitlog offset).
			for i := int64(0); i < tt.wantMax; i++ {
				if u, ok := q2.Get(i); !ok || u.CommitLogOffset != unitFor(i).CommitLogOffset {
					t.Fatalf("Get(%d) = %+v %v", i, u, ok)
				}
			}
			// Recover again is a no-op; re-dispatch repairs and continues.
			if err := q2.Recover(); err != nil || q2.MaxOffset() != tt.wantMax {
				t.Fatalf("second Recover: %v, max %d", err, q2.MaxOffset())
			}
			putRange(t, q2, 0, tt.n+10)
			checkUnits(t, q2, 0, tt.n+10)
			// The tail beyond the recovered end was zeroed on disk.
			q2.Close()
			q3 := openTest(t, root, testOpts)
			checkUnits(t, q3, 0, tt.n+10)
		})
	}
}

func TestTruncateAbove(t *testing.T) {
	tests := []struct {
		name    string
		phy     int64
		wantMax int64
	}{
		{"past the end", unitFor(249).End() + 1000, 250},
		{"at the last record", unitFor(249).CommitLogOffset, 249},
		{"inside the last record", unitFor(249).CommitLogOffset + 1, 250},
		{"mid file", unitFor(150).CommitLogOffset, 150},
		{"file boundary", unitFor(200).CommitLogOffset, 200},
		{"between records", unitFor(120).CommitLogOffset - 10, 120},
		{"everything", unitFor(0).CommitLogOffset, 0},
		{"zero", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, 0, 250)
			if err := q.TruncateAbove(tt.phy); err != nil {
				t.Fatal(err)
			}
			checkUnits(t, q, 0, tt.wantMax)
			wantFiles := tt.wantMax/testUnitsPerFile + 1
			if got := int64(len(fileNames(t, q))); got != wantFiles {
				t.Fatalf("files %v, want %d", fileNames(t, q), wantFiles)
			}
			// Dispatch continues from the new end, and it survives a reopen.
			putRange(t, q, tt.wantMax, 260)
			checkUnits(t, q, 0, 260)
			q.Close()
			checkUnits(t, openTest(t, root, testOpts), 0, 260)
		})
	}
}

func TestTruncateAboveKeepsBlanks(t *testing.T) {
	q := openTest(t, t.TempDir(), testOpts)
	putRange(t, q, 30, 60)
	if err := q.TruncateAbove(unitFor(30).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	if q.MaxOffset() != 30 || q.MinOffset() != 30 || q.MaxPhysicalOffset() != 0 {
		t.Fatalf("min %d max %d phys %d", q.MinOffset(), q.MaxOffset(), q.MaxPhysicalOffset())
	}
	putRange(t, q, 30, 40)
	checkUnits(t, q, 30, 40)
	// Truncating below every record also drops the blanks (an empty commitlog).
	if err := q.TruncateAbove(0); err != nil {
		t.Fatal(err)
	}
	if q.MaxOffset() != 0 || q.MinOffset() != 0 {
		t.Fatalf("after TruncateAbove(0): min %d max %d", q.MinOffset(), q.MaxOffset())
	}
}

func TestSetMinPhysicalOffset(t *testing.T) {
	tests := []struct {
		name        string
		phy         int64
		wantDeleted int
		wantMin     int64
	}{
		{"zero", 0, 0, 0},
		{"inside first file", unitFor(50).CommitLogOffset, 0, 50},
		{"last unit of first file", unitFor(99).CommitLogOffset, 0, 99},
		{"first unit of second file", unitFor(100).CommitLogOffset, 1, 100},
		{"between records", unitFor(100).CommitLogOffset - 1, 1, 100},
		{"inside third file", unitFor(233).CommitLogOffset, 2, 233},
		{"inside last file", unitFor(310).CommitLogOffset, 3, 310},
		{"beyond everything keeps the last file", unitFor(400).CommitLogOffset, 3, 350},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, 0, 350)
			n, err := q.SetMinPhysicalOffset(tt.phy)
			if err != nil || n != tt.wantDeleted {
				t.Fatalf("SetMinPhysicalOffset = %d, %v; want %d deleted", n, err, tt.wantDeleted)
			}
			if got := len(fileNames(t, q)); got != 4-tt.wantDeleted {
				t.Fatalf("files %v", fileNames(t, q))
			}
			if tt.wantMin == 350 {
				if q.MinOffset() != 350 || q.MaxOffset() != 350 {
					t.Fatalf("min %d max %d", q.MinOffset(), q.MaxOffset())
				}
				if _, ok := q.Get(349); ok {
					t.Fatal("unit below the minimum readable")
				}
			} else {
				checkUnits(t, q, tt.wantMin, 350)
			}
			putRange(t, q, 350, 360)
			if q.MinOffset() != tt.wantMin {
				t.Fatalf("MinOffset after more puts = %d", q.MinOffset())
			}
			// A reopened queue knows its first file, but not the commitlog minimum until told.
			q.Close()
			q2 := openTest(t, root, testOpts)
			if _, err := q2.SetMinPhysicalOffset(tt.phy); err != nil {
				t.Fatal(err)
			}
			if tt.wantMin == 350 {
				// The units added meanwhile point below the minimum too.
				if q2.MinOffset() != 360 || q2.MaxOffset() != 360 {
					t.Fatalf("reopened: min %d max %d", q2.MinOffset(), q2.MaxOffset())
				}
				return
			}
			checkUnits(t, q2, tt.wantMin, 360)
		})
	}
}

func TestOffsetByTime(t *testing.T) {
	// Store times by queue offset (non-decreasing, with runs of equal times).
	times := []int64{100, 100, 100, 105, 110, 110, 120, 130, 130, 130, 140}
	for i := int64(len(times)); i < 250; i++ {
		times = append(times, 140+i)
	}
	byCommitLog := map[int64]int64{}
	for i, ts := range times {
		byCommitLog[unitFor(int64(i)).CommitLogOffset] = ts
	}
	calls := 0
	storeTime := func(off int64, size int32) (int64, error) {
		calls++
		ts, ok := byCommitLog[off]
		if !ok || size != 100 {
			return 0, errors.New("no record")
		}
		return ts, nil
	}
	q := openTest(t, t.TempDir(), testOpts)
	putRange(t, q, 0, int64(len(times)))
	tests := []struct {
		ts, want int64
	}{
		{0, 0}, {99, 0}, {100, 0}, {101, 3}, {105, 3}, {106, 4}, {110, 4}, {111, 6}, {120, 6},
		{125, 7}, {130, 7}, {131, 10}, {140, 10}, {151, 11}, {152, 12}, {140 + 249, 249}, {140 + 250, 250}, {1 << 40, 250},
	}
	for _, tt := range tests {
		calls = 0
		got, err := q.OffsetByTime(tt.ts, storeTime)
		if err != nil || got != tt.want {
			t.Errorf("OffsetByTime(%d) = %d, %v; want %d", tt.ts, got, err, tt.want)
		}
		if calls > 10 {
			t.Errorf("OffsetByTime(%d) made %d lookups", tt.ts, calls)
		}
	}
	// Below the minimum: the answer is never under MinOffset.
	if _, err := q.SetMinPhysicalOffset(unitFor(120).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{0, 100, 140 + 120} {
		if got, err := q.OffsetByTime(ts, storeTime); err != nil || got != 120 {
			t.Errorf("after SetMinPhysicalOffset: OffsetByTime(%d) = %d, %v; want 120", ts, got, err)
		}
	}
	if got, err := q.OffsetByTime(140+200, storeTime); err != nil || got != 200 {
		t.Errorf("OffsetByTime(340) = %d, %v", got, err)
	}
	// Errors of the lookup are returned.
	failing := func(int64, int32) (int64, error) { return 0, errNoRecord }
	if _, err := q.OffsetByTime(150, failing); !errors.Is(err, errNoRecord) {
		t.Fatalf("lookup error = %v", err)
	}
	// An empty queue answers 0 without lookups.
	empty := openTestNamed(t, t.TempDir(), "Empty", 0)
	if got, err := empty.OffsetByTime(5, failing); err != nil || got != 0 {
		t.Fatalf("empty queue: %d, %v", got, err)
	}
}

var errNoRecord = errors.New("no record")

func openTestNamed(t testing.TB, root, topic string, queueID int32) *ConsumeQueue {
	t.Helper()
	q, err := Open(root, topic, queueID, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func TestOpenInvalid(t *testing.T) {
	root := t.TempDir()
	for _, topic := range []string{"", ".", "..", "a/b", "/abs", "a\x00b", string(make([]byte, MaxTopicLen+1))} {
		if _, err := Open(root, topic, 0, testOpts); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Open(%q) = %v", topic, err)
		}
	}
	if _, err := Open(root, "T", -1, testOpts); !errors.Is(err, ErrInvalidName) {
		t.Errorf("negative queue id: %v", err)
	}
	for _, opts := range []Options{{UnitsPerFile: -1}, {UnitsPerFile: MaxUnitsPerFile + 1}} {
		if _, err := Open(root, "T", 0, opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) = %v", opts, err)
		}
	}
	// Files of another size are refused.
	q := openTest(t, root, testOpts)
	putRange(t, q, 0, 5)
	q.Close()
	if _, err := Open(root, "TopicTest", 3, Options{UnitsPerFile: 50}); !errors.Is(err, mapped.ErrBadSize) {
		t.Errorf("Open with another file size = %v", err)
	}
	for _, topic := range []string{"%RETRY%group", "RMQ_SYS_TRANS_HALF_TOPIC", "a-b_c|d"} {
		if _, err := Open(root, topic, 0, testOpts); err != nil {
			t.Errorf("Open(%q) = %v", topic, err)
		}
	}
}
