package namesrv

import (
	"errors"
	"reflect"
	"testing"
)

func TestClusterInfoGolden(t *testing.T) {
	brokers := map[string]BrokerData{
		"broker-b": {Cluster: "C2", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "h:3"}},
		"broker-a": {Cluster: "C1", BrokerName: "broker-a", BrokerAddrs: map[int64]string{1: "h:2", 0: "h:1"}},
	}
	clusters := map[string][]string{"C2": {"broker-b"}, "C1": {"broker-a"}}
	tests := []struct {
		legacy bool
		want   string
	}{
		{true, `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"h:1",1:"h:2"},"brokerName":"broker-a","cluster":"C1"},` +
			`"broker-b":{"brokerAddrs":{0:"h:3"},"brokerName":"broker-b","cluster":"C2"}},"clusterAddrTable":{"C1":["broker-a"],"C2":["broker-b"]}}`},
		{false, `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"h:1","1":"h:2"},"brokerName":"broker-a","cluster":"C1"},` +
			`"broker-b":{"brokerAddrs":{"0":"h:3"},"brokerName":"broker-b","cluster":"C2"}},"clusterAddrTable":{"C1":["broker-a"],"C2":["broker-b"]}}`},
	}
	for _, tt := range tests {
		got := appendClusterInfo(nil, brokers, clusters, tt.legacy)
		if string(got) != tt.want {
			t.Errorf("legacy=%v:\n got %s\nwant %s", tt.legacy, got, tt.want)
		}
		b2, c2, err := DecodeClusterInfo(got)
		if err != nil {
			t.Fatalf("legacy=%v: %v", tt.legacy, err)
		}
		if !reflect.DeepEqual(b2, brokers) || !reflect.DeepEqual(c2, clusters) {
			t.Errorf("legacy=%v: round trip %v %v", tt.legacy, b2, c2)
		}
	}
	if got := string(appendClusterInfo(nil, nil, nil, true)); got != `{"brokerAddrTable":{},"clusterAddrTable":{}}` {
		t.Errorf("empty cluster info = %s", got)
	}
}

func TestDecodeClusterInfoErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`{"brokerAddrTable":[]}`,
		`{"brokerAddrTable":{"a":{"brokerAddrs":{"x":"h"}}}}`,
		`{"clusterAddrTable":{"c":"a"}}`,
		`{"clusterAddrTable":{"c":[1]}}`,
	} {
		if _, _, err := DecodeClusterInfo([]byte(in)); !errors.Is(err, ErrMalformedRoute) {
			t.Errorf("DecodeClusterInfo(%s) err = %v", in, err)
		}
	}
}

func TestTopicList(t *testing.T) {
	tests := []struct {
		topics []string
		want   string
	}{
		{nil, `{"topicList":[]}`},
		{[]string{"TBW102", "TopicTest", "%RETRY%g"}, `{"topicList":["TBW102","TopicTest","%RETRY%g"]}`},
	}
	for _, tt := range tests {
		got := appendTopicList(nil, tt.topics)
		if string(got) != tt.want {
			t.Errorf("got %s want %s", got, tt.want)
		}
		back, err := DecodeTopicList(got)
		if err != nil || len(back) != len(tt.topics) {
			t.Errorf("DecodeTopicList(%s) = %v, %v", got, back, err)
		}
	}
	for _, in := range []string{`{`, `{"topicList":{}}`, `{"topicList":[1]}`} {
		if _, err := DecodeTopicList([]byte(in)); !errors.Is(err, ErrMalformedRoute) {
			t.Errorf("DecodeTopicList(%s) err = %v", in, err)
		}
	}
}
