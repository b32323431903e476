package broker

import (
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestAppendConsumeStats(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stats []QueueProgress
		want  string
	}{
		{"empty", nil, `{"consumeTps":0.0,"offsetTable":{}}`},
		{"two queues", []QueueProgress{{Topic: "T", BrokerOffset: 12, ConsumerOffset: 10, LastTimestamp: 1700000000000}, {Topic: "%RETRY%g"}},
			`{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":12,"consumerOffset":10,"lastTimestamp":1700000000000},` +
				`{"brokerName":"broker-a","queueId":0,"topic":"%RETRY%g"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0}}}`},
	} {
		if got := string(appendConsumeStats(nil, "broker-a", tt.stats)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestGetConsumeStats(t *testing.T) {
	tb := startBroker(t, nil)
	for _, topic := range []string{"A", "B"} {
		expect(t, tb.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", topic, "readQueueNums", "2", "writeQueueNums", "2",
			"perm", "6"), remoting.ResponseSuccess)
	}
	for i := range 5 {
		expect(t, tb.send("A", 0, fmt.Sprint("m", i), nil), remoting.ResponseSuccess)
	}
	tb.sync()
	tb.offsets.commit("g", "A", 0, 3)
	tb.offsets.commit("g", "B", 1, 0)
	tb.offsets.commit("g", "Gone", 0, 9) // a topic the broker no longer has is skipped
	u, _ := tb.Store().QueueUnit("A", 0, 2)
	ts, err := tb.Store().CommitLog().StoreTimestamp(u.CommitLogOffset)
	if err != nil {
		t.Fatal(err)
	}
	a := fmt.Sprintf(`{"brokerName":"broker-a","queueId":0,"topic":"A"}:{"brokerOffset":5,"consumerOffset":3,"lastTimestamp":%d},`+
		`{"brokerName":"broker-a","queueId":1,"topic":"A"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0}`, ts)
	b := `{"brokerName":"broker-a","queueId":0,"topic":"B"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0},` +
		`{"brokerName":"broker-a","queueId":1,"topic":"B"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0}`
	wrap := func(s string) string { return `{"consumeTps":0.0,"offsetTable":{` + s + `}}` }
	for _, tt := range []struct {
		name string
		ext  []string
		code remoting.ResponseCode
		body string
	}{
		{"all topics of the group", []string{"consumerGroup", "g"}, remoting.ResponseSuccess, wrap(a + "," + b)},
		{"one topic", []string{"consumerGroup", "g", "topic", "A"}, remoting.ResponseSuccess, wrap(a)},
		{"a group without progress", []string{"consumerGroup", "none"}, remoting.ResponseSuccess, wrap("")},
		{"unknown topic", []string{"consumerGroup", "g", "topic", "Nope"}, remoting.ResponseSuccess, wrap("")},
		{"no group", []string{"topic", "A"}, remoting.ResponseSystemError, ""},
	} {
		resp := tb.call(remoting.RequestGetConsumeStats, nil, tt.ext...)
		if resp.ResponseCode() != tt.code || string(resp.Body) != tt.body {
			t.Errorf("%s: %v %q\n got %s\nwant %s", tt.name, resp.ResponseCode(), resp.Remark, resp.Body, tt.body)
		}
	}
}
