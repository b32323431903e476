package store_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// Example embeds the store: open, put messages with keys, read them back by queue offset and by
// key, and close.
func Example() {
	dir, err := os.MkdirTemp("", "mqstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(dir, store.Options{
		CommitLogSegmentSize: 64 << 20, // small segments for the example; the default is 1 GiB
		IndexHashSlots:       1 << 16,
		IndexMaxEntries:      1 << 18,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for i := range 3 {
		m := message.New("OrderTopic", []byte(fmt.Sprintf("order %d created", i)))
		m.QueueID = 0
		m.SetTags("created")
		m.SetKeys(fmt.Sprintf("order-%d", i))
		res, err := s.Put(m)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("stored at queue offset %d\n", res.QueueOffset)
	}
	// Messages are readable once dispatched into their queue.
	if err := s.Sync(context.Background()); err != nil {
		log.Fatal(err)
	}

	got, err := s.GetMessages("OrderTopic", 0, 0, 32, 1<<20, store.TagFilter("created"))
	if err != nil {
		log.Fatal(err)
	}
	for _, raw := range got.Messages {
		var r message.Record
		if _, err := message.DecodeRecord(raw, &r, false); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("offset %d: %s\n", r.QueueOffset, r.Body)
	}
	got.Release() // the records are slices of the mapped commitlog until Release

	found, err := s.QueryByKey("OrderTopic", "order-1", 10, 0, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("by key: %s\n", found[0].Body)
	// Output:
	// stored at queue offset 0
	// stored at queue offset 1
	// stored at queue offset 2
	// offset 0: order 0 created
	// offset 1: order 1 created
	// offset 2: order 2 created
	// by key: order 1 created
}
