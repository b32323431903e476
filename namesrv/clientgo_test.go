package namesrv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	mqerrors "github.com/apache/rocketmq-client-go/v2/errors"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// TestRealClientAgainstNamesrv drives our name server with the unmodified
// rocketmq-client-go admin: FetchAllTopicList (GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
// and FetchPublishMessageQueues (GET_ROUTEINFO_BY_TOPIC at version 317, so
// the legacy route form, parsed by the client's own decoder).
func TestRealClientAgainstNamesrv(t *testing.T) {
	rlog.SetLogLevel("fatal")
	n := startNamesrv(t, Options{})
	regA := brokerReg("DefaultCluster", "broker-a", "127.0.0.1:10911", 0, topicSet(4, "TopicTest", "Both"))
	regA.Topics[AutoCreateTopic] = TopicConfig{TopicName: AutoCreateTopic, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7}
	n.register(t, regA)
	n.register(t, brokerReg("DefaultCluster", "broker-a", "127.0.0.1:10921", 1, nil))
	regB := brokerReg("DefaultCluster", "broker-b", "127.0.0.1:10931", 0, topicSet(2, "Both"))
	regB.Topics["ReadOnly"] = TopicConfig{TopicName: "ReadOnly", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRead}
	n.register(t, regB)

	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{n.addr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatalf("FetchAllTopicList: %v", err)
	}
	want := []string{"Both", "ReadOnly", AutoCreateTopic, "TopicTest"}
	if got := slices.Sorted(slices.Values(list.TopicList)); !slices.Equal(got, want) {
		t.Fatalf("FetchAllTopicList = %v, want %v", got, want)
	}

	tests := []struct {
		topic  string
		queues []string // "broker:queue" the client publishes to
		err    error
	}{
		{topic: "TopicTest", queues: []string{"broker-a:0", "broker-a:1", "broker-a:2", "broker-a:3"}},
		{topic: "Both", queues: []string{"broker-a:0", "broker-a:1", "broker-a:2", "broker-a:3", "broker-b:0", "broker-b:1"}},
		{topic: AutoCreateTopic, queues: []string{"broker-a:0", "broker-a:1", "broker-a:2", "broker-a:3", "broker-a:4", "broker-a:5", "broker-a:6", "broker-a:7"}},
		{topic: "ReadOnly", queues: nil}, // perm 4: no publish queues
		{topic: "Missing", err: mqerrors.ErrTopicNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			mqs, err := adm.FetchPublishMessageQueues(ctx, tt.topic)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchPublishMessageQueues: %v", err)
			}
			var got []string
			for _, mq := range mqs {
				if mq.Topic != tt.topic {
					t.Errorf("queue of topic %q", mq.Topic)
				}
				got = append(got, fmt.Sprintf("%s:%d", mq.BrokerName, mq.QueueId))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.queues) {
				t.Fatalf("publish queues = %v, want %v", got, tt.queues)
			}
		})
	}
}
