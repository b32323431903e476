package broker

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// resetNote is a RESET_CONSUMER_CLIENT_OFFSET a consumer received.
type resetNote struct {
	topic, group, timestamp string
	body                    string
}

func TestInvokeBrokerToResetOffset(t *testing.T) {
	tb := startBroker(t, nil)
	for range 3 {
		tb.send("RT", 0, "old", nil)
	}
	tb.sync()
	time.Sleep(20 * time.Millisecond)
	from := time.Now().UnixMilli()
	time.Sleep(20 * time.Millisecond)
	for range 2 {
		tb.send("RT", 0, "new", nil)
	}
	tb.sync()

	// A live consumer of the group hears of the reset.
	c := newConsumerClient(t, "10.0.0.1@reset")
	var mu sync.Mutex
	var notes []resetNote
	c.RegisterHandler(remoting.RequestResetConsumerClientOffset, func(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
		mu.Lock()
		notes = append(notes, resetNote{req.Ext("topic"), req.Ext("group"), req.Ext("timestamp"), string(req.Body)})
		mu.Unlock()
		return nil
	})
	c.heartbeat(t, tb.Addr(), heartbeatBody(c.id, "RG", "RT", "*"))
	tb.offsets.commit("RG", "RT", 0, 5)

	const wantBody = `{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"RT"}:3,` +
		`{"brokerName":"broker-a","queueId":1,"topic":"RT"}:0,{"brokerName":"broker-a","queueId":2,"topic":"RT"}:0,` +
		`{"brokerName":"broker-a","queueId":3,"topic":"RT"}:0}}`
	resp := tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "RT", "group", "RG",
		"timestamp", strconv.FormatInt(from, 10), "isForce", "true")
	expect(t, resp, remoting.ResponseSuccess)
	if string(resp.Body) != wantBody {
		t.Fatalf("body\n%s\nwant\n%s", resp.Body, wantBody)
	}
	if resp.Remark != "notified 1 consumer(s)" {
		t.Fatalf("remark %q", resp.Remark)
	}
	if off, _ := tb.offsets.query("RG", "RT", 0); off != 3 {
		t.Fatalf("committed offset %d, want 3", off)
	}
	waitUntil(t, "the reset notice", func() bool { mu.Lock(); defer mu.Unlock(); return len(notes) == 1 })
	want := resetNote{"RT", "RG", strconv.FormatInt(from, 10), wantBody}
	if notes[0] != want {
		t.Fatalf("notice %+v, want %+v", notes[0], want)
	}

	// Without isForce a queue only moves back: from 2, a reset to "from" (offset 3) stays at 2.
	tb.offsets.commit("RG", "RT", 0, 2)
	expect(t, tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "RT", "group", "RG",
		"timestamp", strconv.FormatInt(from, 10), "isForce", "false"), remoting.ResponseSuccess)
	if off, _ := tb.offsets.query("RG", "RT", 0); off != 2 {
		t.Fatalf("unforced reset moved the offset forward to %d", off)
	}
	// timestamp -1: the end of every queue ("skip the backlog").
	expect(t, tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "RT", "group", "RG", "timestamp", "-1"),
		remoting.ResponseSuccess)
	if off, _ := tb.offsets.query("RG", "RT", 0); off != 5 {
		t.Fatalf("offset %d after a reset to the end, want 5", off)
	}
	// No consumer online: the offsets are committed all the same.
	resp = tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "RT", "group", "Offline", "timestamp", "0")
	expect(t, resp, remoting.ResponseSuccess)
	if off, ok := tb.offsets.query("Offline", "RT", 0); !ok || off != 0 || resp.Remark != "notified 0 consumer(s)" {
		t.Fatalf("offline group: offset %d %v, remark %q", off, ok, resp.Remark)
	}

	expect(t, tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "Nope", "group", "RG", "timestamp", "0"),
		remoting.ResponseTopicNotExist)
	expect(t, tb.call(remoting.RequestInvokeBrokerToResetOffset, nil, "topic", "RT", "group", "RG"), remoting.ResponseSystemError)
}
