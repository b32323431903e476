package protocol

// Connection is one client connection of a group (RocketMQ's Connection), in the bodies of
// GET_CONSUMER_CONNECTION_LIST (203) and GET_PRODUCER_CONNECTION_LIST (204). Language is the
// LanguageCode name ("GO", "JAVA"), Version the client's MQVersion ordinal.
type Connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int32  `json:"version"`
}

// ConsumerConnection is the GET_CONSUMER_CONNECTION_LIST (203) body: a consumer group's live
// clients, its subscriptions by topic, and how it consumes (from its latest heartbeat):
//
//	{"connectionSet":[{"clientId":"10.0.0.5@1234","clientAddr":"10.0.0.5:53412","language":"GO","version":317}],
//	 "subscriptionTable":{"T":{"topic":"T","subString":"*","tagsSet":[],"subVersion":1700000000000,...}},
//	 "consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET"}
type ConsumerConnection struct {
	ConnectionSet     []Connection                `json:"connectionSet"`
	SubscriptionTable map[string]SubscriptionData `json:"subscriptionTable"`
	ConsumeType       string                      `json:"consumeType"`
	MessageModel      string                      `json:"messageModel"`
	ConsumeFromWhere  string                      `json:"consumeFromWhere"`
}

// ProducerConnection is the GET_PRODUCER_CONNECTION_LIST (204) body: {"connectionSet":[...]}.
type ProducerConnection struct {
	ConnectionSet []Connection `json:"connectionSet"`
}
