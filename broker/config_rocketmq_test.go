package broker

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigApply(t *testing.T) {
	tests := []struct {
		key, value string
		notice     string // substring of the notice; "" = no notice
		err        error
		errText    string
	}{
		{"brokerName", "b", "", nil, ""},
		{"deleteWhen", "04", "any hour", nil, ""},
		{"brokerRole", "ASYNC_MASTER", "", nil, ""},
		{"brokerRole", "SYNC_MASTER", "single master", nil, ""},
		{"brokerRole", "SLAVE", "", ErrRefusedKey, "only as a master"},
		{"brokerRole", "LEADER", "", ErrRefusedKey, "ASYNC_MASTER or SYNC_MASTER"},
		{"enableDLegerCommitLog", "true", "", nil, ""},
		{"enableDLegerCommitLog", "false", "", nil, ""},
		{"enableControllerMode", "true", "", ErrRefusedKey, "controller"},
		{"aclEnable", "true", "", nil, ""},
		{"aclEnable", "false", "", nil, ""},
		{"authenticationEnabled", "true", "", ErrRefusedKey, "not ACL 2.0"},
		{"brokerIP2", "10.0.0.2", "brokerIP1 is its only address", nil, ""},
		{"haListenPort", "10912", "no HA port", nil, ""},
		{"slaveReadEnable", "true", "single master", nil, ""},
		{"sendMessageThreadPoolNums", "16", "worker pools", nil, ""},
		{"dLegerPeers", "n0-127.0.0.1:40911", "", nil, ""},
		{"timerWheelEnable", "true", "", nil, ""},
		{"transientStorePoolEnable", "true", "transient store pool", nil, ""},
		{"serverSocketSndBufSize", "65535", "TCP server", nil, ""},
		{"storePathCommitLog", "data/commitlog", "", nil, ""},
		{"storePathCommitLog", "/elsewhere/commitlog", "", ErrRefusedKey, "storePathRootDir"},
		{"flushDiskTyp", "ASYNC_FLUSH", "", ErrUnknownKey, `did you mean "flushDiskType"`},
		{"fileReserverdTime", "48", "", ErrUnknownKey, `did you mean "fileReservedTime"`},
		{"BrokerName", "x", "", ErrUnknownKey, `did you mean "brokerName"`},
		{"completelyDifferentThing", "x", "", ErrUnknownKey, ""},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		notice, err := cfg.Apply(tt.key, tt.value)
		if tt.err != nil {
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Apply(%s=%s) = %v; want %v containing %q", tt.key, tt.value, err, tt.err, tt.errText)
			}
			continue
		}
		if err != nil {
			t.Errorf("Apply(%s=%s): %v", tt.key, tt.value, err)
			continue
		}
		if (tt.notice == "") != (notice == "") || !strings.Contains(notice, tt.notice) {
			t.Errorf("Apply(%s=%s) notice %q; want %q", tt.key, tt.value, notice, tt.notice)
		}
	}
	if err := (&Config{}).Set("completelyDifferentThing", "x"); strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a far key got a suggestion: %v", err)
	}
}

// TestRocketMQKeysAreNotImplemented keeps the two tables apart and every category explained.
func TestRocketMQKeysAreNotImplemented(t *testing.T) {
	for k, cat := range rocketmqKeys {
		if _, ok := configKeys[k]; ok {
			t.Errorf("%s is in both configKeys and rocketmqKeys", k)
		}
		if instead[cat] == "" {
			t.Errorf("%s: category %d has no explanation", k, cat)
		}
	}
	// Keys of RocketMQ's shipped conf files and docs.
	for _, k := range []string{"brokerRole", "brokerIP2", "haListenPort", "storePathCommitLog", "slaveReadEnable",
		"aclEnable", "enableDLegerCommitLog", "dLegerGroup", "dLegerPeers", "dLegerSelfId", "sendMessageThreadPoolNums",
		"autoTraceBrokerEnable", "enableControllerMode", "controllerAddr", "allAckInSyncStateSet", "totalReplicas",
		"inSyncReplicas", "minInSyncReplicas", "enableAutoInSyncReplicas", "brokerHeartbeatInterval",
		"brokerNotActiveTimeoutMillis", "sendHeartbeatTimeoutMillis", "enableSlaveActingMaster", "brokerConfigPaths",
		"fetchNamesrvAddrByAddressServer", "storePathConsumerQueue", "traceTopicEnable", "msgTraceTopicName"} {
		if !Known(k) {
			t.Errorf("%s is not known", k)
		}
	}
}

func TestConfigKeyDocs(t *testing.T) {
	for _, k := range Keys() {
		if d, ok := Doc(k); !ok || d.Meaning == "" {
			t.Errorf("%s has no description", k)
		}
	}
	for k := range keyDocs {
		if _, ok := configKeys[k]; !ok {
			t.Errorf("description of %s, which is not a key", k)
		}
	}
}

func TestConfigValueForms(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"fileReservedTime", "72h", "72"},
		{"fileReservedTime", "48", "48"},
		{"syncFlushTimeout", "5s", "5000"},
		{"transactionCheckInterval", "1m30s", "90000"},
		{"flushIntervalCommitLog", "500ms", "500"},
		{"flushIntervalCommitLog", "200", "200"},
		{"mappedFileSizeCommitLog", "1g", "1073741824"},
		{"mappedFileSizeCommitLog", "512M", "536870912"},
		{"mappedFileSizeCommitLog", "64KiB", "65536"},
		{"mappedFileSizeCommitLog", "2GB", "2147483648"},
		{"maxMessageSize", "4m", "4194304"},
		{"mappedFileSizeConsumeQueue", "6000000", "6000000"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		if err := cfg.Set(tt.key, tt.value); err != nil {
			t.Errorf("Set(%s, %s): %v", tt.key, tt.value, err)
			continue
		}
		if got, _ := cfg.Get(tt.key); got != tt.want {
			t.Errorf("Set(%s, %s): Get = %s, want %s", tt.key, tt.value, got, tt.want)
		}
	}
	for _, bad := range [][2]string{{"fileReservedTime", "90m"}, {"fileReservedTime", "3d"}, {"syncFlushTimeout", "1us"},
		{"mappedFileSizeCommitLog", "1x"}, {"mappedFileSizeCommitLog", "g"}, {"maxMessageSize", "4g"}, {"syncFlushTimeout", "soon"}} {
		cfg := DefaultConfig()
		if err := cfg.Set(bad[0], bad[1]); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Set(%s, %s) = %v, want ErrBadConfig", bad[0], bad[1], err)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"flushDiskTyp", "flushDiskType", 1}, {"brokerNmae", "brokerName", 1},
		{"abc", "", 3}, {"kitten", "sitting", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}
