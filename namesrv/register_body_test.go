package namesrv

import (
	"errors"
	"reflect"
	"testing"
)

func TestRegisterBodyGolden(t *testing.T) {
	reg := Registration{
		DataVersion: DataVersion{Timestamp: 1700000000000, Counter: 3},
		Topics: map[string]TopicConfig{
			"TopicTest": {TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: PermRW, TopicFilterType: "SINGLE_TAG"},
			"TBW102":    {ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRW | PermInherit, TopicSysFlag: 1, Order: true},
		},
	}
	want := `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},"topicConfigTable":{` +
		`"TBW102":{"order":true,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":1,"writeQueueNums":8},` +
		`"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}`
	got := appendRegisterBody(nil, &reg)
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	topics, dv, err := decodeRegisterBody(got)
	if err != nil {
		t.Fatal(err)
	}
	if dv != reg.DataVersion {
		t.Errorf("dataVersion = %+v", dv)
	}
	wantTopics := map[string]TopicConfig{
		"TopicTest": reg.Topics["TopicTest"],
		"TBW102":    {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "SINGLE_TAG", TopicSysFlag: 1, Order: true},
	}
	if !reflect.DeepEqual(topics, wantTopics) {
		t.Errorf("topics = %+v", topics)
	}
	if got := string(appendRegisterBody(nil, &Registration{})); got != `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":0,"timestamp":0},"topicConfigTable":{}}}` {
		t.Errorf("empty body = %s", got)
	}
}

func TestDecodeRegisterBody(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		topics map[string]TopicConfig
		dv     DataVersion
		err    bool
	}{
		{
			name: "java 5.x body with extras",
			in: `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1690000000000},` +
				`"mappingDataVersion":{"counter":0,"timestamp":0},"topicQueueMappingInfoMap":{},"topicConfigTable":{` +
				`"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"MULTI_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}}}}`,
			topics: map[string]TopicConfig{"T": {TopicName: "T", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6, TopicFilterType: "MULTI_TAG"}},
			dv:     DataVersion{Timestamp: 1690000000000, Counter: 7},
		},
		{
			name:   "bare wrapper, name from key",
			in:     `{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"X":{"perm":4,"readQueueNums":1,"writeQueueNums":1}}}`,
			topics: map[string]TopicConfig{"X": {TopicName: "X", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 4}},
			dv:     DataVersion{Timestamp: 2, Counter: 1},
		},
		{name: "no table", in: `{"filterServerList":[]}`, topics: map[string]TopicConfig{}},
		{name: "not JSON", in: `{"topicConfigSerializeWrapper":`, err: true},
		{name: "array", in: `[]`, err: true},
		{name: "wrapper not an object", in: `{"topicConfigSerializeWrapper":1}`, err: true},
		{name: "table not an object", in: `{"topicConfigTable":[]}`, err: true},
		{name: "topic not an object", in: `{"topicConfigTable":{"a":1}}`, err: true},
		{name: "bad perm", in: `{"topicConfigTable":{"a":{"perm":true}}}`, err: true},
		{name: "bad order", in: `{"topicConfigTable":{"a":{"order":1}}}`, err: true},
		{name: "bad counter", in: `{"dataVersion":{"counter":"1"}}`, err: true},
		{name: "bad timestamp", in: `{"dataVersion":{"timestamp":1.5}}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topics, dv, err := decodeRegisterBody([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrMalformedRegistration) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(topics, tt.topics) || dv != tt.dv {
				t.Errorf("got %+v %+v, want %+v %+v", topics, dv, tt.topics, tt.dv)
			}
		})
	}
}
