package message

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// These tests check the formats against rocketmq-client-go's own encoder
// and decoder: the bytes we store are what the client decodes from a
// PULL_MESSAGE body, and the batch bodies it sends are what we decode.

func TestClientDecodesRecords(t *testing.T) {
	var body []byte
	var msgs []Message
	for i, c := range goldenCases() {
		if c.msg.BornHost.Addr().Is6() || c.msg.StoreHost.Addr().Is6() {
			continue // the client formats IPv6 hosts differently; covered by golden vectors
		}
		start := len(body)
		var err error
		body, err = AppendRecord(body, &c.msg)
		if err != nil {
			t.Fatal(err)
		}
		PatchRecord(body[start:], int64(100+i), int64(start), 1700000000000+int64(i))
		msgs = append(msgs, c.msg)
	}
	got := primitive.DecodeMessage(body)
	if len(got) != len(msgs) {
		t.Fatalf("client decoded %d messages, want %d", len(got), len(msgs))
	}
	pos := int64(0)
	for i, ext := range got {
		m := msgs[i]
		size := RecordSize(&m)
		if ext.Topic != m.Topic || ext.Flag != m.Flag || ext.StoreSize != int32(size) ||
			ext.CommitLogOffset != pos || ext.BornHost != m.BornHost.String() || ext.StoreHost != m.StoreHost.String() ||
			ext.ReconsumeTimes != m.ReconsumeTimes || ext.PreparedTransactionOffset != m.PreparedTransactionOffset ||
			ext.BornTimestamp != m.BornTimestamp || ext.BodyCRC != int32(CRC32(m.Body)) ||
			ext.OffsetMsgId != OffsetMsgID(m.StoreHost, pos) {
			t.Fatalf("message %d: client decoded %+v\nfrom %+v", i, ext, m)
		}
		if m.SysFlag&SysFlagCompressed == 0 && !bytes.Equal(ext.Body, m.Body) {
			t.Fatalf("body %q", ext.Body)
		}
		for k, v := range m.Properties.Map() {
			if ext.GetProperty(k) != v {
				t.Fatalf("property %s = %q, want %q", k, ext.GetProperty(k), v)
			}
		}
		if uk := m.UniqKey(); uk != "" && ext.MsgId != uk {
			t.Fatalf("MsgId %s", ext.MsgId)
		}
		pos += int64(size)
	}
}

func TestClientBatchBody(t *testing.T) {
	var body []byte
	var want []*primitive.Message
	for i, b := range []string{"first", "", "third message body"} {
		m := primitive.NewMessage("TopicTest", []byte(b))
		m.Flag = int32(i)
		m.WithTag("TagA")
		m.WithKeys([]string{"k1", "k2"})
		body = append(body, m.Marshal()...)
		want = append(want, m)
	}
	i, off := 0, 0
	err := DecodeBatch(body, func(flag int32, b []byte, props Properties) error {
		w := want[i]
		if flag != w.Flag || !bytes.Equal(b, w.Body) || props.Map()["TAGS"] != "TagA" || props.Map()["KEYS"] != "k1 k2" {
			t.Fatalf("entry %d: %d %q %q", i, flag, b, props)
		}
		// Our encoder writes the same bytes as the client did.
		mine, err := AppendBatchEntry(nil, flag, b, props)
		if err != nil || !bytes.Equal(mine, body[off:off+len(mine)]) {
			t.Fatalf("AppendBatchEntry differs from the client's encoding")
		}
		i, off = i+1, off+len(mine)
		return nil
	})
	if err != nil || i != len(want) {
		t.Fatalf("%v after %d entries", err, i)
	}
}

func TestClientMsgIDs(t *testing.T) {
	host := netip.MustParseAddrPort("192.168.7.9:10911")
	ip := host.Addr().As4()
	want := primitive.CreateMessageId(ip[:], int32(host.Port()), 987654321)
	if got := OffsetMsgID(host, 987654321); got != want {
		t.Fatalf("OffsetMsgID %s, client %s", got, want)
	}
	id, err := primitive.UnmarshalMsgID([]byte(OffsetMsgID(host, 987654321)))
	if err != nil || id.Addr != "192.168.7.9" || id.Port != 10911 || id.Offset != 987654321 {
		t.Fatalf("client parsed %+v %v", id, err)
	}
	// A client-made UNIQ_KEY parses.
	uk := primitive.CreateUniqID()
	if _, _, err := ParseUniqID(uk); err != nil {
		t.Fatalf("ParseUniqID(%s): %v", uk, err)
	}
}
