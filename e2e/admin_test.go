package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// decodeRecords splits a body of raw commitlog records.
func decodeRecords(t testing.TB, body []byte) []*message.Message {
	t.Helper()
	var out []*message.Message
	for len(body) > 0 {
		var r message.Record
		n, err := message.DecodeRecord(body, &r, true)
		if err != nil {
			t.Fatalf("decode record: %v", err)
		}
		out = append(out, r.Message())
		body = body[n:]
	}
	return out
}

// TestAdminCreateTopicAndQueryMessages: the Go admin client creates a topic with 8 queues, its
// route shows 8 queues, and a message sent to it is found by key (QUERY_MESSAGE) and by its
// offset message id (VIEW_MESSAGE_BY_ID).
func TestAdminCreateTopicAndQueryMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	topic := "Admin8"
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{s.ns.addr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = adm.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(s.b.Addr()),
		admin.WithReadQueueNums(8), admin.WithWriteQueueNums(8))
	if err != nil {
		t.Fatal(err)
	}
	mqs, err := adm.FetchPublishMessageQueues(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(mqs) != 8 {
		t.Fatalf("route has %d publish queues, want 8", len(mqs))
	}

	rc := rawClient(t)
	resp := invoke(t, rc, s.b.Addr(), remoting.RequestGetAllTopicConfig, nil)
	var all struct {
		TopicConfigTable map[string]struct{ ReadQueueNums, WriteQueueNums int }
	}
	if err := json.Unmarshal(resp.Body, &all); err != nil {
		t.Fatal(err)
	}
	resp.Release()
	if tc := all.TopicConfigTable[topic]; tc.ReadQueueNums != 8 || tc.WriteQueueNums != 8 {
		t.Fatalf("GET_ALL_TOPIC_CONFIG: %s = %+v", topic, tc)
	}

	p := newProducer(t, s.ns.addr)
	m := primitive.NewMessage(topic, []byte("find me"))
	m.WithKeys([]string{"order-42", "customer-7"})
	m.WithTag("TagQ")
	res, err := p.SendSync(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.b.Store().Sync(ctx); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"order-42", "customer-7", res.MsgID} {
		resp := invoke(t, rc, s.b.Addr(), remoting.RequestQueryMessage, nil,
			"topic", topic, "key", key, "maxNum", "32", "beginTimestamp", "0",
			"endTimestamp", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		if resp.ResponseCode() != remoting.ResponseSuccess {
			t.Fatalf("QUERY_MESSAGE %q: %v %s", key, resp.ResponseCode(), resp.Remark)
		}
		msgs := decodeRecords(t, resp.Body)
		resp.Release()
		if len(msgs) != 1 || string(msgs[0].Body) != "find me" || msgs[0].Tags() != "TagQ" {
			t.Fatalf("QUERY_MESSAGE %q: %d messages", key, len(msgs))
		}
	}
	resp = invoke(t, rc, s.b.Addr(), remoting.RequestQueryMessage, nil,
		"topic", topic, "key", "nobody", "maxNum", "32", "beginTimestamp", "0", "endTimestamp", "0")
	if resp.ResponseCode() != remoting.ResponseQueryNotFound {
		t.Fatalf("QUERY_MESSAGE of a missing key: %v", resp.ResponseCode())
	}
	resp.Release()

	_, offset, err := message.ParseOffsetMsgID(res.OffsetMsgID)
	if err != nil {
		t.Fatal(err)
	}
	resp = invoke(t, rc, s.b.Addr(), remoting.RequestViewMessageByID, nil, "offset", strconv.FormatInt(offset, 10))
	if resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("VIEW_MESSAGE_BY_ID: %v %s", resp.ResponseCode(), resp.Remark)
	}
	msgs := decodeRecords(t, resp.Body)
	resp.Release()
	if len(msgs) != 1 || string(msgs[0].Body) != "find me" || msgs[0].UniqKey() != res.MsgID {
		t.Fatalf("VIEW_MESSAGE_BY_ID: %+v", msgs)
	}
}

// TestBadInputOverTheWire: an oversize message is MESSAGE_ILLEGAL, an invalid topic name a clear
// error, an unknown request code REQUEST_CODE_NOT_SUPPORTED, a garbage frame closes only its
// own connection, and the server keeps serving the other clients.
func TestBadInputOverTheWire(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *broker.Config) { c.MaxMessageSize = 64 << 10 })
	p := newProducer(t, s.ns.addr)
	other := newProducer(t, s.ns.addr)
	ctx := context.Background()
	if _, err := p.SendSync(ctx, primitive.NewMessage("Good", []byte("first"))); err != nil {
		t.Fatal(err)
	}

	big := make([]byte, 100<<10)
	rand.Read(big) // incompressible: the client compresses bodies over 4 KiB
	_, err := p.SendSync(ctx, primitive.NewMessage("Good", big))
	if err == nil || !strings.Contains(err.Error(), "CODE: 13") {
		t.Fatalf("oversize send: %v, want CODE: 13 (MESSAGE_ILLEGAL)", err)
	}

	_, err = p.SendSync(ctx, primitive.NewMessage("bad topic!", []byte("x")))
	if err == nil || !strings.Contains(err.Error(), "CODE: 29") || !strings.Contains(err.Error(), "illegal character") {
		t.Fatalf("invalid topic send: %v, want CODE: 29 with the reason", err)
	}

	rc := rawClient(t)
	resp := invoke(t, rc, s.b.Addr(), remoting.RequestCode(9999), nil)
	if resp.ResponseCode() != remoting.ResponseRequestCodeNotSupported {
		t.Fatalf("unknown code: %v", resp.ResponseCode())
	}
	resp.Release()

	// A frame claiming 1 GiB: that connection is closed, nobody else notices.
	conn, err := net.Dial("tcp", s.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte{0x40, 0, 0, 0, 0, 0, 0, 10, '{', '}'})
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("garbage frame: the connection was not closed: %v", err)
	}
	conn.Close()

	for _, prod := range []interface {
		SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error)
	}{p, other} {
		if _, err := prod.SendSync(ctx, primitive.NewMessage("Good", []byte("still serving"))); err != nil {
			t.Fatalf("send after bad input: %v", err)
		}
	}
	resp = invoke(t, rc, s.b.Addr(), remoting.RequestGetMaxOffset, nil, "topic", "Good", "queueId", "0")
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("GET_MAX_OFFSET after bad input: %v", resp.ResponseCode())
	}
}
