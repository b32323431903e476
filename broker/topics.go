package broker

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
)

// maxQueueNums caps a topic's queue count (RocketMQ has no hard cap; 1024 is far beyond use).
const maxQueueNums = 1024

// Topic name prefixes and reserved topics (MixAll, TopicValidator).
const (
	RetryTopicPrefix = "%RETRY%"
	DLQTopicPrefix   = "%DLQ%"
)

// notAllowedSendTopics are system topics producers may not send to (TopicValidator
// NOT_ALLOWED_SEND_TOPIC_SET).
var notAllowedSendTopics = map[string]bool{
	"SCHEDULE_TOPIC_XXXX":         true,
	"RMQ_SYS_TRANS_HALF_TOPIC":    true,
	"RMQ_SYS_TRANS_OP_HALF_TOPIC": true,
	"TRANS_CHECK_MAX_TIME_TOPIC":  true,
	store.TimerTopic:              true,
	replication.ConfigTopic:       true, // a replicated group's metadata entries (replicated_config.go)
}

// validateTopic checks a topic name for a create or send: RocketMQ's characters and length.
func validateTopic(topic string) error {
	if err := store.ValidateTopic(topic, store.DefaultMaxTopicLength); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidTopic, strings.TrimPrefix(err.Error(), store.ErrMessageIllegal.Error()+": "))
	}
	return nil
}

// topicsFileContent is topics.json (TopicConfigSerializeWrapper).
type topicsFileContent struct {
	TopicConfigTable map[string]namesrv.TopicConfig `json:"topicConfigTable"`
	DataVersion      namesrv.DataVersion            `json:"dataVersion"`
}

// topicTable holds the broker's topic configs (RocketMQ's TopicConfigManager).
type topicTable struct {
	file configFile
	now  func() time.Time

	// repl routes changes through a replicated group's log (nil in single-node mode;
	// replicated_config.go); commitMu serialises those proposals.
	repl     *configRepl
	commitMu sync.Mutex

	mu      sync.RWMutex // guards topics, version, dirty
	topics  map[string]namesrv.TopicConfig
	version namesrv.DataVersion
	dirty   dirtyRows // changed rows not yet in the replicated log
}

func newTopicTable(fsys vfs.FS, path string, now func() time.Time) *topicTable {
	return &topicTable{file: configFile{fs: fsys, path: path}, now: now, topics: make(map[string]namesrv.TopicConfig)}
}

// load reads topics.json.
func (t *topicTable) load() error {
	var f topicsFileContent
	if err := readJSONFile(t.file.path, &f); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, tc := range f.TopicConfigTable {
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		t.topics[name] = tc
	}
	t.version = f.DataVersion
	return nil
}

// get returns a topic's config.
func (t *topicTable) get(name string) (namesrv.TopicConfig, bool) {
	t.mu.RLock()
	tc, ok := t.topics[name]
	t.mu.RUnlock()
	return tc, ok
}

// getDurable returns a topic's config once it is durable: a topic that a concurrent request
// created in memory may still be on its way to disk, and an answer that depends on it must
// wait for that write.
func (t *topicTable) getDurable(name string) (namesrv.TopicConfig, bool, error) {
	tc, ok := t.get(name)
	if ok && !t.file.durable() {
		if err := t.commit(); err != nil {
			return tc, ok, err
		}
	}
	return tc, ok, nil
}

// put creates or replaces a topic config and reports whether anything changed.
func (t *topicTable) put(tc namesrv.TopicConfig) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.topics[tc.TopicName]; ok && old.Equal(tc) {
		return false
	}
	t.topics[tc.TopicName] = tc
	t.changedLocked(tc.TopicName)
	return true
}

// createIfAbsent stores tc unless the topic exists; it returns the topic's config and whether
// it was created.
func (t *topicTable) createIfAbsent(tc namesrv.TopicConfig) (namesrv.TopicConfig, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.topics[tc.TopicName]; ok {
		return old, false
	}
	t.topics[tc.TopicName] = tc
	t.changedLocked(tc.TopicName)
	return tc, true
}

// remove deletes a topic and reports whether it existed.
func (t *topicTable) remove(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.topics[name]; !ok {
		return false
	}
	delete(t.topics, name)
	t.changedLocked(name)
	return true
}

func (t *topicTable) changedLocked(name string) {
	t.version = namesrv.DataVersion{Timestamp: t.now().UnixMilli(), Counter: t.version.Counter + 1}
	t.file.changed()
	t.dirty.mark(t.repl, name)
}

// snapshot returns a copy of every topic config and the data version.
func (t *topicTable) snapshot() (map[string]namesrv.TopicConfig, namesrv.DataVersion) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.topics), t.version
}

// commit makes every change made so far durable in topics.json (see configFile.commit); in a
// replicated group, changes made on the ready leader are first committed through the log.
func (t *topicTable) commit() error {
	if err := t.replicate(); err != nil {
		return err
	}
	return t.file.commit(t.encode)
}

// persist writes topics.json if it changed since the last write (or always when force).
func (t *topicTable) persist(force bool) error { return t.file.persist(force, t.encode) }

func (t *topicTable) encode() ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return json.Marshal(topicsFileContent{TopicConfigTable: t.topics, DataVersion: t.version})
}
