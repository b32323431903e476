package broker

import (
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestAppendTopicStatsTable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stats []topicOffset
		want  string
	}{
		{"empty", nil, `{"offsetTable":{}}`},
		{"two queues", []topicOffset{{0, 0, 12, 1700000000000}, {1, 3, 3, 0}},
			`{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":12,"minOffset":0},` +
				`{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":3,"minOffset":3}}}`},
	} {
		if got := string(appendTopicStatsTable(nil, "broker-a", "T", tt.stats)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if got := string(appendMessageQueueKey(nil, `b"\`, "T", 7)); got != `{"brokerName":"b\"\\","queueId":7,"topic":"T"}` {
		t.Errorf("escaped key %s", got)
	}
}

func TestGetTopicStatsInfo(t *testing.T) {
	tb := startBroker(t, nil)
	expect(t, tb.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Stats", "readQueueNums", "2", "writeQueueNums", "2",
		"perm", "6"), remoting.ResponseSuccess)
	for i := range 3 {
		expect(t, tb.send("Stats", 1, fmt.Sprint("m", i), nil), remoting.ResponseSuccess)
	}
	tb.sync()
	st, _ := tb.Store().QueueStat("Stats", 1)
	if st.LastUpdateTime == 0 {
		t.Fatal("no last update time")
	}
	want := fmt.Sprintf(`{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"Stats"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0},`+
		`{"brokerName":"broker-a","queueId":1,"topic":"Stats"}:{"lastUpdateTimestamp":%d,"maxOffset":3,"minOffset":0}}}`, st.LastUpdateTime)
	for _, tt := range []struct {
		name string
		ext  []string
		code remoting.ResponseCode
		body string
	}{
		{"stats", []string{"topic", "Stats"}, remoting.ResponseSuccess, want},
		{"unknown topic", []string{"topic", "Nope"}, remoting.ResponseTopicNotExist, ""},
		{"no topic", nil, remoting.ResponseSystemError, ""},
	} {
		resp := tb.call(remoting.RequestGetTopicStatsInfo, nil, tt.ext...)
		if resp.ResponseCode() != tt.code || string(resp.Body) != tt.body {
			t.Errorf("%s: %v %q\n got %s\nwant %s", tt.name, resp.ResponseCode(), resp.Remark, resp.Body, tt.body)
		}
	}
}
