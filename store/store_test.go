package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
)

// testOptions are small enough to roll files quickly in tests.
func testOptions() Options {
	return Options{
		CommitLogSegmentSize: 1 << 20,
		MaxMessageSize:       64 << 10,
		ConsumeQueueUnits:    1000,
		IndexHashSlots:       1000,
		IndexMaxEntries:      4000,
		FlushInterval:        10 * time.Millisecond,
		CheckpointInterval:   50 * time.Millisecond,
		DiskUsage:            func(string) (float64, error) { return 0.1, nil },
	}
}

// storeConfigs is the matrix the shared suite runs over.
var storeConfigs = []struct {
	name   string
	modify func(*Options)
}{
	{"async", func(*Options) {}},
	{"sync", func(o *Options) { o.FlushMode = commitlog.SyncFlush }},
}

func forEachStoreConfig(t *testing.T, fn func(t *testing.T, opts Options)) {
	for _, c := range storeConfigs {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions()
			c.modify(&o)
			fn(t, o)
		})
	}
}

// openStore opens a store and registers a cleanup that checks its consistency and closes it.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.closed.Load() {
			return
		}
		checkStoreConsistent(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkStoreConsistent verifies that every queue unit points at a valid record of its own topic
// and queue, with its queue offset, and that no unit points past the commitlog end.
func checkStoreConsistent(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Sync(context.Background()); err != nil {
		t.Errorf("consistency: sync: %v", err)
		return
	}
	end := s.MaxPhysicalOffset()
	s.queues.Range(func(q *consumequeue.ConsumeQueue) bool {
		q.Units(q.MinOffset(), func(qo int64, u consumequeue.Unit) bool {
			if u.IsBlank() {
				return true
			}
			if u.End() > end {
				t.Errorf("consistency: %s/%d@%d points past the commitlog end %d", q.Topic(), q.QueueID(), qo, end)
				return false
			}
			var r message.Record
			sl, err := s.commitLog.Read(u.CommitLogOffset, &r)
			if err != nil {
				t.Errorf("consistency: %s/%d@%d: %v", q.Topic(), q.QueueID(), qo, err)
				return false
			}
			if string(r.Topic) != q.Topic() || r.QueueID != q.QueueID() || r.QueueOffset != qo || r.TotalSize != u.Size {
				t.Errorf("consistency: %s/%d@%d points at %s/%d@%d", q.Topic(), q.QueueID(), qo, r.Topic, r.QueueID, r.QueueOffset)
			}
			sl.Release()
			return true
		})
		return true
	})
}

func newMessage(topic string, queue int32, i int, tags string) *message.Message {
	m := message.New(topic, []byte(fmt.Sprintf("body-%s-%d-%d", topic, queue, i)))
	m.QueueID = queue
	m.BornHost = netip.MustParseAddrPort("192.168.0.10:40001")
	m.BornTimestamp = time.Now().UnixMilli()
	if tags != "" {
		m.SetTags(tags)
	}
	m.SetKeys(fmt.Sprintf("k%d", i), fmt.Sprintf("group%d", i%10))
	m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("UNIQ%08d", i))
	return m
}

func mustPut(t testing.TB, s *Store, m *message.Message) PutResult {
	t.Helper()
	res, err := s.Put(m)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func syncStore(t testing.TB, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPutGetReopen(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, opts Options) {
		dir := t.TempDir()
		s := openStore(t, dir, opts)
		for i := range 300 {
			res := mustPut(t, s, newMessage("Orders", int32(i%4), i, "TagA"))
			if res.Status != PutOK || res.QueueOffset != int64(i/4) || res.QueueID != int32(i%4) {
				t.Fatalf("put %d: %+v", i, res)
			}
		}
		syncStore(t, s)
		for q := range int32(4) {
			got, err := s.GetMessages("Orders", q, 0, 1000, 1<<30, nil)
			if err != nil || got.Status != Found || len(got.Messages) != 75 || got.NextBeginOffset != 75 {
				t.Fatalf("queue %d: %v %v %d next %d", q, err, got.Status, len(got.Messages), got.NextBeginOffset)
			}
			for j, raw := range got.Messages {
				var r message.Record
				if _, err := message.DecodeRecord(raw, &r, true); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("body-Orders-%d-%d", q, j*4+int(q)); string(r.Body) != want || r.QueueOffset != int64(j) {
					t.Fatalf("queue %d msg %d: %q offset %d", q, j, r.Body, r.QueueOffset)
				}
			}
			got.Release()
		}
		checkStoreConsistent(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := s.Put(newMessage("Orders", 0, 0, "")); !errors.Is(err, ErrServiceNotAvailable) {
			t.Fatalf("Put after Close: %v", err)
		}

		s = openStore(t, dir, opts)
		rec := s.Recovery()
		if rec.Crashed || !rec.CheckpointValid || rec.Redispatched != 0 {
			t.Fatalf("clean reopen: %+v", rec)
		}
		res := mustPut(t, s, newMessage("Orders", 1, 1000, ""))
		if res.QueueOffset != 75 {
			t.Fatalf("after reopen the queue offset is %d, want 75", res.QueueOffset)
		}
		if s.MaxOffset("Orders", 2) != 75 || s.MinOffset("Orders", 2) != 0 {
			t.Fatal("min/max offsets wrong after reopen")
		}
	})
}

func TestGetMessagesStatuses(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	if got, _ := s.GetMessages("Nope", 0, 0, 10, 1<<20, nil); got.Status != NoMatchedLogicQueue {
		t.Fatalf("unknown queue: %v", got.Status)
	}
	for i := range 20 {
		tags := "TagA"
		if i%2 == 1 {
			tags = "TagB"
		}
		mustPut(t, s, newMessage("T", 0, i, tags))
	}
	syncStore(t, s)
	cases := []struct {
		offset     int64
		maxMsgs    int
		maxBytes   int
		filter     Filter
		status     GetStatus
		count      int
		nextOffset int64
	}{
		{0, 5, 1 << 20, nil, Found, 5, 5},
		{0, 100, 1 << 20, TagFilter("TagB"), Found, 10, 20},
		{0, 3, 1 << 20, TagFilter("TagA", "TagB"), Found, 3, 3},
		{0, 100, 1 << 20, TagFilter("*"), Found, 20, 20},
		{0, 100, 1 << 20, TagFilter("TagC"), NoMatchedMessage, 0, 20},
		{0, 100, 1, nil, Found, 1, 1}, // maxBytes smaller than one message: still one
		{20, 10, 1 << 20, nil, OffsetOverflowOne, 0, 20},
		{25, 10, 1 << 20, nil, OffsetOverflowBadly, 0, 20},
	}
	for _, c := range cases {
		got, err := s.GetMessages("T", 0, c.offset, c.maxMsgs, c.maxBytes, c.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != c.status || len(got.Messages) != c.count || got.NextBeginOffset != c.nextOffset {
			t.Errorf("offset %d max %d: got %v/%d/next %d, want %v/%d/next %d", c.offset, c.maxMsgs,
				got.Status, len(got.Messages), got.NextBeginOffset, c.status, c.count, c.nextOffset)
		}
		if got.MinOffset != 0 || got.MaxOffset != 20 {
			t.Errorf("bounds %d/%d", got.MinOffset, got.MaxOffset)
		}
		got.Release()
	}
}

func TestPutValidation(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	cases := []struct {
		msg    *message.Message
		status PutStatus
	}{
		{message.New("", []byte("x")), PutMessageIllegal},
		{message.New("bad topic", []byte("x")), PutMessageIllegal},
		{message.New("a/b", []byte("x")), PutMessageIllegal},
		{message.New(string(bytes.Repeat([]byte("t"), 128)), []byte("x")), PutMessageIllegal},
		{message.New("Big", make([]byte, 64<<10+1)), PutMessageIllegal},
		{&message.Message{Topic: "Q", QueueID: -1, Body: []byte("x")}, PutMessageIllegal},
		{&message.Message{Topic: "P", Body: []byte("x"), Properties: message.Properties(bytes.Repeat([]byte("a"), 40000))}, PutPropertiesSizeExceeded},
	}
	for _, c := range cases {
		res, err := s.Put(c.msg)
		if !errors.Is(err, ErrMessageIllegal) || res.Status != c.status {
			t.Errorf("topic %.20q body %d: status %v err %v, want %v", c.msg.Topic, len(c.msg.Body), res.Status, err, c.status)
		}
	}
	// Legal names: RocketMQ's alphabet.
	for _, topic := range []string{"a", "Topic_1-x", "%RETRY%group", "a|b"} {
		if _, err := s.Put(message.New(topic, []byte("x"))); err != nil {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
}

func TestLookups(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	var results []PutResult
	for i := range 50 {
		results = append(results, mustPut(t, s, newMessage("L", int32(i%2), i, "")))
		time.Sleep(time.Millisecond)
	}
	syncStore(t, s)
	m, err := s.LookupByMsgID(results[17].MsgID)
	if err != nil || string(m.Body) != "body-L-1-17" || m.QueueOffset != 8 || m.MsgID != results[17].MsgID {
		t.Fatalf("LookupByMsgID: %v %+v", err, m)
	}
	if _, err := s.LookupByMsgID("zz"); !errors.Is(err, ErrBadMsgID) {
		t.Fatalf("bad msg id: %v", err)
	}
	if _, err := s.ReadAt(1 << 40); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadAt beyond the end: %v", err)
	}
	found, err := s.QueryByKey("L", "k23", 10, 0, 0)
	if err != nil || len(found) != 1 || string(found[0].Body) != "body-L-1-23" {
		t.Fatalf("QueryByKey k23: %v %d", err, len(found))
	}
	found, _ = s.QueryByKey("L", "group3", 64, 0, 0)
	if len(found) != 5 {
		t.Fatalf("QueryByKey group3: %d, want 5", len(found))
	}
	for i := 1; i < len(found); i++ {
		if found[i].PhysicalOffset > found[i-1].PhysicalOffset {
			t.Fatal("QueryByKey results are not newest first")
		}
	}
	found, _ = s.QueryByKey("L", "UNIQ00000042", 10, 0, 0)
	if len(found) != 1 || found[0].QueueOffset != 21 {
		t.Fatalf("query by uniq key: %d", len(found))
	}
	if found, _ := s.QueryByKey("Other", "k23", 10, 0, 0); len(found) != 0 {
		t.Fatal("key of another topic matched")
	}
	// OffsetByTime.
	for _, i := range []int{0, 10, 33, 49} {
		off, err := s.OffsetByTime("L", int32(i%2), results[i].StoreTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.QueueUnit("L", int32(i%2), off); got.CommitLogOffset > results[i].PhysicalOffset {
			t.Fatalf("OffsetByTime(%d) = %d is after the message", i, off)
		}
	}
	st, ok := s.QueueStat("L", 1)
	if !ok || st.MaxOffset != 25 || st.LastUpdateTime != results[49].StoreTimestamp {
		t.Fatalf("QueueStat: %+v", st)
	}
	if ts, err := s.EarliestStoreTime("L", 0); err != nil || ts != results[0].StoreTimestamp {
		t.Fatalf("EarliestStoreTime: %d %v", ts, err)
	}
	if ts, err := s.EarliestMessageTime(); err != nil || ts != results[0].StoreTimestamp {
		t.Fatalf("EarliestMessageTime: %d %v", ts, err)
	}
	if len(s.Queues()) != 2 {
		t.Fatalf("Queues: %v", s.Queues())
	}
}

func TestIndexManyKeysAcrossFiles(t *testing.T) {
	opts := testOptions()
	opts.CommitLogSegmentSize = 8 << 20
	opts.IndexHashSlots = 5000
	opts.IndexMaxEntries = 40000
	s := openStore(t, t.TempDir(), opts)
	const n = 100_000
	batch := make([]*message.Message, 0, 100)
	var firstTime, midTime int64
	for i := range n {
		m := message.New("IDX", []byte("x"))
		m.QueueID = int32(i % 8)
		m.SetKeys(fmt.Sprintf("key%d", i%25000)) // each key on 4 messages
		batch = append(batch, m)
		if len(batch) == cap(batch) {
			res, err := s.PutBatch(batch)
			if err != nil {
				t.Fatal(err)
			}
			if i < 100 {
				firstTime = res[0].StoreTimestamp
			}
			if i == n/2-1 {
				time.Sleep(5 * time.Millisecond)
				midTime = res[len(res)-1].StoreTimestamp + 1
				time.Sleep(5 * time.Millisecond)
			}
			batch = batch[:0]
		}
	}
	syncStore(t, s)
	if files := len(s.index.Files()); files < 3 {
		t.Fatalf("only %d index files", files)
	}
	for k := 0; k < 25000; k += 97 {
		key := fmt.Sprintf("key%d", k)
		found, err := s.QueryByKey("IDX", key, 64, firstTime, 0)
		if err != nil || len(found) != 4 {
			t.Fatalf("%s: %d messages (%v), want 4", key, len(found), err)
		}
		// Time range: messages k and k+25000 are in the first half, k+50000 and k+75000 in the second.
		late, _ := s.QueryByKey("IDX", key, 64, midTime, 0)
		if len(late) != 2 {
			t.Fatalf("%s after the midpoint: %d, want 2", key, len(late))
		}
		early, _ := s.QueryByKey("IDX", key, 64, 0, midTime-1)
		if len(early) != 2 {
			t.Fatalf("%s before the midpoint: %d, want 2", key, len(early))
		}
	}
}

func TestRetentionAndOffsetTooSmall(t *testing.T) {
	now := time.Now()
	opts := testOptions()
	opts.Now = func() time.Time { return now }
	opts.FileReservedTime = time.Hour
	opts.CleanInterval = time.Hour // run Clean by hand
	s := openStore(t, t.TempDir(), opts)
	for i := range 3000 {
		m := newMessage("R", 0, i, "")
		m.Body = make([]byte, 900)
		mustPut(t, s, m)
	}
	syncStore(t, s)
	if n := s.Clean(); n != 0 {
		t.Fatalf("deleted %d young segments", n)
	}
	now = now.Add(2 * time.Hour)
	if n := s.Clean(); n == 0 {
		t.Fatal("nothing deleted")
	}
	minOff := s.MinOffset("R", 0)
	if minOff == 0 {
		t.Fatal("queue min offset did not move")
	}
	got, _ := s.GetMessages("R", 0, 0, 10, 1<<20, nil)
	if got.Status != OffsetTooSmall || got.NextBeginOffset != minOff {
		t.Fatalf("read below min: %v next %d, want OFFSET_TOO_SMALL next %d", got.Status, got.NextBeginOffset, minOff)
	}
	got.Release()
	got, _ = s.GetMessages("R", 0, minOff, 10, 1<<20, nil)
	if got.Status != Found {
		t.Fatalf("read at min: %v", got.Status)
	}
	got.Release()
}

func TestDiskFull(t *testing.T) {
	usage := 0.5
	opts := testOptions()
	opts.DiskUsage = func(string) (float64, error) { return usage, nil }
	opts.CleanInterval = time.Hour
	s := openStore(t, t.TempDir(), opts)
	mustPut(t, s, newMessage("D", 0, 0, ""))
	usage = 0.95
	s.Clean()
	res, err := s.Put(newMessage("D", 0, 1, ""))
	if !errors.Is(err, ErrServiceNotAvailable) || res.Status != PutServiceNotAvailable {
		t.Fatalf("disk full: %v %v", res.Status, err)
	}
	usage = 0.5
	s.Clean()
	mustPut(t, s, newMessage("D", 0, 2, ""))
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir, testOptions())
	if _, err := Open(dir, testOptions()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOnArrivalAndWaitDispatched(t *testing.T) {
	arrived := make(chan int64, 100)
	opts := testOptions()
	opts.OnArrival = func(topic string, queueID int32, maxOffset, _ int64) {
		if topic == "W" && queueID == 3 {
			arrived <- maxOffset
		}
	}
	s := openStore(t, t.TempDir(), opts)
	res := mustPut(t, s, newMessage("W", 3, 0, ""))
	select {
	case off := <-arrived:
		if off != 1 {
			t.Fatalf("arrival max offset %d", off)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no arrival callback")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.WaitDispatched(ctx, res.PhysicalOffset+int64(res.Size)); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := s.WaitDispatched(ctx2, 1<<40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for an offset never written: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	for _, o := range []Options{
		{MaxTopicLength: 300},
		{DiskFullRatio: 1.5},
		{CommitLogSegmentSize: 100},
		{IndexMaxEntries: 1},
		{FileReservedTime: -1},
	} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestPutAsync(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, opts Options) {
		s := openStore(t, t.TempDir(), opts)
		const n = 200
		results := make(chan PutResult, n)
		for i := range n {
			if _, err := s.PutAsync(newMessage("PA", int32(i%2), i, ""), func(res PutResult, err error) {
				if err != nil {
					t.Error(err)
				}
				results <- res
			}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[int64]bool{}
		for range n {
			select {
			case res := <-results:
				if res.Status != PutOK || res.MsgID == "" || seen[res.PhysicalOffset] {
					t.Fatalf("result %+v", res)
				}
				seen[res.PhysicalOffset] = true
			case <-time.After(10 * time.Second):
				t.Fatal("not every PutAsync was called back")
			}
		}
		syncStore(t, s)
		if s.MaxOffset("PA", 0) != n/2 || s.MaxOffset("PA", 1) != n/2 {
			t.Fatalf("queues hold %d and %d", s.MaxOffset("PA", 0), s.MaxOffset("PA", 1))
		}
		status, err := s.PutAsync(message.New("bad topic", nil), func(PutResult, error) { t.Error("called back") })
		if status != PutMessageIllegal || !errors.Is(err, ErrMessageIllegal) {
			t.Fatalf("illegal: %v %v", status, err)
		}
	})
}

// TestCorruptIndexIsRebuilt: a damaged index file does not keep the store from opening; the
// index is set aside and rebuilt from the commitlog, and key queries work again.
func TestCorruptIndexIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := openStore(t, dir, opts)
	for i := range 20 {
		mustPut(t, s, newMessage("Idx", 0, i, ""))
	}
	checkStoreConsistent(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "index", "*"))
	if len(files) == 0 {
		t.Fatal("no index file")
	}
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0x7f, 0xff, 0xff, 0xff}, 36) // indexCount far beyond the file
	f.Close()

	s = openStore(t, dir, opts)
	if !s.Recovery().IndexRebuilt {
		t.Fatal("the corrupt index was not rebuilt")
	}
	found, err := s.QueryByKey("Idx", "k7", 10, 0, 0)
	if err != nil || len(found) != 1 || string(found[0].Body) != "body-Idx-0-7" {
		t.Fatalf("query after rebuild: %v %d", err, len(found))
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "index.corrupt-*")); len(aside) != 1 {
		t.Fatalf("damaged index not kept aside: %v", aside)
	}
}
