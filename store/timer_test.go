package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

func timerTestOptions() Options {
	o := testOptions()
	o.Timer.Precision = 100 * time.Millisecond
	o.Timer.MaxDelay = time.Hour
	o.Timer.CheckpointInterval = 20 * time.Millisecond
	o.DelayLevels = []time.Duration{300 * time.Millisecond, time.Second}
	return o
}

// delivered is a message read back from its destination queue.
type delivered struct {
	seq       int
	storeTime int64
	msg       *StoredMessage
}

// readQueue returns the messages of a queue from offset 0, keyed by their "seq" property.
func readQueue(t testing.TB, s *Store, topic string, queue int32) []delivered {
	t.Helper()
	var out []delivered
	s.ScanQueue(topic, queue, 0, func(_ int64, u consumequeue.Unit) bool {
		m, err := s.ReadAt(u.CommitLogOffset)
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := strconv.Atoi(propertyOf(m.Message, "seq"))
		out = append(out, delivered{seq: seq, storeTime: m.StoreTimestamp, msg: m})
		return true
	})
	return out
}

func propertyOf(m *message.Message, name string) string {
	v, _ := m.Property(name)
	return v
}

// waitDelivered waits until a queue holds n messages.
func waitDelivered(t testing.TB, s *Store, topic string, queue int32, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for s.MaxOffset(topic, queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d holds %d messages after %v, want %d (timer stats %+v)", topic, queue, s.MaxOffset(topic, queue), within, n, s.TimerStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTimerPutDeliversOnTimeNeverEarly(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, opts Options) {
		o := timerTestOptions()
		o.FlushMode = opts.FlushMode
		s := openStore(t, t.TempDir(), o)
		now := time.Now().UnixMilli()
		cases := []struct {
			prop, value string
			due         int64
		}{
			{message.PropertyTimerDelayMS, "400", now + 400},
			{message.PropertyTimerDelaySec, "1", now + 1000},
			{message.PropertyTimerDeliverMS, strconv.FormatInt(now+600, 10), now + 600},
			{message.PropertyStartDeliverTime, strconv.FormatInt(now+200, 10), now + 200},
			{message.PropertyDelayLevel, "1", now + 300},
			{message.PropertyDelayLevel, "9", now + 1000}, // capped at the last level
		}
		for i, c := range cases {
			m := newMessage("T", 2, i, "")
			m.SetProperty("seq", strconv.Itoa(i))
			m.SetProperty(c.prop, c.value)
			res := mustPut(t, s, m)
			if res.QueueID != 2 {
				t.Fatalf("%s: result queue %d, want the queue asked for (2)", c.prop, res.QueueID)
			}
		}
		syncStore(t, s)
		if got := s.MaxOffset("T", 2); got != 0 {
			t.Fatalf("timers readable at once: %d messages", got)
		}
		if got := s.MaxOffset(TimerTopic, 0); got != int64(len(cases)) {
			t.Fatalf("timer queue holds %d, want %d", got, len(cases))
		}
		waitDelivered(t, s, "T", 2, int64(len(cases)), 5*time.Second)
		var lastDue int64
		for _, d := range readQueue(t, s, "T", 2) {
			c := cases[d.seq]
			if d.storeTime < c.due {
				t.Errorf("%s=%s delivered at %d, %d ms early", c.prop, c.value, d.storeTime, c.due-d.storeTime)
			}
			if late := d.storeTime - c.due; late > 100+150 {
				t.Errorf("%s=%s delivered %d ms late (precision 100 ms)", c.prop, c.value, late)
			}
			if c.due < lastDue-100 {
				t.Errorf("delivered out of due order: %d after %d", c.due, lastDue)
			}
			lastDue = max(lastDue, c.due)
			for _, name := range append([]string{message.PropertyDelayLevel}, message.TimerRequestProperties...) {
				if _, ok := d.msg.Property(name); ok {
					t.Errorf("delivered copy keeps %s", name)
				}
			}
			// TIMER_OUT_MS stays: when it was due (the gRPC side's delivery_timestamp).
			if v, _ := d.msg.Property(message.PropertyTimerOutMS); v == "" {
				t.Errorf("delivered copy lost TIMER_OUT_MS")
			} else if out, _ := strconv.ParseInt(v, 10, 64); out < c.due-100 || out > c.due+100 {
				t.Errorf("TIMER_OUT_MS %d, due %d", out, c.due)
			}
			if d.msg.Topic != "T" || string(d.msg.Body) != "body-T-2-"+strconv.Itoa(d.seq) {
				t.Errorf("delivered copy %s %q", d.msg.Topic, d.msg.Body)
			}
		}
		st := s.TimerStats()
		if st.Fired != int64(len(cases)) || st.Pending != 0 || st.Enqueued != int64(len(cases)) {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestTimerRefusals(t *testing.T) {
	s := openStore(t, t.TempDir(), timerTestOptions())
	now := time.Now().UnixMilli()
	for _, c := range []struct {
		name   string
		modify func(m *message.Message)
	}{
		{"beyond max delay", func(m *message.Message) { m.SetProperty(message.PropertyTimerDelaySec, "7200") }},
		{"beyond max delay absolute", func(m *message.Message) {
			m.SetProperty(message.PropertyTimerDeliverMS, strconv.FormatInt(now+2*3600*1000, 10))
		}},
		{"not a number", func(m *message.Message) { m.SetProperty(message.PropertyTimerDelayMS, "soon") }},
		{"transactional", func(m *message.Message) {
			m.SetProperty(message.PropertyTransactionPrepared, "true")
			m.Topic = txn.HalfTopic
			m.SetProperty(message.PropertyTimerDelaySec, "10")
		}},
	} {
		m := newMessage("T", 0, 0, "")
		c.modify(m)
		res, err := s.Put(m)
		if !errors.Is(err, ErrMessageIllegal) || res.Status != PutMessageIllegal {
			t.Errorf("%s: got %v %v, want ErrMessageIllegal", c.name, res.Status, err)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	// Due already: an ordinary message, readable at once.
	m := newMessage("T", 0, 1, "")
	m.SetProperty(message.PropertyTimerDeliverMS, strconv.FormatInt(now-1000, 10))
	mustPut(t, s, m)
	syncStore(t, s)
	if s.MaxOffset("T", 0) != 1 {
		t.Fatal("a timer due in the past was not stored as an ordinary message")
	}

	o := timerTestOptions()
	o.Timer.Disabled = true
	s2 := openStore(t, t.TempDir(), o)
	m = newMessage("T", 0, 2, "")
	m.SetProperty(message.PropertyTimerDelaySec, "10")
	if _, err := s2.Put(m); !errors.Is(err, ErrMessageIllegal) {
		t.Errorf("disabled timers: %v", err)
	}
}

// A store written before timers kept delay-level messages in SCHEDULE_TOPIC_XXXX: they are
// delivered by the wheel, from where the broker's delayOffset.json left them.
func TestTimerDeliversLegacyScheduleQueues(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, timerTestOptions())
	for i := range 3 {
		m := newMessage(ScheduleTopic, 1, i, "")
		m.SetProperty("seq", strconv.Itoa(i))
		m.SetProperty(message.PropertyDelayLevel, "2")
		m.SetProperty(message.PropertyRealTopic, "Legacy")
		m.SetProperty(message.PropertyRealQueueID, "3")
		mustPut(t, s, m)
	}
	waitDelivered(t, s, "Legacy", 3, 3, 5*time.Second)
	for _, d := range readQueue(t, s, "Legacy", 3) {
		u, _ := s.QueueUnit(ScheduleTopic, 1, int64(d.seq))
		if d.storeTime < u.TagsCode {
			t.Errorf("legacy delayed message delivered %d ms early", u.TagsCode-d.storeTime)
		}
	}
	if got := s.DelayOffsets(); got[2] != 3 {
		t.Errorf("DelayOffsets %v, want level 2 at 3", got)
	}
}

// Reopening after a clean close rebuilds the wheel from the timer log; timers still pending are
// delivered, those delivered are not delivered again.
func TestTimerReopenKeepsPendingTimers(t *testing.T) {
	dir := t.TempDir()
	o := timerTestOptions()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		m := newMessage("R", 0, i, "")
		m.SetProperty("seq", strconv.Itoa(i))
		delay := 100
		if i >= 5 {
			delay = 1500
		}
		m.SetProperty(message.PropertyTimerDelayMS, strconv.Itoa(delay))
		mustPut(t, s, m)
	}
	waitDelivered(t, s, "R", 0, 5, 3*time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, o)
	if st := s.TimerStats(); st.Pending != 5 {
		t.Fatalf("after reopen %d timers pending, want 5", st.Pending)
	}
	waitDelivered(t, s, "R", 0, 10, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := s.MaxOffset("R", 0); got != 10 {
		t.Fatalf("%d messages delivered, want 10 (duplicates)", got)
	}
}

// A damaged timer log is rebuilt from the timer queue: pending timers are still delivered, fired
// ones are not delivered again.
func TestTimerCorruptLogIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	o := timerTestOptions()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		m := newMessage("C", 0, i, "")
		delay := 100
		if i >= 3 {
			delay = 1500
		}
		m.SetProperty(message.PropertyTimerDelayMS, strconv.Itoa(delay))
		mustPut(t, s, m)
	}
	waitDelivered(t, s, "C", 0, 3, 3*time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "timer", "log", fmt.Sprintf("%020d", 0))
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[5] ^= 0xFF // first entry's due time: its CRC fails
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, o)
	// The rebuild moves the timer queue into the wheel again (in the background).
	for deadline := time.Now().Add(time.Second); s.TimerStats().Pending != 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the rebuild: %+v, want 3 pending", s.TimerStats())
		}
	}
	waitDelivered(t, s, "C", 0, 6, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := s.MaxOffset("C", 0); got != 6 {
		t.Fatalf("%d delivered, want 6", got)
	}
}
