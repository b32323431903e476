package store

import (
	"errors"
	"testing"
	"time"
)

// TestScheduleDeliverTime: units of ScheduleTopic carry storeTimestamp + the delay of level
// queueId+1 (1 s beyond the configured levels); other topics carry the tags hash; the deliver
// time is the same after a reopen re-dispatches the records.
func TestScheduleDeliverTime(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.DelayLevels = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second}
	s := openStore(t, dir, opts)
	tests := []struct {
		topic string
		queue int32
		delay time.Duration // 0: the tags hash
	}{
		{ScheduleTopic, 0, time.Second},
		{ScheduleTopic, 2, 10 * time.Second},
		{ScheduleTopic, 7, time.Second}, // beyond the levels
		{"Normal", 0, 0},
	}
	results := make([]PutResult, len(tests))
	for i, tt := range tests {
		results[i] = mustPut(t, s, newMessage(tt.topic, tt.queue, i, "TagA"))
	}
	check := func(s *Store) {
		t.Helper()
		syncStore(t, s)
		for i, tt := range tests {
			u, ok := s.QueueUnit(tt.topic, tt.queue, results[i].QueueOffset)
			if !ok {
				t.Fatalf("%s/%d: no unit", tt.topic, tt.queue)
			}
			want := newMessage(tt.topic, tt.queue, i, "TagA").TagsCode()
			if tt.delay > 0 {
				want = results[i].StoreTimestamp + tt.delay.Milliseconds()
			}
			if u.TagsCode != want {
				t.Errorf("%s/%d: tags code %d, want %d", tt.topic, tt.queue, u.TagsCode, want)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, opts)
	check(s)

	if d, ok := s.DelayOf(2); !ok || d != 5*time.Second || s.MaxDelayLevel() != 3 {
		t.Fatalf("DelayOf(2) = %v %v, MaxDelayLevel %d", d, ok, s.MaxDelayLevel())
	}
	if _, ok := s.DelayOf(0); ok {
		t.Fatal("DelayOf(0) ok")
	}
}

func TestDelayLevelsValidate(t *testing.T) {
	for _, tt := range []struct {
		levels []time.Duration
		ok     bool
	}{
		{nil, true},
		{[]time.Duration{time.Second}, true},
		{[]time.Duration{time.Second, 0}, false},
		{[]time.Duration{-time.Second}, false},
		{make([]time.Duration, maxDelayLevels+1), false},
	} {
		err := Options{DelayLevels: tt.levels}.Validate()
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("levels %v: %v", tt.levels, err)
		}
	}
	if got := (Options{}).withDefaults().DelayLevels; len(got) != 18 || got[17] != 2*time.Hour {
		t.Fatalf("default levels %v", got)
	}
}
