package broker

import "sort"

// KeyDoc describes a broker.conf key mqstore implements, for mqstore -h.
type KeyDoc struct {
	Meaning string
	// Unit of the value: "ms", "seconds", "hours", "bytes", "percent", "bool", or "" for text and counts.
	Unit string
}

// keyDocs has one entry per key of configKeys (TestConfigKeyDocs checks).
var keyDocs = map[string]KeyDoc{
	"brokerClusterName":        {"cluster the broker registers in", ""},
	"brokerName":               {"broker group name in routes", ""},
	"brokerId":                 {"0 = master (mqstore runs only as a master)", ""},
	"brokerIP1":                {"IP clients are told to reach the broker at (routes, message ids); not what it binds", ""},
	"listenPort":               {"broker TCP port (0 = a free port)", ""},
	"bindAddress":              {"IP every port binds (broker, embedded name server, metrics); 0.0.0.0 opens them to every interface, as RocketMQ does", ""},
	"namesrvAddr":              {"name servers to register with, ip:port;ip:port (empty = run an embedded one on bindAddress:9876)", ""},
	"brokerPermission":         {"6 read+write, 4 read only, 2 write only", ""},
	"regionId":                 {"MSG_REGION of send answers", ""},
	"traceOn":                  {"TRACE_ON of send answers", "bool"},
	"registerNameServerPeriod": {"how often the broker re-registers with the name servers", "ms"},
	"enableDLegerCommitLog":    {"run as one replica of a replicated group (Raft): a SEND is acknowledged once a quorum stored it; the leader registers as brokerId 0", "bool"},
	"dLegerGroup":              {"the replicated group's name (default: brokerName)", ""},
	"dLegerPeers":              {"every replica's id and replication address, n0-host:port;n1-host:port;n2-host:port, the same string on every replica", ""},
	"dLegerSelfId":             {"this replica's id in dLegerPeers (n0, n1, ...)", ""},
	"dLegerLeaderAddr":         {"mqstore's own (not RocketMQ's): the group's stable leader address ip:port, the same on every replica; the ready leader binds it, registers it as brokerId 0 and closes it on step-down, so clients reach a new leader without a route change (empty = none)", ""},
	"raftOneFlush":             {"mqstore's own (not RocketMQ's): a replicated group's log makes each append durable with one device cache flush instead of two (raftidx rows written out with sync_file_range before the commitlog's msync); ext4/XFS only; off by default (docs/BENCHMARKS.md: no throughput gain measured on a shared machine)", "bool"},

	"storePathRootDir":            {"data directory (commitlog, consumequeue, index, config)", ""},
	"flushDiskType":               {"ASYNC_FLUSH (flush every flushIntervalCommitLog) or SYNC_FLUSH (acknowledge after the flush)", ""},
	"syncFlushTimeout":            {"SYNC_FLUSH: a send waits this long for its flush, then answers FLUSH_DISK_TIMEOUT", "ms"},
	"flushIntervalCommitLog":      {"ASYNC_FLUSH: commitlog flush period", "ms"},
	"flushIntervalConsumeQueue":   {"consume queue flush and checkpoint period", "ms"},
	"mappedFileSizeCommitLog":     {"commitlog segment size, preallocated on disk (64k at least)", "bytes"},
	"mappedFileSizeConsumeQueue":  {"consume queue file size, a multiple of 20 (one unit per message)", "bytes"},
	"maxMessageSize":              {"largest message body accepted", "bytes"},
	"fileReservedTime":            {"commitlog segments older than this are removed", "hours"},
	"deleteWhen":                  {"RocketMQ's removal hours (\"04\", \"04;16\"); mqstore removes expired files at any hour", ""},
	"diskMaxUsedSpaceRatio":       {"disk usage above which expired files are removed early and readiness fails", "percent"},
	"cleanResourceInterval":       {"how often expired files are looked for", "ms"},
	"commitLogResidentBytes":      {"mqstore's own (not RocketMQ's): keep at most this much flushed commitlog in memory behind the flushed offset, evicting older pages after each flush (rounded to 2 MiB; reads of older records come from disk); helps on VMs that return freed memory to their host (docs/BENCHMARKS.md); 0 = no eviction", "bytes"},
	"grpcServerEnable":            {"serve RocketMQ 5 clients (gRPC MessagingService) beside the remoting port", "bool"},
	"grpcServerIP":                {"IP the gRPC endpoint binds (\"\" = bindAddress)", ""},
	"grpcServerPort":              {"gRPC port (RocketMQ proxy's 8081; 0 = a free port)", ""},
	"timerWheelEnable":            {"timer messages (__STARTDELIVERTIME, TIMER_DELIVER_MS, TIMER_DELAY_SEC/MS) and delay levels on the store's timing wheel; off refuses timer properties", "bool"},
	"timerMaxDelaySec":            {"longest delivery delay a timer message may ask for (RocketMQ's default 3 days)", "seconds"},
	"timerPrecisionMs":            {"tick of the timing wheel: timers fire within this after their time, never before (100 at least)", "ms"},
	"timerRollWindowSlot":         {"roll window in ticks: a timer due later than that after its record was stored has its record appended again (at most every fileReservedTime/2), so retention keeps it; 0: no roll", ""},
	"traceTopicEnable":            {"create RMQ_SYS_TRACE_TOPIC so clients' message traces (WithTrace) are stored and queryable", "bool"},
	"enablePropertyFilter":        {"serve SQL92 subscriptions (filtered on the broker); off refuses them as RocketMQ does (RocketMQ's default is false, mqstore's true)", "bool"},
	"messageIndexEnable":          {"index message keys and unique ids (queryMsgByKey)", "bool"},
	"maxHashSlotNum":              {"hash slots per index file (4 bytes each)", ""},
	"maxIndexNum":                 {"entries per index file (20 bytes each)", ""},
	"flushConsumerOffsetInterval": {"how often consumer offsets and other config files are persisted", "ms"},

	"autoCreateTopicEnable":          {"create a topic on first send", "bool"},
	"autoCreateSubscriptionGroup":    {"create a subscription group on first use", "bool"},
	"defaultTopicQueueNums":          {"queues of an auto-created topic", ""},
	"longPollingEnable":              {"hold an empty pull until a message arrives or it times out", "bool"},
	"shortPollingTimeMills":          {"hold time of an empty pull when long polling is off", "ms"},
	"channelExpiredTimeout":          {"a client silent this long is dropped", "ms"},
	"notifyConsumerIdsChangedEnable": {"tell consumers of a group when its members change (rebalance at once)", "bool"},

	"transactionTimeOut":       {"a half message older than this is checked with its producer", "ms"},
	"transactionCheckInterval": {"period of the transaction check-back", "ms"},
	"transactionCheckMax":      {"checks before a half message is discarded", ""},
	"rejectTransactionMessage": {"refuse transactional messages", "bool"},
	"messageDelayLevel":        {"delay of each level, space-separated, units s m h d", ""},
}

// Doc returns the description of an implemented key.
func Doc(key string) (KeyDoc, bool) {
	d, ok := keyDocs[key]
	return d, ok
}

// RocketMQKeys returns the RocketMQ keys mqstore accepts without implementing them, sorted.
func RocketMQKeys() []string {
	var keys []string
	for k := range rocketmqKeys {
		if _, ok := configKeys[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
