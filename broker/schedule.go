package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// Delay levels (RocketMQ's ScheduleMessageService, spec §7.10). A message with DELAY=n > 0 (a
// send, or a retry copy made by CONSUMER_SEND_MSG_BACK) is stored in store.ScheduleTopic, queue
// n-1 (n capped at the last level), with its destination in REAL_TOPIC/REAL_QID; the store
// writes the time it is due (store time + the level's delay, messageDelayLevel) in the queue
// unit's tags field. One goroutine per level delivers the due messages in queue order: it
// copies each back to its real topic and queue with DELAY removed (body, flag, properties,
// sysFlag, born time and host, reconsume times kept; the tags code is recomputed by the
// store's dispatch), then advances the level's offset. It sleeps until the head of its queue is
// due, and is woken by the dispatcher when a message arrives in an empty queue.
//
// Progress is <storePathRootDir>/config/delayOffset.json, RocketMQ's DelayOffsetSerializeWrapper:
//
//	{"offsetTable":{"1":12,"3":4}}   delay level → next schedule-queue offset to deliver
//
// (RocketMQ writes the keys unquoted; both are read.) It is written with the other config files
// (every flushConsumerOffsetInterval, and at Close), and only up to messages whose delivered
// copies the commitlog has flushed: after a crash, a message is delivered again at worst, never
// lost, and never early (its due time is in its unit, on disk).

// delayOffsetFile is the delay-level progress file under the config directory.
const delayOffsetFile = "delayOffset.json"

const (
	// scheduleIdlePoll bounds a level's sleep when its queue is empty (arrivals wake it).
	scheduleIdlePoll = time.Second
	// scheduleRetry is the pause after a failed delivery (the store refused the put).
	scheduleRetry = time.Second
	// scheduleBatch caps the due messages taken from a queue per pass.
	scheduleBatch = 256
)

// delayFileContent is delayOffset.json.
type delayFileContent struct {
	OffsetTable map[string]int64 `json:"offsetTable"`
}

// levelProgress is a delay level's delivery position.
type levelProgress struct {
	next int64 // next schedule-queue offset to deliver
	end  int64 // commitlog end of the last delivered copy
}

// scheduler delivers delayed messages; its goroutines run on the broker's wait group and quit
// channel.
type scheduler struct {
	b      *Broker
	path   string
	levels []time.Duration
	wake   []chan struct{} // per level, buffered 1

	mu       sync.Mutex // guards progress, durable, dirty
	progress map[int]levelProgress
	// durable is what delayOffset.json holds (or will): offsets whose copies are flushed.
	durable map[int]int64
	dirty   bool
}

func newScheduler(b *Broker, path string, levels []time.Duration) *scheduler {
	sc := &scheduler{
		b:        b,
		path:     path,
		levels:   levels,
		wake:     make([]chan struct{}, len(levels)),
		progress: make(map[int]levelProgress),
		durable:  make(map[int]int64),
	}
	for i := range sc.wake {
		sc.wake[i] = make(chan struct{}, 1)
	}
	return sc
}

// load reads delayOffset.json.
func (sc *scheduler) load() error {
	var f delayFileContent
	if err := readJSONFile(sc.path, &f); err != nil {
		return err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for k, off := range f.OffsetTable {
		level, err := strconv.Atoi(k)
		if err != nil || off < 0 {
			return fmt.Errorf("%w: %s: level %q offset %d", ErrConfigFile, sc.path, k, off)
		}
		sc.progress[level] = levelProgress{next: off}
		sc.durable[level] = off
	}
	return nil
}

// arrived wakes the level of a schedule queue that got a message (store.Options.OnArrival; it
// must not block).
func (sc *scheduler) arrived(queueID int32) {
	if queueID < 0 || int(queueID) >= len(sc.wake) {
		return
	}
	select {
	case sc.wake[queueID] <- struct{}{}:
	default:
	}
}

// start runs one delivery goroutine per level on the broker's wait group.
func (sc *scheduler) start() {
	sc.b.wg.Add(len(sc.levels))
	for level := 1; level <= len(sc.levels); level++ {
		go sc.run(level)
	}
}

func (sc *scheduler) run(level int) {
	defer sc.b.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-sc.b.quit:
			return
		case <-sc.wake[level-1]:
		case <-t.C:
		}
		t.Reset(sc.deliverDue(level))
	}
}

// dueUnit is a schedule-queue unit ready for delivery.
type dueUnit struct {
	queueOffset     int64
	commitLogOffset int64
	blank           bool
}

// deliverDue delivers the due messages at the head of a level's queue and returns how long to
// wait before the next pass.
func (sc *scheduler) deliverDue(level int) time.Duration {
	delay := sc.levels[level-1]
	for {
		sc.mu.Lock()
		from := sc.progress[level].next
		sc.mu.Unlock()
		now := sc.b.now().UnixMilli()
		wait := scheduleIdlePoll
		due := make([]dueUnit, 0, 16)
		sc.b.store.ScanQueue(store.ScheduleTopic, int32(level-1), from, func(qo int64, u consumequeue.Unit) bool {
			if u.IsBlank() {
				due = append(due, dueUnit{queueOffset: qo, blank: true})
				return len(due) < scheduleBatch
			}
			at := u.TagsCode
			if at > now+delay.Milliseconds() {
				at = now // the clock went back: deliver rather than wait longer than the delay
			}
			if at > now {
				wait = time.Duration(at-now) * time.Millisecond
				return false
			}
			due = append(due, dueUnit{queueOffset: qo, commitLogOffset: u.CommitLogOffset})
			return len(due) < scheduleBatch
		})
		if len(due) == 0 {
			return wait
		}
		for _, d := range due {
			select {
			case <-sc.b.quit:
				return 0
			default:
			}
			end := int64(-1)
			if !d.blank {
				var err error
				if end, err = sc.deliver(level, d.commitLogOffset); err != nil {
					sc.b.log.Warn("broker: delayed message delivery failed; retrying", "level", level,
						"queueOffset", d.queueOffset, "err", err)
					return scheduleRetry
				}
			}
			sc.mu.Lock()
			p := sc.progress[level]
			p.next = d.queueOffset + 1
			p.end = max(p.end, end)
			sc.progress[level] = p
			sc.dirty = true
			sc.mu.Unlock()
		}
		if len(due) < scheduleBatch {
			return min(wait, scheduleIdlePoll)
		}
	}
}

// deliver copies the delayed message at a commitlog offset to its real topic and returns the
// commitlog end of the copy (-1 when the message was skipped: gone, or not restorable).
func (sc *scheduler) deliver(level int, offset int64) (int64, error) {
	b := sc.b
	sm, err := b.store.ReadAt(offset)
	if errors.Is(err, store.ErrNotFound) {
		b.log.Warn("broker: delayed message gone (retention); skipped", "level", level, "offset", offset)
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	m := sm.Message
	topic, _ := m.Properties.Get(message.PropertyRealTopic)
	qid, qerr := strconv.ParseInt(propertyString(m, message.PropertyRealQueueID), 10, 32)
	if topic == "" || qerr != nil || qid < 0 {
		b.log.Warn("broker: delayed message without REAL_TOPIC/REAL_QID; skipped", "level", level, "offset", offset)
		return -1, nil
	}
	m.Topic = topic
	m.QueueID = int32(qid)
	m.DeleteProperty(message.PropertyDelayLevel)
	m.StoreHost = b.storeHost()
	res, err := b.store.Put(m)
	switch {
	case err == nil, errors.Is(err, store.ErrFlushTimeout):
		return res.PhysicalOffset + int64(res.Size), nil
	case errors.Is(err, store.ErrMessageIllegal):
		b.log.Warn("broker: delayed message refused by the store; skipped", "level", level, "offset", offset, "err", err)
		return -1, nil
	}
	return 0, err
}

func propertyString(m *message.Message, name string) string {
	v, _ := m.Properties.Get(name)
	return v
}

// offsets returns the delivery position of each level that has one.
func (sc *scheduler) offsets() map[int]int64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make(map[int]int64, len(sc.progress))
	for level, p := range sc.progress {
		out[level] = p.next
	}
	return out
}

// encode is delayOffset.json's content for the given offsets.
func encodeDelayOffsets(offsets map[int]int64) ([]byte, error) {
	f := delayFileContent{OffsetTable: make(map[string]int64, len(offsets))}
	for level, off := range offsets {
		f.OffsetTable[strconv.Itoa(level)] = off
	}
	return json.Marshal(f)
}

// persist writes delayOffset.json with the offsets whose delivered copies are flushed.
func (sc *scheduler) persist(force bool) error {
	flushed := sc.b.store.CommitLog().FlushedOffset()
	sc.mu.Lock()
	changed := false
	for level, p := range sc.progress {
		if p.end <= flushed && sc.durable[level] != p.next {
			sc.durable[level] = p.next
			changed = true
		}
	}
	if !changed && !force {
		sc.mu.Unlock()
		return nil
	}
	offsets := maps.Clone(sc.durable)
	sc.mu.Unlock()
	data, err := encodeDelayOffsets(offsets)
	if err != nil {
		return err
	}
	if err := writeConfigFile(sc.b.fs, sc.path, data); err != nil {
		return fmt.Errorf("broker: write %s: %w", sc.path, err)
	}
	return nil
}

// applyDelay rewrites a message with DELAY > 0 (transaction type NOT or COMMIT) to the schedule
// topic, queue level-1, keeping its destination in REAL_TOPIC/REAL_QID, as RocketMQ's
// CommitLog.putMessage does. It reports whether it did.
func (b *Broker) applyDelay(m *message.Message) bool {
	if t := message.TransactionType(m.SysFlag); t != message.TransactionNotType && t != message.TransactionCommitType {
		return false
	}
	v, ok := m.Properties.Get(message.PropertyDelayLevel)
	if !ok {
		return false
	}
	level, err := strconv.Atoi(v)
	if err != nil || level <= 0 {
		return false
	}
	if maxLevel := len(b.scheduler.levels); level > maxLevel {
		level = maxLevel
		m.SetProperty(message.PropertyDelayLevel, strconv.Itoa(level))
	}
	m.SetProperty(message.PropertyRealTopic, m.Topic)
	m.SetProperty(message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Topic = store.ScheduleTopic
	m.QueueID = int32(level - 1)
	return true
}
