package message

import (
	"bytes"
	"slices"
	"testing"
)

func TestMessageAccessors(t *testing.T) {
	m := New("TopicTest", []byte("body"))
	if m.Topic != "TopicTest" || string(m.Body) != "body" || m.Tags() != "" || m.Keys() != nil || m.UniqKey() != "" || m.TagsCode() != 0 {
		t.Fatalf("%+v", m)
	}
	m.SetTags("TagA")
	m.SetKeys("k1", "", "k2")
	m.SetProperty(PropertyUniqKey, "ID")
	if m.Tags() != "TagA" || m.TagsCode() != 2598919 || m.UniqKey() != "ID" {
		t.Fatalf("%q", m.Properties)
	}
	if v, _ := m.Property(PropertyKeys); v != "k1 k2" {
		t.Fatalf("KEYS = %q", v)
	}
	if !slices.Equal(m.Keys(), []string{"k1", "k2"}) {
		t.Fatal(m.Keys())
	}
	m.DeleteProperty(PropertyUniqKey)
	if _, ok := m.Property(PropertyUniqKey); ok {
		t.Fatal("not deleted")
	}
	m.SetTags("")
	m.SetKeys()
	if len(m.Properties) != 0 {
		t.Fatalf("%q", m.Properties)
	}
}

func TestMessageKeysSplitting(t *testing.T) {
	for _, c := range []struct {
		keys string
		want []string
	}{
		{"a", []string{"a"}},
		{"a b", []string{"a", "b"}},
		{"  a  b ", []string{"a", "b"}},
		{" ", nil},
		{"a\tb", []string{"a\tb"}},
	} {
		m := &Message{Properties: Properties("KEYS\x01" + c.keys + "\x02")}
		if got := m.Keys(); !slices.Equal(got, c.want) {
			t.Errorf("Keys(%q) = %q", c.keys, got)
		}
		var ranged []string
		m.RangeKeys(func(k []byte) bool { ranged = append(ranged, string(k)); return true })
		if !slices.Equal(ranged, c.want) {
			t.Errorf("RangeKeys(%q) = %q", c.keys, ranged)
		}
	}
	n := 0
	RangeKeys([]byte("a b c"), func([]byte) bool { n++; return false })
	if n != 1 {
		t.Fatal("RangeKeys did not stop")
	}
}

// Setters on a message decoded from a record never write into the record.
func TestMessageSettersCopyOnWrite(t *testing.T) {
	m := New("t", []byte("b"))
	m.SetTags("TagA")
	rec, _ := AppendRecord(nil, m)
	before := bytes.Clone(rec)
	var r Record
	if _, err := DecodeRecord(rec, &r, true); err != nil {
		t.Fatal(err)
	}
	aliased := &Message{Topic: string(r.Topic), Properties: r.Properties}
	aliased.SetTags("B")
	aliased.SetProperty("X", "Y")
	aliased.DeleteProperty(PropertyTags)
	if !bytes.Equal(rec, before) {
		t.Fatal("record modified")
	}
}

func TestMessageClone(t *testing.T) {
	m := New("t", []byte("body"))
	m.SetTags("x")
	c := m.Clone()
	c.Body[0] = 'X'
	c.Properties[0] = 'X'
	if string(m.Body) != "body" || m.Tags() != "x" {
		t.Fatal("clone shares memory")
	}
}

func TestSysFlag(t *testing.T) {
	f := SysFlagCompressed | SysFlagBornHostV6 | TransactionPreparedType
	if TransactionType(f) != TransactionPreparedType {
		t.Fatal("TransactionType")
	}
	f = SetTransactionType(f, TransactionCommitType)
	if TransactionType(f) != TransactionCommitType || f&^TransactionTypeMask != SysFlagCompressed|SysFlagBornHostV6 {
		t.Fatalf("%#x", f)
	}
	if TransactionType(SetTransactionType(0xFFF, TransactionNotType)) != 0 || SetTransactionType(0xFFF, 0)&0xFF3 != 0xFF3 {
		t.Fatal("reset")
	}
	if CompressionType(SysFlagCompressed) != CompressionZLIB || CompressionType(SysFlagCompressed|CompressionZSTD) != CompressionZSTD {
		t.Fatal("CompressionType")
	}
}

// The names and values are frozen: they are on disk and on the wire.
func TestConstantsFrozen(t *testing.T) {
	for got, want := range map[string]string{
		PropertyKeys: "KEYS", PropertyTags: "TAGS", PropertyWait: "WAIT", PropertyDelayLevel: "DELAY",
		PropertyRetryTopic: "RETRY_TOPIC", PropertyRealTopic: "REAL_TOPIC", PropertyRealQueueID: "REAL_QID",
		PropertyTransactionPrepared: "TRAN_MSG", PropertyProducerGroup: "PGROUP", PropertyMinOffset: "MIN_OFFSET",
		PropertyMaxOffset: "MAX_OFFSET", PropertyOriginMessageID: "ORIGIN_MESSAGE_ID", PropertyReconsumeTime: "RECONSUME_TIME",
		PropertyMaxReconsumeTimes: "MAX_RECONSUME_TIMES", PropertyUniqKey: "UNIQ_KEY", PropertyCluster: "CLUSTER",
		PropertyMsgRegion: "MSG_REGION", PropertyTraceSwitch: "TRACE_ON", PropertyCheckImmunityTime: "CHECK_IMMUNITY_TIME_IN_SECONDS",
		PropertyTranPreparedQueueOffset: "TRAN_PREPARED_QUEUE_OFFSET", PropertyTransactionCheckTimes: "TRANSACTION_CHECK_TIMES",
		PropertyTransactionID: "__transactionId__", PropertyInnerNum: "INNER_NUM", PropertyInnerBase: "INNER_BASE",
		PropertyDupInfo: "DUP_INFO", PropertyInnerMultiDispatch: "INNER_MULTI_DISPATCH", PropertyInnerMultiQueueOffset: "INNER_MULTI_QUEUE_OFFSET",
		PropertyTimerDeliverMS: "TIMER_DELIVER_MS", PropertyTimerDelaySec: "TIMER_DELAY_SEC", PropertyTimerDelayMS: "TIMER_DELAY_MS",
		PropertyTimerOutMS: "TIMER_OUT_MS", PropertyCRC32: "__CRC32#", PropertyStartDeliverTime: "__STARTDELIVERTIME",
		PropertyCorrelationID: "CORRELATION_ID", PropertyReplyToClient: "REPLY_TO_CLIENT", PropertyTTL: "TTL", PropertyMsgType: "MSG_TYPE",
	} {
		if got != want {
			t.Errorf("%q != %q", got, want)
		}
	}
	// Java's signed values of the magic codes.
	if m1, m2, mb := MagicV1, MagicV2, MagicBlank; int32(m1) != -626843481 || int32(m2) != -626843477 || int32(mb) != -875286124 {
		t.Error("magic codes")
	}
	if SysFlagCompressed != 1 || SysFlagMultiTags != 2 || TransactionPreparedType != 4 || TransactionCommitType != 8 ||
		TransactionRollbackType != 0xC || SysFlagBornHostV6 != 0x10 || SysFlagStoreHostV6 != 0x20 ||
		SysFlagNeedUnwrap != 0x40 || SysFlagInnerBatch != 0x80 || CompressionTypeMask != 0x700 {
		t.Error("sysflag bits")
	}
}
