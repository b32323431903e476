package broker

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// Flush disk types (flushDiskType).
const (
	AsyncFlush = "ASYNC_FLUSH"
	SyncFlush  = "SYNC_FLUSH"
)

// DefaultBindAddress is bindAddress's default: loopback only (RocketMQ binds 0.0.0.0).
const DefaultBindAddress = "127.0.0.1"

// DefaultMessageDelayLevel is RocketMQ's messageDelayLevel: 18 delay levels.
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// Config is the broker's configuration. Every field is a RocketMQ broker.conf key (BrokerConfig,
// MessageStoreConfig, NettyServerConfig), named as the key with its first letter upper-cased;
// Set and Get address fields by the key. Durations are kept in the unit RocketMQ's key uses
// (milliseconds, or hours for fileReservedTime) so a broker.conf value means the same here.
type Config struct {
	// Identity and network.
	BrokerClusterName string // brokerClusterName: cluster the broker registers in (DefaultCluster)
	BrokerName        string // brokerName: broker group name in routes (broker-a)
	BrokerID          int64  // brokerId: 0 = master (only masters serve writes)
	BrokerIP1         string // brokerIP1: IP clients reach the broker at, in routes and store hosts (127.0.0.1)
	ListenPort        int    // listenPort: broker TCP port (10911; 0 = pick a free port)
	// BindAddress (bindAddress, NettyServerConfig's key) is the IP every port of the process binds:
	// broker, embedded name server, metrics. RocketMQ's default is 0.0.0.0 (every interface);
	// mqstore's is 127.0.0.1, so nothing is reachable from the network until this is set.
	BindAddress      string
	NamesrvAddr      string // namesrvAddr: name servers to register with, "ip:port;ip:port" ("" = none)
	BrokerPermission int    // brokerPermission: 6 read+write, 4 read only, 2 write only
	RegionID         string // regionId: MSG_REGION ext field of send answers (DefaultRegion)
	TraceOn          bool   // traceOn: TRACE_ON ext field of send answers (true)
	TraceTopicEnable bool   // traceTopicEnable: create RMQ_SYS_TRACE_TOPIC for client traces (true; config_trace.go)
	// RegisterNameServerPeriod is how often the broker re-registers, in ms (30000).
	RegisterNameServerPeriod int64

	// Replicated group (DLedger's keys; replicated.go). EnableDLegerCommitLog makes the broker one
	// replica of the group DLegerGroup (the brokerName by default), whose replicas are DLegerPeers
	// ("n0-host:port;n1-host:port;n2-host:port", replication addresses, the same on every
	// replica) and which this replica is DLegerSelfID ("n1").
	EnableDLegerCommitLog bool
	DLegerGroup           string
	DLegerPeers           string
	DLegerSelfID          string

	// Store.
	StorePathRootDir            string // storePathRootDir: data directory (./data)
	FlushDiskType               string // flushDiskType: ASYNC_FLUSH or SYNC_FLUSH
	SyncFlushTimeout            int64  // syncFlushTimeout, ms (5000)
	FlushIntervalCommitLog      int64  // flushIntervalCommitLog, ms (500)
	FlushIntervalConsumeQueue   int64  // flushIntervalConsumeQueue, ms (1000)
	MappedFileSizeCommitLog     int64  // mappedFileSizeCommitLog, bytes (1 GiB)
	MappedFileSizeConsumeQueue  int64  // mappedFileSizeConsumeQueue, bytes (6000000 = 300,000 units)
	MaxMessageSize              int    // maxMessageSize, bytes (4 MiB)
	FileReservedTime            int    // fileReservedTime, hours (72)
	DeleteWhen                  string // deleteWhen: hours, "04" or "04;16" (see the note on Set)
	DiskMaxUsedSpaceRatio       int    // diskMaxUsedSpaceRatio, percent (75)
	CleanResourceInterval       int64  // cleanResourceInterval, ms (10000)
	CommitLogResidentBytes      int64  // commitLogResidentBytes (mqstore's own), bytes (0 = no eviction)
	MessageIndexEnable          bool   // messageIndexEnable (true)
	MaxHashSlotNum              int    // maxHashSlotNum (5000000)
	MaxIndexNum                 int    // maxIndexNum (20000000)
	FlushConsumerOffsetInterval int64  // flushConsumerOffsetInterval, ms (5000): config files persisted this often

	// Topics, groups and consumers.
	AutoCreateTopicEnable          bool  // autoCreateTopicEnable (true)
	AutoCreateSubscriptionGroup    bool  // autoCreateSubscriptionGroup (true)
	DefaultTopicQueueNums          int   // defaultTopicQueueNums: queues of TBW102 and topics created without a count (8)
	LongPollingEnable              bool  // longPollingEnable (true)
	ShortPollingTimeMills          int64 // shortPollingTimeMills, ms (1000): hold time when long polling is off
	ChannelExpiredTimeout          int64 // channelExpiredTimeout, ms (120000): client dropped after this without heartbeat
	NotifyConsumerIdsChangedEnable bool  // notifyConsumerIdsChangedEnable (true)
	EnablePropertyFilter           bool  // enablePropertyFilter (true; RocketMQ: false): SQL92 subscriptions served

	// Transactions, retry and delay (served by the transaction and retry services).
	TransactionTimeOut       int64  // transactionTimeOut, ms (6000)
	TransactionCheckInterval int64  // transactionCheckInterval, ms (60000)
	TransactionCheckMax      int    // transactionCheckMax (15)
	RejectTransactionMessage bool   // rejectTransactionMessage (false)
	MessageDelayLevel        string // messageDelayLevel

	Security      SecurityConfig // ACL and TLS keys (config_security.go)
	TimerConfig                  // timerWheelEnable, timerMaxDelaySec, timerPrecisionMs (config_timer.go)
	GRPCConfig                   // the gRPC endpoint's keys (config_grpc.go)
	ReplicaConfig                // dLegerLeaderAddr, mqstore's own replicated-group keys (config_replica.go)
}

// DefaultConfig returns RocketMQ's defaults, with brokerName broker-a, brokerIP1 127.0.0.1,
// data under ./data and no name server.
func DefaultConfig() Config {
	return Config{
		BrokerClusterName:        "DefaultCluster",
		BrokerName:               "broker-a",
		BrokerIP1:                "127.0.0.1",
		ListenPort:               10911,
		BindAddress:              DefaultBindAddress,
		BrokerPermission:         6,
		RegionID:                 "DefaultRegion",
		TraceOn:                  true,
		TraceTopicEnable:         true,
		RegisterNameServerPeriod: 30000,

		StorePathRootDir:            "data",
		FlushDiskType:               AsyncFlush,
		SyncFlushTimeout:            5000,
		FlushIntervalCommitLog:      500,
		FlushIntervalConsumeQueue:   1000,
		MappedFileSizeCommitLog:     store.DefaultCommitLogSegmentSize,
		MappedFileSizeConsumeQueue:  6000000,
		MaxMessageSize:              store.DefaultMaxMessageSize,
		FileReservedTime:            72,
		DeleteWhen:                  "04",
		DiskMaxUsedSpaceRatio:       75,
		CleanResourceInterval:       10000,
		MessageIndexEnable:          true,
		MaxHashSlotNum:              5000000,
		MaxIndexNum:                 20000000,
		FlushConsumerOffsetInterval: 5000,

		AutoCreateTopicEnable:          true,
		AutoCreateSubscriptionGroup:    true,
		DefaultTopicQueueNums:          8,
		LongPollingEnable:              true,
		ShortPollingTimeMills:          1000,
		ChannelExpiredTimeout:          120000,
		NotifyConsumerIdsChangedEnable: true,
		EnablePropertyFilter:           true,

		TransactionTimeOut:       6000,
		TransactionCheckInterval: 60000,
		TransactionCheckMax:      15,
		MessageDelayLevel:        DefaultMessageDelayLevel,
		TimerConfig:              defaultTimerConfig(),
		GRPCConfig:               defaultGRPCConfig(),
	}
}

// configKey binds one broker.conf key to its field.
type configKey struct {
	get func(c *Config) string
	set func(c *Config, v string) error
	// isBool marks a boolean key: a bare command-line flag (-autoCreateTopicEnable) sets it true.
	isBool bool
}

func stringKey(f func(c *Config) *string) configKey {
	return configKey{
		get: func(c *Config) string { return *f(c) },
		set: func(c *Config, v string) error { *f(c) = v; return nil },
	}
}

func intKey(f func(c *Config) *int) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.Itoa(*f(c)) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		},
	}
}

func int64Key(f func(c *Config) *int64) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		},
	}
}

func boolKey(f func(c *Config) *bool) configKey {
	return configKey{
		isBool: true,
		get:    func(c *Config) string { return strconv.FormatBool(*f(c)) },
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			*f(c) = b
			return nil
		},
	}
}

// configKeys is the one table of broker.conf keys.
var configKeys = map[string]configKey{
	"brokerClusterName":        stringKey(func(c *Config) *string { return &c.BrokerClusterName }),
	"brokerName":               stringKey(func(c *Config) *string { return &c.BrokerName }),
	"brokerId":                 int64Key(func(c *Config) *int64 { return &c.BrokerID }),
	"brokerIP1":                stringKey(func(c *Config) *string { return &c.BrokerIP1 }),
	"listenPort":               intKey(func(c *Config) *int { return &c.ListenPort }),
	"bindAddress":              stringKey(func(c *Config) *string { return &c.BindAddress }),
	"namesrvAddr":              stringKey(func(c *Config) *string { return &c.NamesrvAddr }),
	"brokerPermission":         intKey(func(c *Config) *int { return &c.BrokerPermission }),
	"regionId":                 stringKey(func(c *Config) *string { return &c.RegionID }),
	"traceOn":                  boolKey(func(c *Config) *bool { return &c.TraceOn }),
	"traceTopicEnable":         boolKey(func(c *Config) *bool { return &c.TraceTopicEnable }),
	"registerNameServerPeriod": millisKey(func(c *Config) *int64 { return &c.RegisterNameServerPeriod }),
	"enableDLegerCommitLog":    boolKey(func(c *Config) *bool { return &c.EnableDLegerCommitLog }),
	"dLegerGroup":              stringKey(func(c *Config) *string { return &c.DLegerGroup }),
	"dLegerPeers":              stringKey(func(c *Config) *string { return &c.DLegerPeers }),
	"dLegerSelfId":             stringKey(func(c *Config) *string { return &c.DLegerSelfID }),

	"storePathRootDir":            stringKey(func(c *Config) *string { return &c.StorePathRootDir }),
	"flushDiskType":               stringKey(func(c *Config) *string { return &c.FlushDiskType }),
	"syncFlushTimeout":            millisKey(func(c *Config) *int64 { return &c.SyncFlushTimeout }),
	"flushIntervalCommitLog":      millisKey(func(c *Config) *int64 { return &c.FlushIntervalCommitLog }),
	"flushIntervalConsumeQueue":   millisKey(func(c *Config) *int64 { return &c.FlushIntervalConsumeQueue }),
	"mappedFileSizeCommitLog":     sizeKey(func(c *Config) *int64 { return &c.MappedFileSizeCommitLog }),
	"mappedFileSizeConsumeQueue":  sizeKey(func(c *Config) *int64 { return &c.MappedFileSizeConsumeQueue }),
	"maxMessageSize":              intSizeKey(func(c *Config) *int { return &c.MaxMessageSize }),
	"fileReservedTime":            hoursKey(func(c *Config) *int { return &c.FileReservedTime }),
	"deleteWhen":                  stringKey(func(c *Config) *string { return &c.DeleteWhen }),
	"diskMaxUsedSpaceRatio":       intKey(func(c *Config) *int { return &c.DiskMaxUsedSpaceRatio }),
	"cleanResourceInterval":       millisKey(func(c *Config) *int64 { return &c.CleanResourceInterval }),
	"commitLogResidentBytes":      sizeKey(func(c *Config) *int64 { return &c.CommitLogResidentBytes }),
	"messageIndexEnable":          boolKey(func(c *Config) *bool { return &c.MessageIndexEnable }),
	"maxHashSlotNum":              intKey(func(c *Config) *int { return &c.MaxHashSlotNum }),
	"maxIndexNum":                 intKey(func(c *Config) *int { return &c.MaxIndexNum }),
	"flushConsumerOffsetInterval": millisKey(func(c *Config) *int64 { return &c.FlushConsumerOffsetInterval }),

	"autoCreateTopicEnable":          boolKey(func(c *Config) *bool { return &c.AutoCreateTopicEnable }),
	"autoCreateSubscriptionGroup":    boolKey(func(c *Config) *bool { return &c.AutoCreateSubscriptionGroup }),
	"defaultTopicQueueNums":          intKey(func(c *Config) *int { return &c.DefaultTopicQueueNums }),
	"longPollingEnable":              boolKey(func(c *Config) *bool { return &c.LongPollingEnable }),
	"shortPollingTimeMills":          millisKey(func(c *Config) *int64 { return &c.ShortPollingTimeMills }),
	"channelExpiredTimeout":          millisKey(func(c *Config) *int64 { return &c.ChannelExpiredTimeout }),
	"notifyConsumerIdsChangedEnable": boolKey(func(c *Config) *bool { return &c.NotifyConsumerIdsChangedEnable }),
	"enablePropertyFilter":           boolKey(func(c *Config) *bool { return &c.EnablePropertyFilter }),

	"transactionTimeOut":       millisKey(func(c *Config) *int64 { return &c.TransactionTimeOut }),
	"transactionCheckInterval": millisKey(func(c *Config) *int64 { return &c.TransactionCheckInterval }),
	"transactionCheckMax":      intKey(func(c *Config) *int { return &c.TransactionCheckMax }),
	"rejectTransactionMessage": boolKey(func(c *Config) *bool { return &c.RejectTransactionMessage }),
	"messageDelayLevel":        stringKey(func(c *Config) *string { return &c.MessageDelayLevel }),
}

// Keys returns every broker.conf key Set accepts, sorted.
func Keys() []string {
	keys := make([]string, 0, len(configKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Set sets the field of a broker.conf key from its string value (surrounding blanks ignored).
// It fails with ErrUnknownKey for a key it does not know and ErrBadConfig for a value that does
// not parse; Validate checks ranges. Note: deleteWhen is accepted and validated, but the store
// removes expired segments at any hour (every cleanResourceInterval), not only at those hours.
func (c *Config) Set(key, value string) error {
	k, ok := configKeys[key]
	if !ok {
		return fmt.Errorf("%w: %q%s", ErrUnknownKey, key, Suggest(key))
	}
	if err := k.set(c, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrBadConfig, key, value, err)
	}
	return nil
}

// Get returns the value of a broker.conf key as Set accepts it, or ErrUnknownKey.
func (c *Config) Get(key string) (string, error) {
	k, ok := configKeys[key]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, key)
	}
	return k.get(c), nil
}

// Validate reports the first invalid value, wrapped in ErrBadConfig.
func (c *Config) Validate() error {
	bad := func(key string, why string) error {
		v, _ := c.Get(key)
		return fmt.Errorf("%w: %s=%q: %s", ErrBadConfig, key, v, why)
	}
	switch {
	case c.BrokerName == "":
		return bad("brokerName", "empty")
	case c.BrokerClusterName == "":
		return bad("brokerClusterName", "empty")
	case c.BrokerID < 0:
		return bad("brokerId", "negative")
	case c.ListenPort < 0 || c.ListenPort > 65535:
		return bad("listenPort", "not a port")
	case c.StorePathRootDir == "":
		return bad("storePathRootDir", "empty")
	case c.EnableDLegerCommitLog && (c.DLegerPeers == "" || c.DLegerSelfID == ""):
		return bad("enableDLegerCommitLog", "a replicated group needs dLegerPeers and dLegerSelfId")
	case c.FlushDiskType != AsyncFlush && c.FlushDiskType != SyncFlush:
		return bad("flushDiskType", "want ASYNC_FLUSH or SYNC_FLUSH")
	case c.SyncFlushTimeout <= 0:
		return bad("syncFlushTimeout", "must be positive")
	case c.FlushIntervalCommitLog <= 0:
		return bad("flushIntervalCommitLog", "must be positive")
	case c.FlushIntervalConsumeQueue <= 0:
		return bad("flushIntervalConsumeQueue", "must be positive")
	case c.MappedFileSizeCommitLog < 64<<10:
		return bad("mappedFileSizeCommitLog", "below 64 KiB")
	case c.MappedFileSizeConsumeQueue < 20 || c.MappedFileSizeConsumeQueue%20 != 0:
		return bad("mappedFileSizeConsumeQueue", "must be a positive multiple of 20")
	case c.MaxMessageSize <= 0 || int64(c.MaxMessageSize) > c.MappedFileSizeCommitLog/2:
		return bad("maxMessageSize", "must be positive and at most half a commitlog file")
	case c.FileReservedTime <= 0:
		return bad("fileReservedTime", "must be positive")
	case c.DiskMaxUsedSpaceRatio < 10 || c.DiskMaxUsedSpaceRatio > 95:
		return bad("diskMaxUsedSpaceRatio", "must be within 10..95")
	case c.CleanResourceInterval <= 0:
		return bad("cleanResourceInterval", "must be positive")
	case c.CommitLogResidentBytes < 0:
		return bad("commitLogResidentBytes", "must be 0 (no eviction) or positive")
	case c.MaxHashSlotNum <= 0:
		return bad("maxHashSlotNum", "must be positive")
	case c.MaxIndexNum <= 0:
		return bad("maxIndexNum", "must be positive")
	case c.FlushConsumerOffsetInterval <= 0:
		return bad("flushConsumerOffsetInterval", "must be positive")
	case c.DefaultTopicQueueNums <= 0 || c.DefaultTopicQueueNums > maxQueueNums:
		return bad("defaultTopicQueueNums", fmt.Sprintf("must be within 1..%d", maxQueueNums))
	case c.ShortPollingTimeMills <= 0:
		return bad("shortPollingTimeMills", "must be positive")
	case c.ChannelExpiredTimeout <= 0:
		return bad("channelExpiredTimeout", "must be positive")
	case c.RegisterNameServerPeriod <= 0:
		return bad("registerNameServerPeriod", "must be positive")
	case c.BrokerPermission&^7 != 0:
		return bad("brokerPermission", "only bits 1, 2 and 4")
	case c.TransactionTimeOut <= 0:
		return bad("transactionTimeOut", "must be positive")
	case c.TransactionCheckInterval <= 0:
		return bad("transactionCheckInterval", "must be positive")
	case c.TransactionCheckMax <= 0:
		return bad("transactionCheckMax", "must be positive")
	}
	if _, err := netip.ParseAddr(c.BrokerIP1); err != nil {
		return bad("brokerIP1", "not an IP address")
	}
	if _, err := netip.ParseAddr(c.BindAddress); err != nil {
		return bad("bindAddress", "not an IP address (127.0.0.1 = this machine only, 0.0.0.0 or :: = every interface)")
	}
	if err := c.validateGRPC(); err != nil {
		return err
	}
	if err := c.validateReplica(); err != nil {
		return err
	}
	if _, err := parseDeleteWhen(c.DeleteWhen); err != nil {
		return bad("deleteWhen", err.Error())
	}
	if _, err := ParseDelayLevels(c.MessageDelayLevel); err != nil {
		return bad("messageDelayLevel", err.Error())
	}
	if err := c.validateTimer(); err != nil {
		return err
	}
	for _, a := range splitAddrs(c.NamesrvAddr) {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return bad("namesrvAddr", "want ip:port[;ip:port]")
		}
	}
	return c.Security.validate()
}

// parseDeleteWhen parses deleteWhen: hours of the day separated by ';'.
func parseDeleteWhen(s string) ([]int, error) {
	var hours []int
	for _, p := range strings.Split(s, ";") {
		h, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || h < 0 || h > 23 {
			return nil, fmt.Errorf("hour %q not within 00..23", p)
		}
		hours = append(hours, h)
	}
	return hours, nil
}

// ParseDelayLevels parses messageDelayLevel ("1s 5s 10s 30s 1m ... 2h"; units s, m, h, d) into
// the delays of levels 1, 2, ...
func ParseDelayLevels(s string) ([]time.Duration, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("no levels")
	}
	out := make([]time.Duration, 0, len(fields))
	for _, f := range fields {
		if len(f) < 2 {
			return nil, fmt.Errorf("bad level %q", f)
		}
		var unit time.Duration
		switch f[len(f)-1] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return nil, fmt.Errorf("bad unit in level %q (want s, m, h or d)", f)
		}
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 32)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad level %q", f)
		}
		out = append(out, time.Duration(n)*unit)
	}
	return out, nil
}

// splitAddrs splits a namesrvAddr value on ';', dropping blanks.
func splitAddrs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ms converts a millisecond key to a Duration.
func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// StoreOptions returns the store options the configuration implies (OnArrival and StoreHost are
// set by the broker).
func (c *Config) StoreOptions() store.Options {
	mode := commitlog.AsyncFlush
	if c.FlushDiskType == SyncFlush {
		mode = commitlog.SyncFlush
	}
	levels, _ := ParseDelayLevels(c.MessageDelayLevel) // Validate rejects a bad value
	return store.Options{
		FlushMode:              mode,
		FlushInterval:          ms(c.FlushIntervalCommitLog),
		SyncFlushTimeout:       ms(c.SyncFlushTimeout),
		CommitLogSegmentSize:   c.MappedFileSizeCommitLog,
		ConsumeQueueUnits:      int(c.MappedFileSizeConsumeQueue / 20),
		IndexHashSlots:         c.MaxHashSlotNum,
		IndexMaxEntries:        c.MaxIndexNum,
		DisableIndex:           !c.MessageIndexEnable,
		MaxMessageSize:         c.MaxMessageSize,
		FileReservedTime:       time.Duration(c.FileReservedTime) * time.Hour,
		CleanInterval:          ms(c.CleanResourceInterval),
		CommitLogResidentBytes: c.CommitLogResidentBytes,
		CheckpointInterval:     ms(c.FlushIntervalConsumeQueue),
		DiskMaxUsedRatio:       float64(c.DiskMaxUsedSpaceRatio) / 100,
		DelayLevels:            levels,
		Timer:                  c.timerOptions(),
		Transactions: txn.Options{
			TransactionTimeout: ms(c.TransactionTimeOut),
			CheckInterval:      ms(c.TransactionCheckInterval),
			CheckMax:           c.TransactionCheckMax,
			FileReservedTime:   time.Duration(c.FileReservedTime) * time.Hour,
		},
	}
}

// configDir is <storePathRootDir>/config.
func (c *Config) configDir() string { return filepath.Join(c.StorePathRootDir, "config") }
