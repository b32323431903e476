package protocol

import "encoding/json"

// HeartbeatData is the HEART_BEAT (34) body (RocketMQ's HeartbeatData; spec clientgo.md §6):
//
//	{"clientID":"10.0.0.5@1234",
//	 "producerDataSet":[{"groupName":"pg"}],
//	 "consumerDataSet":[{"groupName":"cg","consumeType":"CONSUME_ACTIVELY",
//	   "messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET",
//	   "subscriptionDataSet":[{"classFilterMode":false,"topic":"t","subString":"*",
//	     "tagsSet":[],"codeSet":[],"subVersion":1700000000000000000,"expressionType":"TAG"}],
//	   "unitMode":false}]}
//
// Both sets are always present (as arrays) in what clients send.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group of the client.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData describes a consumer group of the client and its subscriptions.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`      // ConsumeActively or ConsumePassively
	MessageModel        string             `json:"messageModel"`     // ModelClustering or ModelBroadcasting
	ConsumeFromWhere    string             `json:"consumeFromWhere"` // e.g. ConsumeFromFirstOffset
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one topic subscription. CodeSet is kept raw: Java clients send the tag hash
// codes as numbers, the Go client as strings, and the broker recomputes them from TagsSet.
type SubscriptionData struct {
	ClassFilterMode bool            `json:"classFilterMode"`
	Topic           string          `json:"topic"`
	SubString       string          `json:"subString"`
	TagsSet         []string        `json:"tagsSet"`
	CodeSet         json.RawMessage `json:"codeSet,omitempty"`
	SubVersion      int64           `json:"subVersion"`
	ExpressionType  string          `json:"expressionType"`
}

// Values of the heartbeat's enumerations.
const (
	ConsumeActively        = "CONSUME_ACTIVELY"
	ConsumePassively       = "CONSUME_PASSIVELY"
	ModelClustering        = "CLUSTERING"
	ModelBroadcasting      = "BROADCASTING"
	ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET"
	ConsumeFromLastOffset  = "CONSUME_FROM_LAST_OFFSET"
	ExpressionTypeTag      = "TAG"
	SubscribeAll           = "*"
)
