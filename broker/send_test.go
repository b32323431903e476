package broker

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

func TestSendMessage(t *testing.T) {
	tb := startBroker(t, nil)
	p := props("TAGS", "TagA", "KEYS", "k1 k2", "UNIQ_KEY", "C0A8000100002A9F0000000000000001", "custom", "v")

	resp := tb.send("SendTopic", 2, "hello", p)
	expect(t, resp, remoting.ResponseSuccess)
	msgID := resp.Ext(protocol.FieldMsgID)
	host, phys, err := message.ParseOffsetMsgID(msgID)
	if err != nil || len(msgID) != 32 {
		t.Fatalf("msgId %q: %v", msgID, err)
	}
	if host.String() != tb.Addr() {
		t.Fatalf("msgId host %v, want %s", host, tb.Addr())
	}
	if resp.Ext(protocol.FieldQueueID) != "2" || resp.Ext(protocol.FieldQueueOffset) != "0" {
		t.Fatalf("queueId %q queueOffset %q", resp.Ext(protocol.FieldQueueID), resp.Ext(protocol.FieldQueueOffset))
	}
	if resp.Ext(protocol.FieldMsgRegion) != "DefaultRegion" || resp.Ext(protocol.FieldTraceOn) != "true" {
		t.Fatalf("MSG_REGION %q TRACE_ON %q", resp.Ext(protocol.FieldMsgRegion), resp.Ext(protocol.FieldTraceOn))
	}
	// Auto-created from TBW102 with min(4 asked, 8) queues, perm RW without inherit.
	tc, ok := tb.topics.get("SendTopic")
	if !ok || tc.WriteQueueNums != 4 || tc.ReadQueueNums != 4 || tc.Perm != 6 {
		t.Fatalf("auto-created topic %+v %v", tc, ok)
	}
	m, err := tb.Store().ReadAt(phys)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != "hello" || !bytes.Equal(m.Properties, p) || m.QueueID != 2 {
		t.Fatalf("stored %q props %q queue %d", m.Body, m.Properties, m.QueueID)
	}
	if m.BornHost.Addr().String() != "127.0.0.1" || m.StoreHost.String() != tb.Addr() {
		t.Fatalf("born host %v store host %v", m.BornHost, m.StoreHost)
	}

	// Compressed flag and user flag are kept as sent.
	args := sendArgs("SendTopic", 0, nil)
	for i := range args {
		if args[i] == "sysFlag" {
			args[i+1] = "1"
		}
		if args[i] == "flag" {
			args[i+1] = "77"
		}
	}
	resp = tb.call(remoting.RequestSendMessage, []byte("zlib bytes"), args...)
	expect(t, resp, remoting.ResponseSuccess)
	_, phys, _ = message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	m, err = tb.Store().ReadAt(phys)
	if err != nil {
		t.Fatal(err)
	}
	if m.SysFlag&message.SysFlagCompressed == 0 || m.Flag != 77 {
		t.Fatalf("sysFlag %#x flag %d", m.SysFlag, m.Flag)
	}
}

func TestSendMessageRandomQueue(t *testing.T) {
	tb := startBroker(t, nil)
	seen := map[string]bool{}
	for range 64 {
		resp := tb.send("RandomQueue", -1, "x", nil)
		expect(t, resp, remoting.ResponseSuccess)
		seen[resp.Ext(protocol.FieldQueueID)] = true
	}
	if len(seen) < 2 {
		t.Fatalf("queueId -1 always went to %v", seen)
	}
	for q := range seen {
		if q < "0" || q > "3" {
			t.Fatalf("queue %s outside the topic's 4 queues", q)
		}
	}
}

func TestSendMessageErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		topic  string
		queue  int
		body   int
		code   remoting.ResponseCode
		remark string
	}{
		{name: "oversize", topic: "T", body: 1<<20 + 1, code: remoting.ResponseMessageIllegal, remark: "exceeds"},
		{name: "bad character", topic: "bad topic", code: remoting.ResponseInvalidParameter, remark: "illegal character"},
		{name: "too long", topic: strings.Repeat("t", 128), code: remoting.ResponseInvalidParameter, remark: "longer than 127"},
		{name: "system topic", topic: "SCHEDULE_TOPIC_XXXX", code: remoting.ResponseNoPermission, remark: "forbidden"},
		{name: "queue out of range", topic: "TBW102", queue: 8, code: remoting.ResponseSystemError, remark: "illegal"},
		{name: "auto-create off", mutate: func(c *Config) { c.AutoCreateTopicEnable = false }, topic: "T",
			code: remoting.ResponseTopicNotExist, remark: "not exist"},
		{name: "read-only broker", mutate: func(c *Config) { c.BrokerPermission = 4 }, topic: "T",
			code: remoting.ResponseNoPermission, remark: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := startBroker(t, tt.mutate)
			resp := tb.send(tt.topic, tt.queue, strings.Repeat("x", tt.body), nil)
			expect(t, resp, tt.code)
			if !strings.Contains(resp.Remark, tt.remark) {
				t.Fatalf("remark %q lacks %q", resp.Remark, tt.remark)
			}
			// The connection keeps serving.
			expect(t, tb.send("Fine", 0, "ok", nil), map[bool]remoting.ResponseCode{true: remoting.ResponseSuccess,
				false: tt.code}[tt.mutate == nil])
		})
	}
	t.Run("missing header field", func(t *testing.T) {
		tb := startBroker(t, nil)
		resp := tb.call(remoting.RequestSendMessage, []byte("x"), "topic", "T")
		expect(t, resp, remoting.ResponseSystemError)
	})
}

func TestSendMessageSyncFlushTimeout(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.FlushDiskType = SyncFlush }, func(o *Options) {
		o.Store = func(so *store.Options) { so.SyncFlushTimeout = 1 } // 1 ns: no sync can finish in time
	})
	resp := tb.send("Flush", 0, "x", nil)
	expect(t, resp, remoting.ResponseFlushDiskTimeout)
	if resp.Ext(protocol.FieldMsgID) == "" || resp.Ext(protocol.FieldQueueOffset) != "0" {
		t.Fatalf("FLUSH_DISK_TIMEOUT without msgId/queueOffset: %v", resp)
	}
}

// TestParseSendHeader: both spellings, defaults of the optional fields, the first of a repeated
// field, and the errors of missing or malformed required fields.
func TestParseSendHeader(t *testing.T) {
	v1 := func(kv ...string) []string {
		base := []string{"producerGroup", "pg", "topic", "T1", "defaultTopic", "TBW102", "queueId", "2",
			"sysFlag", "1", "bornTimestamp", "1700000000000", "flag", "5", "properties", "TAGS\x01x\x02"}
		return append(base, kv...)
	}
	v2 := func(kv ...string) []string {
		base := []string{"a", "pg", "b", "T2", "c", "TBW102", "e", "3", "f", "0", "g", "1700000000001", "h", "0", "i", ""}
		return append(base, kv...)
	}
	tests := []struct {
		name    string
		fields  *sendFields
		args    []string
		want    sendHeader
		wantErr string // in the message of an ErrBadRequest
	}{
		{"v1", &sendFieldsV1, v1("defaultTopicQueueNums", "8", "reconsumeTimes", "3", "maxReconsumeTimes", "16", "batch", "TRUE"),
			sendHeader{producerGroup: "pg", topic: "T1", defaultTopic: "TBW102", defaultTopicQueueNums: 8, queueID: 2, sysFlag: 1,
				bornTimestamp: 1700000000000, flag: 5, properties: "TAGS\x01x\x02", reconsumeTimes: 3, maxReconsumeTimes: 16, batch: true}, ""},
		{"v2 defaults", &sendFieldsV2, v2("d", "x", "j", "-", "m", "yes"),
			sendHeader{producerGroup: "pg", topic: "T2", defaultTopic: "TBW102", defaultTopicQueueNums: 4, queueID: 3,
				bornTimestamp: 1700000000001}, ""},
		{"v2 first of a repeated field", &sendFieldsV2, v2("b", "Other", "l", "7"),
			sendHeader{producerGroup: "pg", topic: "T2", defaultTopic: "TBW102", defaultTopicQueueNums: 4, queueID: 3,
				bornTimestamp: 1700000000001, maxReconsumeTimes: 7}, ""},
		{"v1 names in a v2 request are not read", &sendFieldsV2, []string{"producerGroup", "pg", "topic", "T"}, sendHeader{}, "missing ext field"},
		{"v2 missing topic", &sendFieldsV2, []string{"a", "pg", "e", "1"}, sendHeader{}, "missing ext field"},
		{"v2 missing queue", &sendFieldsV2, []string{"a", "pg", "b", "T", "f", "0", "g", "1", "h", "0"}, sendHeader{}, "missing ext field"},
		{"v2 bad queue", &sendFieldsV2, []string{"a", "pg", "b", "T", "e", "x"}, sendHeader{}, "bad ext field"},
		{"v1 bad born", &sendFieldsV1, []string{"producerGroup", "pg", "topic", "T", "queueId", "1", "sysFlag", "0", "bornTimestamp", "soon", "flag", "0"},
			sendHeader{}, "bad ext field"},
		{"v2 queue out of int32", &sendFieldsV2, []string{"a", "pg", "b", "T", "e", "4294967296", "f", "0", "g", "1", "h", "0"},
			sendHeader{}, "bad ext field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := remoting.NewRequest(remoting.RequestSendMessageV2)
			defer req.Release()
			for i := 0; i+1 < len(tt.args); i += 2 {
				req.ExtFields = append(req.ExtFields, remoting.Field{Key: tt.args[i], Value: tt.args[i+1]})
			}
			h, err := parseSendHeader(req, tt.fields)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %v with %q", err, ErrBadRequest, tt.wantErr)
				}
				return
			}
			if err != nil || h != tt.want {
				t.Fatalf("got %+v, %v\nwant %+v", h, err, tt.want)
			}
		})
	}
}
