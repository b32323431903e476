package store

import (
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/filter"
)

// GetMessages with SQLFilter returns exactly the messages the expression selects, in queue
// order, reads past the ones it skips, and a filter that needs properties sees TAGS as one.
func TestGetMessagesSQLFilter(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	const n = 30
	for i := range n {
		m := newMessage("F", 0, i, []string{"TagA", "TagB", "TagC"}[i%3])
		m.SetProperty("seq", fmt.Sprint(i))
		if i%4 != 0 {
			m.SetProperty("region", []string{"eu", "us", "ap"}[i%3])
		}
		mustPut(t, s, m)
	}
	syncStore(t, s)
	cases := []struct {
		expr string
		want func(i int) bool
	}{
		{"seq >= 10 AND seq < 20", func(i int) bool { return i >= 10 && i < 20 }},
		{"region IN ('eu', 'ap') OR TAGS = 'TagB'", func(i int) bool { return i%4 != 0 && i%3 != 1 || i%3 == 1 }},
		{"region IS NULL", func(i int) bool { return i%4 == 0 }},
		{"region <> 'eu'", func(i int) bool { return i%4 != 0 && i%3 != 0 }},
		{"seq > 1000", func(int) bool { return false }},
		{"TRUE", func(int) bool { return true }},
	}
	for _, c := range cases {
		e, err := filter.Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for i := range n {
			if c.want(i) {
				want = append(want, int64(i))
			}
		}
		res, err := s.GetMessages("F", 0, 0, 100, 1<<20, SQLFilter(e))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.QueueOffsets) != fmt.Sprint(want) {
			t.Errorf("%q: offsets %v, want %v", c.expr, res.QueueOffsets, want)
		}
		wantStatus := Found
		if len(want) == 0 {
			wantStatus = NoMatchedMessage
		}
		if res.Status != wantStatus || res.NextBeginOffset != n || len(res.Messages) != len(want) {
			t.Errorf("%q: status %v next %d messages %d", c.expr, res.Status, res.NextBeginOffset, len(res.Messages))
		}
		res.Release()
	}
	if SQLFilter(nil) != nil {
		t.Error("SQLFilter(nil) is not nil")
	}
}
