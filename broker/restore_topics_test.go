package broker

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// TestTopicsRestoredFromTheStore: a topic whose entry is missing from topics.json (as after a
// crash that lost the file's last write) comes back from its queues in the store, with a
// WARN naming it, and a config that lost read queues gets them back.
func TestTopicsRestoredFromTheStore(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, func(c *Config) { c.StorePathRootDir = dir })
	for _, topic := range []string{"Lost", "Shrunk"} {
		if resp := tb.send(topic, 2, "m", nil); resp.ResponseCode() != remoting.ResponseSuccess {
			t.Fatalf("send %s: %v", topic, resp)
		}
	}
	tb.sync()
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}

	// Drop Lost from topics.json and cut Shrunk to one queue.
	tt := newTopicTable(nil, filepath.Join(dir, "config", topicsFile), nil)
	if err := tt.load(); err != nil {
		t.Fatal(err)
	}
	delete(tt.topics, "Lost")
	tt.topics["Shrunk"] = namesrv.TopicConfig{TopicName: "Shrunk", ReadQueueNums: 1, WriteQueueNums: 1, Perm: namesrv.PermRW}
	tt.file.changed()
	if err := tt.commit(); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	tb2 := startBroker(t, func(c *Config) { c.StorePathRootDir = dir }, func(o *Options) { o.Logger = logger })
	lost, ok := tb2.topics.get("Lost")
	if !ok || lost.ReadQueueNums != 3 || lost.WriteQueueNums != 3 || lost.Perm != namesrv.PermRW {
		t.Fatalf("Lost after restart: %+v %v", lost, ok)
	}
	if shrunk, _ := tb2.topics.get("Shrunk"); shrunk.ReadQueueNums != 3 || shrunk.WriteQueueNums != 1 {
		t.Fatalf("Shrunk after restart: %+v", shrunk)
	}
	if !strings.Contains(logs.String(), "topic=Lost") || !strings.Contains(logs.String(), "topic=Shrunk") {
		t.Fatalf("no WARN naming the restored topics:\n%s", logs.String())
	}
	for _, sys := range []string{"RMQ_SYS_TRANS_HALF_TOPIC", "SCHEDULE_TOPIC_XXXX"} {
		if _, ok := tb2.topics.get(sys); ok {
			t.Fatalf("store topic %s became a broker topic", sys)
		}
	}
	// The restoration is on disk before the broker serves.
	data, err := os.ReadFile(filepath.Join(dir, "config", topicsFile))
	if err != nil || !bytes.Contains(data, []byte(`"Lost"`)) {
		t.Fatalf("topics.json after restore: %s %v", data, err)
	}
	// The message is readable through the restored topic.
	resp := tb2.call(remoting.RequestPullMessage, nil, pullArgs("Lost", 2, 0, 32, 0, 0, "*")...)
	if resp.ResponseCode() != remoting.ResponseSuccess || len(records(t, resp.Body)) != 1 {
		t.Fatalf("pull of the restored topic: %v", resp)
	}
}
