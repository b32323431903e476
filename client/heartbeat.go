package client

import (
	"encoding/json"
	"sort"
)

// The HEART_BEAT (34) body (HeartbeatData, clientgo.md §6), JSON:
//
//	{"clientID":"10.0.0.5@1234",
//	 "producerDataSet":[{"groupName":"pg"}],
//	 "consumerDataSet":[{"groupName":"cg","consumeType":"CONSUME_ACTIVELY",
//	   "messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET",
//	   "subscriptionDataSet":[{"classFilterMode":false,"topic":"t","subString":"*",
//	     "tagsSet":[],"codeSet":[],"subVersion":1700000000000000000,"expressionType":"TAG"}],
//	   "unitMode":false}]}
//
// Both sets are always present (as arrays); a producer-only client sends an
// empty consumerDataSet and the other way round. codeSet holds strings and
// subVersion is in nanoseconds, as the Go client sends them.
type heartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []producerData `json:"producerDataSet"`
	ConsumerDataSet []consumerData `json:"consumerDataSet"`
}

type producerData struct {
	GroupName string `json:"groupName"`
}

type consumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []subscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

type subscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         []string `json:"codeSet"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// Values of the heartbeat's enumerations.
const (
	consumeActively   = "CONSUME_ACTIVELY"
	modelClustering   = "CLUSTERING"
	consumeFromFirst  = "CONSUME_FROM_FIRST_OFFSET"
	expressionTypeTag = "TAG"
	subscribeAll      = "*"
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
			sd := subscriptionData{Topic: s.topic, SubString: s.expression, TagsSet: []string{}, CodeSet: []string{},
				SubVersion: s.version, ExpressionType: expressionTypeTag}
			for _, t := range s.tags {
				sd.TagsSet = append(sd.TagsSet, t)
				sd.CodeSet = append(sd.CodeSet, javaHashString(t))
			}
			cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
		}
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, cd)
	}
	b, _ := json.Marshal(hb) // plain structs of strings, bools and ints: cannot fail
	return b
}
