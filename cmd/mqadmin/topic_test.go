package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateTopic -a sets RocketMQ 5's message.type attribute: the broker keeps it in topics.json
// as RocketMQ's TopicConfig.attributes, an update without -a keeps it, and bad attributes are
// usage errors.
func TestUpdateTopicAttributes(t *testing.T) {
	s := startServer(t, nil)
	addr := s.b.Addr()
	out := s.ok(t, "updateTopic", "-t", "Typed", "-r", "2", "-w", "2", "-b", addr, "-a", "+message.type=FIFO")
	if !hasRow(out, addr, "Typed", "2", "2", "RW-", "false", "+message.type=FIFO") {
		t.Errorf("updateTopic -a:\n%s", out)
	}
	attrs := func() map[string]string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(s.b.Config().StorePathRootDir, "config", "topics.json"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			TopicConfigTable map[string]struct {
				Attributes map[string]string `json:"attributes"`
			} `json:"topicConfigTable"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		return f.TopicConfigTable["Typed"].Attributes
	}
	if a := attrs(); len(a) != 1 || a["message.type"] != "FIFO" {
		t.Fatalf("topics.json attributes %v", a)
	}
	if tc, ok, err := s.b.TopicConfig("Typed"); err != nil || !ok || tc.MessageType() != "FIFO" {
		t.Fatalf("broker topic %+v %v %v", tc, ok, err)
	}
	s.ok(t, "updateTopic", "-t", "Typed", "-r", "4", "-w", "4", "-b", addr)
	if a := attrs(); a["message.type"] != "FIFO" {
		t.Fatalf("attributes after an update without -a: %v", a)
	}
	s.ok(t, "updateTopic", "-t", "Typed", "-r", "4", "-w", "4", "-b", addr, "-a", "+message.type=MIXED")
	if a := attrs(); a["message.type"] != "MIXED" {
		t.Fatalf("attributes after -a +message.type=MIXED: %v", a)
	}
	for _, bad := range []string{"+message.type=BOGUS", "+queue.size=3", "message.type=FIFO", "-message.type"} {
		r := s.mqadmin(t, "updateTopic", "-t", "Typed", "-b", addr, "-a", bad)
		if r.code != exitUsage || !strings.Contains(r.stderr, "-a") {
			t.Errorf("-a %s: exit %d, %q", bad, r.code, r.stderr)
		}
	}
}
