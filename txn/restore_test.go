package txn_test

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// TestRestoredRecordBytes commits varied half messages through the real
// store and compares every restored record, byte for byte, with the record
// spec §6.4 describes, built independently of txn from the stored half
// record: its fields and properties as stored (REAL_TOPIC, REAL_QID,
// TRAN_MSG, PGROUP kept), topic and queue from REAL_TOPIC/REAL_QID,
// transaction type COMMIT, PreparedTransactionOffset = the half offset,
// TRANSACTION_CHECK_TIMES added when the message was checked, then encoded
// with message.AppendRecord and stamped with the restored record's offsets.
func TestRestoredRecordBytes(t *testing.T) {
	s := openStore(t, t.TempDir(), storeOptions())
	defer closeStore(t, s)
	svc := s.Transactions()

	v6 := netip.MustParseAddrPort("[2001:db8::7]:40123")
	msgs := []func() *message.Message{
		func() *message.Message { return message.New(realTopic, []byte("plain")) }, // no properties
		func() *message.Message { return txnMessage(7) },                           // tags, keys, UNIQ_KEY
		func() *message.Message {
			m := message.New("other_topic-2", bytes.Repeat([]byte{0, 1, 0xFF}, 700))
			m.QueueID = 3
			m.Flag = 0x7FFF
			m.ReconsumeTimes = 2
			m.BornTimestamp = 1700000000123
			m.BornHost = v6
			m.SysFlag = message.SysFlagCompressed | message.SysFlagMultiTags
			m.SetTags("a||b")
			m.SetKeys("k1", "k2", "k3")
			m.SetProperty(message.PropertyDelayLevel, "0") // no delay: allowed
			m.SetProperty(message.PropertyCheckImmunityTime, "60")
			m.SetProperty("ünï-cødé", "välüe with spaces")
			m.SetProperty("empty", "")
			return m
		},
		func() *message.Message {
			// Properties named like the ones Prepare sets: Prepare's win.
			m := message.New(realTopic, []byte("shadow"))
			m.QueueID = 1
			m.SetProperty(message.PropertyRealTopic, "Elsewhere")
			m.SetProperty(message.PropertyRealQueueID, "9")
			m.SetProperty(message.PropertyProducerGroup, "not-the-group")
			m.SetProperty(message.PropertyTransactionPrepared, "false")
			m.SetProperty(message.PropertyUniqKey, "UNIQ-SHADOW")
			m.SetProperty("z", "last")
			return m
		},
		func() *message.Message { return message.New(realTopic, nil) }, // empty body
	}
	type prepared struct {
		r       txn.PrepareResult
		checked bool
	}
	var all []prepared
	prepareAll := func(checked bool) []prepared {
		var out []prepared
		for _, mk := range msgs {
			r, err := svc.Prepare(mk(), group)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, prepared{r: r, checked: checked})
		}
		return out
	}
	commitAll := func(ps []prepared) {
		for _, p := range ps {
			if _, err := svc.Commit(p.r.HalfOffset, group, p.r.QueueOffset); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, ps...)
	}
	commitAll(prepareAll(false))
	// Checked once (answer unknown) before the commit: the restored record
	// then carries TRANSACTION_CHECK_TIMES.
	checked := prepareAll(true)
	if err := svc.Start(txn.CheckerFunc(func(context.Context, txn.HalfMessage) (txn.Resolution, error) {
		return txn.Unknown, nil
	})); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // past TransactionTimeout
	if _, err := svc.CheckNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	times := map[int64]int{}
	for _, o := range svc.Open() {
		times[o.HalfOffset] = o.CheckTimes
	}
	n := 0
	for i := range checked {
		// The message with CHECK_IMMUNITY_TIME_IN_SECONDS=60 is not due yet.
		checked[i].checked = times[checked[i].r.HalfOffset] == 1
		if checked[i].checked {
			n++
		}
	}
	if n != len(msgs)-1 {
		t.Fatalf("%d of %d messages checked, want all but the immune one", n, len(msgs))
	}
	commitAll(checked)
	// Compare every restored record (the real topics' queues) with its spec form.
	if err := s.WaitDispatched(context.Background(), s.MaxPhysicalOffset()); err != nil {
		t.Fatal(err)
	}
	restored := restoredRecords(t, s)
	if len(restored) != len(all) {
		t.Fatalf("%d restored records, want %d", len(restored), len(all))
	}
	for i, p := range all {
		got, ok := restored[p.r.HalfOffset]
		if !ok {
			t.Fatalf("message %d: no restored record for half offset %d", i, p.r.HalfOffset)
		}
		want := specRestored(t, s, p.r.HalfOffset, got, p.checked)
		if !bytes.Equal(got.raw, want) {
			t.Errorf("message %d (checked %v): restored record\n got %q\nwant %q", i, p.checked, got.raw, want)
		}
	}
}

// storedRecord is a record read back from the commitlog.
type storedRecord struct {
	raw                         []byte
	queueOffset, physicalOffset int64
	storeTimestamp              int64
}

// restoredRecords returns the records of every queue of the restored topics,
// by their PreparedTransactionOffset.
func restoredRecords(t *testing.T, s *store.Store) map[int64]storedRecord {
	t.Helper()
	out := map[int64]storedRecord{}
	for _, topic := range []string{realTopic, "other_topic-2"} {
		for q := int32(0); q < 4; q++ {
			s.ScanQueue(topic, q, 0, func(_ int64, u consumequeueUnit) bool {
				raw := readRaw(t, s, u.CommitLogOffset)
				var r message.Record
				if _, err := message.DecodeRecord(raw, &r, true); err != nil {
					t.Fatal(err)
				}
				out[r.PreparedTransactionOffset] = storedRecord{raw: raw, queueOffset: r.QueueOffset,
					physicalOffset: r.PhysicalOffset, storeTimestamp: r.StoreTimestamp}
				return true
			})
		}
	}
	return out
}

// readRaw copies the record at offset out of the commitlog.
func readRaw(t *testing.T, s *store.Store, offset int64) []byte {
	t.Helper()
	var r message.Record
	sl, err := s.CommitLog().Read(offset, &r)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Release()
	raw, err := s.CommitLog().Slice(offset, int(r.TotalSize))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Release()
	return bytes.Clone(raw.Bytes)
}

// specRestored builds the restored record of the half record at halfOffset
// as spec §6.4 describes it, stamped with got's offsets and store time.
func specRestored(t *testing.T, s *store.Store, halfOffset int64, got storedRecord, checked bool) []byte {
	t.Helper()
	var half message.Record
	if _, err := message.DecodeRecord(readRaw(t, s, halfOffset), &half, true); err != nil {
		t.Fatal(err)
	}
	m := half.Message()
	topic, _ := m.Properties.Get(message.PropertyRealTopic)
	qs, _ := m.Properties.Get(message.PropertyRealQueueID)
	qid, err := strconv.Atoi(qs)
	if err != nil {
		t.Fatal(err)
	}
	m.Topic, m.QueueID = topic, int32(qid)
	m.SysFlag = message.SetTransactionType(half.SysFlag, message.TransactionCommitType)
	m.PreparedTransactionOffset = halfOffset
	if checked {
		m.Properties = append(bytes.Clone(m.Properties), message.PropertyTransactionCheckTimes+string(message.NameValueSeparator)+"1"+string(message.PropertySeparator)...)
	}
	want, err := message.AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	message.PatchRecord(want, got.queueOffset, got.physicalOffset, got.storeTimestamp)
	return want
}
