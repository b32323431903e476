package broker

import (
	"strconv"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// sendBack sends CONSUMER_SEND_MSG_BACK for the message at offset.
func (tb *testBroker) sendBack(group string, offset int64, delayLevel, maxTimes int, origin string) *remoting.Command {
	tb.t.Helper()
	return tb.call(remoting.RequestConsumerSendMsgBack, nil, protocol.FieldOffset, strconv.FormatInt(offset, 10), protocol.FieldGroup, group,
		protocol.FieldDelayLevel, strconv.Itoa(delayLevel), protocol.FieldOriginMsgID, origin, protocol.FieldOriginTopic, "BackTopic",
		protocol.FieldUnitMode, "false", protocol.FieldMaxReconsumeTimes, strconv.Itoa(maxTimes))
}

// TestConsumerSendMsgBack: a message handed back goes to %RETRY%<group> through delay level
// 3 + reconsumeTimes, with RECONSUMETIMES+1, RETRY_TOPIC and ORIGIN_MESSAGE_ID; at
// maxReconsumeTimes (or with delayLevel -1) it goes to %DLQ%<group> at once.
func TestConsumerSendMsgBack(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, func(c *Config) { c.MessageDelayLevel = "1s 1s 1s 1s 1s 1s" })
	resp := tb.send("BackTopic", 0, "payload", props("TAGS", "TagB", "KEYS", "k1", "UNIQ_KEY", "UNIQ-1"))
	expect(t, resp, remoting.ResponseSuccess)
	_, offset, _ := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	retryTopic, dlqTopic := RetryTopicPrefix+"cg", DLQTopicPrefix+"cg"

	// Two rounds through the retry topic.
	for round := 1; round <= 2; round++ {
		expect(t, tb.sendBack("cg", offset, 0, 2, "UNIQ-1"), remoting.ResponseSuccess)
		if tc, ok := tb.topics.get(retryTopic); !ok || tc.WriteQueueNums != 1 {
			t.Fatalf("retry topic %+v %v", tc, ok)
		}
		// Delay level 3 + reconsumeTimes: held by the store's timer.
		tb.sync()
		if n := tb.Store().MaxOffset(store.TimerTopic, 0); n != int64(round) {
			t.Fatalf("round %d: timer queue holds %d", round, n)
		}
		got := tb.waitDelivered(retryTopic, 0, round)
		r := got[round-1]
		if string(r.Body) != "payload" || r.ReconsumeTimes != int32(round) {
			t.Fatalf("round %d: retry copy %q reconsume %d", round, r.Body, r.ReconsumeTimes)
		}
		for k, v := range map[string]string{"RETRY_TOPIC": "BackTopic", "ORIGIN_MESSAGE_ID": "UNIQ-1", "TAGS": "TagB", "UNIQ_KEY": "UNIQ-1"} {
			if got, _ := r.Properties.Get(k); got != v {
				t.Fatalf("round %d: %s = %q, want %q", round, k, got, v)
			}
		}
		offset = r.PhysicalOffset
	}
	// reconsumeTimes 2 reached maxReconsumeTimes 2: dead letter, undelayed.
	expect(t, tb.sendBack("cg", offset, 0, 2, "UNIQ-1"), remoting.ResponseSuccess)
	dead := tb.delivered(dlqTopic, 0)
	if len(dead) != 1 || dead[0].ReconsumeTimes != 3 || string(dead[0].Body) != "payload" {
		t.Fatalf("dead letters %d", len(dead))
	}
	if v, _ := dead[0].Properties.Get("RETRY_TOPIC"); v != "BackTopic" {
		t.Fatalf("dead letter RETRY_TOPIC %q", v)
	}
	// delayLevel -1: dead letter at once whatever the count.
	expect(t, tb.sendBack("cg", offset, -1, 16, ""), remoting.ResponseSuccess)
	if n := len(tb.delivered(dlqTopic, 0)); n != 2 {
		t.Fatalf("%d dead letters, want 2", n)
	}
	// A SEND into the retry topic at the group's retryMaxTimes (16) is a dead letter too.
	args := sendArgs(retryTopic, 0, props("RETRY_TOPIC", "BackTopic"))
	for i := range args {
		if args[i] == protocol.FieldReconsumeTimes {
			args[i+1] = "16"
		}
	}
	expect(t, tb.call(remoting.RequestSendMessage, []byte("fallback"), args...), remoting.ResponseSuccess)
	if n := len(tb.delivered(dlqTopic, 0)); n != 3 {
		t.Fatalf("%d dead letters after a SEND at the maximum, want 3", n)
	}

	// Refusals.
	resp = tb.sendBack("cg", offset+1, 0, 16, "")
	expect(t, resp, remoting.ResponseSystemError)
	expect(t, tb.call(remoting.RequestConsumerSendMsgBack, nil, protocol.FieldGroup, "cg"), remoting.ResponseSystemError)
	strict := startBroker(t, func(c *Config) { c.AutoCreateSubscriptionGroup = false })
	expect(t, strict.sendBack("unknown", 0, 0, 16, ""), remoting.ResponseSubscriptionGroupNotExist)
}
