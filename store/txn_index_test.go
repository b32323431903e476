package store

import (
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// TestHalfMessagesAreNotIndexed: a half message gets no index entries (no transaction path
// looks one up by key); the committed message is indexed under its real topic, by KEYS and
// UNIQ_KEY, as a plain message is.
func TestHalfMessagesAreNotIndexed(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	tx := s.Transactions()
	m := message.New("TxTopic", []byte("body"))
	m.SetKeys("order-7")
	m.SetProperty(message.PropertyUniqKey, "UNIQ-TX-1")
	r, err := tx.Prepare(m, "G")
	if err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	for _, key := range []string{"order-7", "UNIQ-TX-1"} {
		if found, err := s.QueryByKey(txn.HalfTopic, key, 10, 0, 0); err != nil || len(found) != 0 {
			t.Fatalf("half topic by %s: %v, %d found, want none", key, err, len(found))
		}
	}
	if _, err := tx.Commit(r.HalfOffset, "G", r.QueueOffset); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	for _, key := range []string{"order-7", "UNIQ-TX-1"} {
		found, err := s.QueryByKey("TxTopic", key, 10, 0, 0)
		if err != nil || len(found) != 1 || string(found[0].Body) != "body" || found[0].Topic != "TxTopic" {
			t.Fatalf("committed message by %s: %v, %d found", key, err, len(found))
		}
	}
	if found, _ := s.QueryByKey(txn.HalfTopic, "order-7", 10, 0, 0); len(found) != 0 {
		t.Fatalf("half topic after the commit: %d found", len(found))
	}
}
