package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/message"
)

// BenchmarkGetMessagesFilter measures reading 1 KiB messages 32 per call with no filter, a tag
// filter and SQL92 filters that select all, half and a tenth of the messages. Each message
// carries 6 properties (seq, region and the usual KEYS, TAGS, UNIQ_KEY, WAIT). msgs/s counts the
// messages scanned, returned or not.
func BenchmarkGetMessagesFilter(b *testing.B) {
	s, err := Open(b.TempDir(), benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	body := make([]byte, 1024)
	for i := range n {
		m := message.New("BenchTopic", body)
		m.SetTags("TagA")
		m.SetKeys(fmt.Sprint(i))
		m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("UNIQ%08d", i))
		m.SetProperty("seq", fmt.Sprint(i))
		m.SetProperty("region", []string{"eu", "us"}[i%2])
		if _, err := s.Put(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	compile := func(sql string) Filter {
		e, err := filter.Compile(sql)
		if err != nil {
			b.Fatal(err)
		}
		return SQLFilter(e)
	}
	cases := []struct {
		name   string
		filter Filter
	}{
		{"none", nil},
		{"tag", TagFilter("TagA")},
		{"sql-all", compile("seq >= 0")},
		{"sql-half", compile("region = 'eu' AND seq IS NOT NULL")},
		{"sql-tenth", compile("seq BETWEEN 0 AND 9 OR seq >= 10 AND seq < 10000 OR region IN ('x', 'y')")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			offset := int64(0)
			scanned := int64(0)
			for scanned < int64(b.N) {
				res, err := s.GetMessages("BenchTopic", 0, offset, 32, 1<<20, c.filter)
				if err != nil {
					b.Fatal(err)
				}
				scanned += res.NextBeginOffset - offset
				offset = res.NextBeginOffset
				if offset >= n {
					offset = 0
				}
				res.Release()
			}
			b.ReportMetric(float64(scanned)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
