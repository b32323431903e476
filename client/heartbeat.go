package client

import (
	"encoding/json"
	"sort"

	"github.com/mqstore/mqstore/protocol"
)

// The HEART_BEAT body types, shared with the broker (package protocol).
type (
	heartbeatData    = protocol.HeartbeatData
	producerData     = protocol.ProducerData
	consumerData     = protocol.ConsumerData
	subscriptionData = protocol.SubscriptionData
)

const (
	consumeActively   = protocol.ConsumeActively
	modelClustering   = protocol.ModelClustering
	consumeFromFirst  = protocol.ConsumeFromFirstOffset
	expressionTypeTag = protocol.ExpressionTypeTag
	subscribeAll      = protocol.SubscribeAll
)

// subscription is one topic's expression, as the consumer pulls it.
type subscription struct {
	topic      string
	expression string
	tags       []string
	version    int64 // ns
}

// encodeHeartbeat returns the heartbeat body of a producer group (if
// producerGroup is set) or a pull consumer group with its subscriptions.
func encodeHeartbeat(clientID, producerGroup, consumerGroup string, subs []subscription) []byte {
	hb := heartbeatData{ClientID: clientID, ProducerDataSet: []producerData{}, ConsumerDataSet: []consumerData{}}
	if producerGroup != "" {
		hb.ProducerDataSet = append(hb.ProducerDataSet, producerData{GroupName: producerGroup})
	}
	if consumerGroup != "" {
		cd := consumerData{
			GroupName:           consumerGroup,
			ConsumeType:         consumeActively,
			MessageModel:        modelClustering,
			ConsumeFromWhere:    consumeFromFirst,
			SubscriptionDataSet: []subscriptionData{},
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].topic < subs[j].topic })
		for _, s := range subs {
			sd := subscriptionData{Topic: s.topic, SubString: s.expression, TagsSet: []string{},
				SubVersion: s.version, ExpressionType: expressionTypeTag}
			codes := []string{}
			for _, t := range s.tags {
				sd.TagsSet = append(sd.TagsSet, t)
				codes = append(codes, javaHashString(t))
			}
			sd.CodeSet, _ = json.Marshal(codes) // strings, as the Go client sends them
			cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
		}
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, cd)
	}
	b, _ := json.Marshal(hb) // plain structs of strings, bools and ints: cannot fail
	return b
}
