package client

import (
	"testing"
)

const seedConsumeStats = `{"consumeTps":0.0,"offsetTable":{{"brokerName":"b\"}","queueId":0,"topic":"%RETRY%g"}:{"brokerOffset":12,"consumerOffset":10,"lastTimestamp":1}}}`

func TestDecodeQueueTable(t *testing.T) {
	var table struct {
		OffsetTable map[string]struct {
			BrokerOffset int64 `json:"brokerOffset"`
		} `json:"offsetTable"`
	}
	if err := decodeQueueTable([]byte(seedConsumeStats), &table); err != nil || len(table.OffsetTable) != 1 {
		t.Fatalf("consume stats %+v %v", table, err)
	}
	for key, v := range table.OffsetTable {
		mq, err := decodeQueueKey(key)
		want := MessageQueue{Topic: "%RETRY%g", BrokerName: `b"}`, QueueID: 0}
		if err != nil || mq != want || v.BrokerOffset != 12 {
			t.Fatalf("key %q → %+v %v", key, mq, err)
		}
	}
	for _, key := range []string{`{"topic":"T"}`, `{"queueId":1}`, `[]`, `x`} {
		if _, err := decodeQueueKey(key); err == nil {
			t.Errorf("key %s accepted", key)
		}
	}
}
