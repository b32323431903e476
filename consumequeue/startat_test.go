package consumequeue

import (
	"errors"
	"slices"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

// TestStartAt: a queue holding units is emptied and continues at a given offset at once (min =
// max = that offset, before any new unit), across a reopen, and the next Put appends there.
func TestStartAt(t *testing.T) {
	tests := []struct {
		name      string
		start     int64
		wantFiles []string
	}{
		{"inside a file", 230, []string{mapped.FileName(4000)}},
		{"on a file boundary", 300, []string{mapped.FileName(6000)}},
		{"below the old units", 20, []string{mapped.FileName(0)}},
		{"zero", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			q := openTest(t, root, testOpts)
			putRange(t, q, 40, 150) // two files
			if err := q.StartAt(tt.start); err != nil {
				t.Fatal(err)
			}
			checkUnits(t, q, tt.start, tt.start)
			if names := fileNames(t, q); !slices.Equal(names, tt.wantFiles) {
				t.Fatalf("files %v, want %v", names, tt.wantFiles)
			}
			// Durable once flushed: a reopen (recovery of a queue of blanks only) keeps it.
			if err := q.Flush(); err != nil {
				t.Fatal(err)
			}
			q.Close()
			q = openTest(t, root, testOpts)
			checkUnits(t, q, tt.start, tt.start)
			putRange(t, q, tt.start, tt.start+120)
			checkUnits(t, q, tt.start, tt.start+120)
			// A unit anywhere else is refused as in any queue (ErrGap), or skipped when it is
			// at or below what the queue holds.
			if err := q.Put(tt.start+125, unitFor(tt.start+125)); err == nil {
				t.Fatal("a unit past the end was accepted")
			}
			q.Close()
			q = openTest(t, root, testOpts)
			checkUnits(t, q, tt.start, tt.start+120)
		})
	}
	q := openTest(t, t.TempDir(), testOpts)
	if err := q.StartAt(-1); err == nil {
		t.Fatal("StartAt(-1) accepted")
	}
	q.Close()
	if err := q.StartAt(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartAt after Close: %v", err)
	}
}
