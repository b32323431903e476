package protocol

// SubscriptionGroupConfig is a consumer group's settings (RocketMQ's SubscriptionGroupConfig):
// the UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) body, one entry of subscriptionGroup.json and of
// the GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) body. A field missing from a 200 body keeps its
// default (DefaultSubscriptionGroupConfig), as fastjson decoding into a new object does.
type SubscriptionGroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
	// ConsumeMessageOrderly (RocketMQ 5): receive (POP) delivers a message group's messages
	// one at a time, in order; otherwise concurrently.
	ConsumeMessageOrderly bool `json:"consumeMessageOrderly"`
}

// DefaultSubscriptionGroupConfig is RocketMQ's default for a group (SubscriptionGroupConfig's
// field initialisers).
func DefaultSubscriptionGroupConfig(name string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{
		GroupName:                      name,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	}
}

// MaxDeliveryAttempts is how many times a group gets a message before it goes to the
// dead-letter topic: retryMaxTimes + 1 (RocketMQ 5's default, 17).
func (c SubscriptionGroupConfig) MaxDeliveryAttempts() int32 { return int32(c.RetryMaxTimes) + 1 }
