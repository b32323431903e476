package store

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
)

// TestTimerRollOutlivesRetention: a timer due after its record's segment expires
// (FileReservedTime 3 s, the timer 5 s ahead) is rolled every 1.5 s (the roll window is half the
// reserved time): its record is appended again before retention removes the one before, so it
// is delivered on time, with its own body and key, while the segment of its first record is gone.
// Without the roll it would be skipped when due.
func TestTimerRollOutlivesRetention(t *testing.T) {
	o := timerTestOptions()
	o.CommitLogSegmentSize = 64 << 10
	o.MaxMessageSize = 16 << 10
	o.FileReservedTime = 3 * time.Second
	o.CleanInterval = 50 * time.Millisecond
	s := openStore(t, t.TempDir(), o)

	// Filler traffic: a segment every ~0.2 s, so retention has expired segments to remove.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		filler := strings.Repeat("f", 4<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := s.Put(message.New("Fill", []byte(filler))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	m := newMessage("Late", 0, 1, "")
	m.SetProperty(message.PropertyTimerDelayMS, "5000")
	due := time.Now().UnixMilli() + 5000
	mustPut(t, s, m)
	uniq, _ := m.Property(message.PropertyUniqKey)
	syncStore(t, s)
	first := int64(-1)
	s.ScanQueue(TimerTopic, 0, 0, func(_ int64, u consumequeue.Unit) bool { first = u.CommitLogOffset; return false })
	if first < 0 {
		t.Fatal("no timer record")
	}
	waitDelivered(t, s, "Late", 0, 1, 10*time.Second)
	got := readQueue(t, s, "Late", 0)
	if len(got) != 1 {
		t.Fatalf("%d copies delivered", len(got))
	}
	d := got[0]
	out, _ := strconv.ParseInt(propertyOf(d.msg.Message, message.PropertyTimerOutMS), 10, 64)
	if out < due || d.storeTime < out {
		t.Errorf("delivered at %d, due %d (TIMER_OUT_MS %d)", d.storeTime, due, out)
	}
	if string(d.msg.Body) != "body-Late-0-1" || propertyOf(d.msg.Message, message.PropertyUniqKey) != uniq {
		t.Errorf("delivered %q with key %q, want the message put (key %q)", d.msg.Body, propertyOf(d.msg.Message, message.PropertyUniqKey), uniq)
	}
	st := s.TimerStats()
	if st.Rolled < 2 || st.Skipped != 0 || st.Fired != 1 {
		t.Errorf("timer stats %+v: want at least 2 rolls, no skip, one delivery", st)
	}
	if min := s.MinPhysicalOffset(); min <= first {
		t.Errorf("retention kept the timer's first record at %d (commitlog minimum %d): the roll was not needed", first, min)
	}
	t.Logf("delivered %d ms after due, %d rolls, first record at %d below the commitlog minimum %d",
		d.storeTime-due, st.Rolled, first, s.MinPhysicalOffset())
}
