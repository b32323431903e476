package namesrv

import "time"

// Permission bits of a topic or broker (RocketMQ's PermName).
const (
	PermInherit = 1
	PermWrite   = 2
	PermRead    = 4
	PermPrio    = 8
	PermRW      = PermRead | PermWrite
)

// AutoCreateTopic is the topic whose route producers fall back to when their topic does not
// exist yet (RocketMQ's TBW102): a broker with autoCreateTopicEnable registers it with perm 7.
const AutoCreateTopic = "TBW102"

// TopicConfig is a topic as a broker registers it (RocketMQ's TopicConfig).
type TopicConfig struct {
	TopicName       string `json:"topicName"`
	ReadQueueNums   int    `json:"readQueueNums"`
	WriteQueueNums  int    `json:"writeQueueNums"`
	Perm            int    `json:"perm"`
	TopicFilterType string `json:"topicFilterType"` // SINGLE_TAG or MULTI_TAG
	TopicSysFlag    int    `json:"topicSysFlag"`
	Order           bool   `json:"order"`
	// Attributes are RocketMQ 5's topic attributes (TopicConfig.attributes), by key; mqstore
	// knows one, AttrMessageType. Nil when the topic has none.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Registration is what one broker tells the name server (REGISTER_BROKER's header and body).
type Registration struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string // ip:port clients connect to
	BrokerID     int64  // 0 = master
	HAServerAddr string
	// Topics is every topic the broker serves, by name. Only a master's
	// (BrokerID 0) topics enter routes, as in RocketMQ.
	Topics map[string]TopicConfig
	// HeartbeatTimeout, when positive, is how long the name server keeps
	// this broker without a new registration (RocketMQ 5's
	// heartbeatTimeoutMillis header, sent by brokers with
	// enableSlaveActingMaster); zero means the name server's
	// Options.BrokerExpiry.
	HeartbeatTimeout time.Duration
	// DataVersion is the version of the broker's topic configuration
	// (RocketMQ's DataVersion); carried on the wire, kept for information.
	DataVersion DataVersion
}

// DataVersion versions a broker's topic configuration (RocketMQ's
// DataVersion: the time of the last change and a change counter).
type DataVersion struct {
	Timestamp int64 // ms since the epoch
	Counter   int64
}

// QueueData is one broker's share of a topic in a route (RocketMQ's QueueData).
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int
	WriteQueueNums int
	Perm           int
	TopicSysFlag   int
}

// BrokerData is a broker group in a route or cluster view (RocketMQ's BrokerData): its
// addresses by broker id, 0 being the master.
type BrokerData struct {
	Cluster     string
	BrokerName  string
	BrokerAddrs map[int64]string
}

// TopicRoute is the answer to GET_ROUTEINFO_BY_TOPIC (RocketMQ's TopicRouteData).
type TopicRoute struct {
	QueueDatas  []QueueData
	BrokerDatas []BrokerData
}
