package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
)

// creationFS records the paths of the file creations (OpenFile with O_CREATE, MkdirAll, Rename)
// made through it.
type creationFS struct {
	vfs.FS
	mu    sync.Mutex
	paths []string
}

func (c *creationFS) record(path string) {
	c.mu.Lock()
	c.paths = append(c.paths, path)
	c.mu.Unlock()
}

func (c *creationFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if flag&os.O_CREATE != 0 {
		c.record(name)
	}
	return c.FS.OpenFile(name, flag, perm)
}

func (c *creationFS) MkdirAll(dir string, perm os.FileMode) error {
	c.record(dir)
	return c.FS.MkdirAll(dir, perm)
}

func (c *creationFS) Rename(oldname, newname string) error {
	c.record(newname)
	return c.FS.Rename(oldname, newname)
}

// mark returns the number of creations so far, for since.
func (c *creationFS) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.paths)
}

// since returns the paths created after mark that start with one of prefixes.
func (c *creationFS) since(mark int, prefixes ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.paths[mark:] {
		for _, prefix := range prefixes {
			if strings.HasPrefix(p, prefix) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// putKeyed puts n messages with keys round-robin over queues of topic.
func putKeyed(t *testing.T, s *Store, topic string, queues int32, n int) {
	t.Helper()
	for i := range n {
		m := message.New(topic, []byte(fmt.Sprintf("%s-%d", topic, i)))
		m.QueueID = int32(i) % queues
		m.SetProperty(message.PropertyKeys, fmt.Sprintf("k%d", i))
		if _, err := s.Put(m); err != nil {
			t.Fatal(err)
		}
	}
	syncStore(t, s)
}

// The first messages of a fresh store and of a prepared topic create no file: the commitlog's
// first segment and the first index file exist once Open returns, a topic's queue files once
// PrepareTopic returns. A topic that was not prepared still gets its files from its first
// messages (which is also what shows that the counting sees creations).
func TestFirstPutsCreateNoFile(t *testing.T) {
	fs := &creationFS{FS: vfs.OS}
	dir := t.TempDir()
	opts := testOptions()
	opts.FS = fs
	s := openStore(t, dir, opts)

	if _, err := os.Stat(filepath.Join(dir, "commitlog", mapped.FileName(0))); err != nil {
		t.Fatalf("first segment after Open: %v", err)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "index")); err != nil || len(entries) != 1 {
		t.Fatalf("index files after Open: %v %v", entries, err)
	}
	if err := s.PrepareTopic("Ready", 4); err != nil {
		t.Fatal(err)
	}
	for q := range 4 {
		path := filepath.Join(dir, "consumequeue", "Ready", strconv.Itoa(q), mapped.FileName(0))
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("queue file after PrepareTopic: %v", err)
		}
	}
	// Preparing again changes nothing.
	mark := fs.mark()
	if err := s.PrepareTopic("Ready", 4); err != nil {
		t.Fatal(err)
	}
	if got := fs.since(mark, dir); len(got) != 0 {
		t.Fatalf("a second PrepareTopic created %q", got)
	}

	mark = fs.mark()
	putKeyed(t, s, "Ready", 4, 16)
	// The commitlog's second segment may be preallocated meanwhile: that is the background's.
	if got := fs.since(mark, filepath.Join(dir, "consumequeue"), filepath.Join(dir, "index"),
		filepath.Join(dir, "commitlog", mapped.FileName(0))); len(got) != 0 {
		t.Fatalf("the first puts of a prepared topic created %q", got)
	}
	for q := range int32(4) {
		if got := s.MaxOffset("Ready", q); got != 4 {
			t.Fatalf("queue %d max offset %d, want 4", q, got)
		}
	}

	mark = fs.mark()
	putKeyed(t, s, "Lazy", 2, 2)
	if got := fs.since(mark, filepath.Join(dir, "consumequeue", "Lazy")); len(got) == 0 {
		t.Fatal("the first puts of a topic that was not prepared created no file")
	}
}

// PrepareTopic refuses what a put would refuse and does nothing on a read-only store.
func TestPrepareTopicArguments(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	for _, topic := range []string{"", "a/b", "bad topic"} {
		if err := s.PrepareTopic(topic, 1); err == nil {
			t.Errorf("PrepareTopic(%q) succeeded", topic)
		}
	}
	if err := s.PrepareTopic("T", -1); err == nil {
		t.Error("PrepareTopic with -1 queues succeeded")
	}
	if err := s.PrepareTopic("None", 0); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	opts := testOptions()
	opts.ReadOnly = true
	ro := openStore(t, dir, opts)
	if err := ro.PrepareTopic("T", 2); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"consumequeue/T", "commitlog/" + mapped.FileName(0)} {
		if _, err := os.Stat(filepath.Join(dir, sub)); !os.IsNotExist(err) {
			t.Errorf("read-only store: %s exists (%v)", sub, err)
		}
	}
}

// A prepared topic whose files are empty recovers with empty queues, after a clean close and
// after a crash, and its first messages then land at queue offset 0.
func TestPreparedTopicReopens(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.PrepareTopic("Empty", 3); err != nil {
				t.Fatal(err)
			}
			if crash {
				crashClose(s)
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, dir, testOptions())
			if got := s.Recovery().Crashed; got != crash {
				t.Fatalf("Crashed = %v, want %v", got, crash)
			}
			// Queues that never had a message are not topics the store knows of (the broker made
			// the topic durable before preparing it).
			if topics := s.Topics(); len(topics) != 0 {
				t.Fatalf("topics after reopen: %+v", topics)
			}
			for q := range int32(3) {
				if min, max := s.MinOffset("Empty", q), s.MaxOffset("Empty", q); min != 0 || max != 0 {
					t.Fatalf("queue %d: offsets [%d, %d), want [0, 0)", q, min, max)
				}
			}
			putKeyed(t, s, "Empty", 3, 6)
			if topics := s.Topics(); len(topics) != 1 || topics[0] != (TopicQueues{Topic: "Empty", Queues: 3}) {
				t.Fatalf("topics after the first messages: %+v", topics)
			}
			for q := range int32(3) {
				if got := s.MaxOffset("Empty", q); got != 2 {
					t.Fatalf("queue %d max offset %d, want 2", q, got)
				}
				u, ok := s.QueueUnit("Empty", q, 0)
				if !ok {
					t.Fatalf("queue %d: no unit at 0", q)
				}
				m, err := s.ReadAt(u.CommitLogOffset)
				if err != nil || string(m.Body) != fmt.Sprintf("Empty-%d", q) {
					t.Fatalf("queue %d offset 0: %v %q", q, err, m.Body)
				}
			}
		})
	}
}

// TestPowerLossPreparedTopic loses power after each step of preparing a topic's queue files
// (directories, temporary files, fallocate, fsync, rename, directory fsync), before and after
// the topic's first messages and a checkpoint: every acknowledged message survives and the
// store opens.
func TestPowerLossPreparedTopic(t *testing.T) {
	work := func(s *Store, l *ledger) {
		if l.putMany(s, "Old", 8) != nil || s.Sync(t.Context()) != nil || s.writeCheckpoint() != nil {
			return
		}
		if s.PrepareTopic("Prep", 4) != nil {
			return
		}
		if l.putMany(s, "Prep", 8) != nil || s.Sync(t.Context()) != nil {
			return
		}
		s.writeCheckpoint()
	}
	crashEverywhere(t, "consumequeue/Prep", append(fileOps, vfs.OpMsync), 4, work, "Old", "Prep")
}
