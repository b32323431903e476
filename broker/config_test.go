package broker

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/commitlog"
)

func TestConfigSetGet(t *testing.T) {
	tests := []struct {
		key, value, want string
	}{
		{"brokerName", "broker-b", "broker-b"},
		{"brokerClusterName", "C1", "C1"},
		{"brokerId", "0", "0"},
		{"brokerIP1", " 10.0.0.5 ", "10.0.0.5"},
		{"listenPort", "20911", "20911"},
		{"bindAddress", "0.0.0.0", "0.0.0.0"},
		{"namesrvAddr", "127.0.0.1:9876;127.0.0.2:9876", "127.0.0.1:9876;127.0.0.2:9876"},
		{"storePathRootDir", "/tmp/x", "/tmp/x"},
		{"flushDiskType", "SYNC_FLUSH", "SYNC_FLUSH"},
		{"syncFlushTimeout", "1000", "1000"},
		{"mappedFileSizeCommitLog", "104857600", "104857600"},
		{"mappedFileSizeConsumeQueue", "600000", "600000"},
		{"maxMessageSize", "65536", "65536"},
		{"fileReservedTime", "48", "48"},
		{"deleteWhen", "04;16", "04;16"},
		{"diskMaxUsedSpaceRatio", "80", "80"},
		{"autoCreateTopicEnable", "false", "false"},
		{"autoCreateSubscriptionGroup", "FALSE", "false"},
		{"defaultTopicQueueNums", "4", "4"},
		{"longPollingEnable", "false", "false"},
		{"shortPollingTimeMills", "500", "500"},
		{"messageIndexEnable", "false", "false"},
		{"maxHashSlotNum", "1000", "1000"},
		{"maxIndexNum", "4000", "4000"},
		{"brokerPermission", "4", "4"},
		{"transactionTimeOut", "3000", "3000"},
		{"transactionCheckInterval", "30000", "30000"},
		{"transactionCheckMax", "5", "5"},
		{"rejectTransactionMessage", "true", "true"},
		{"messageDelayLevel", "1s 2m 3h 1d", "1s 2m 3h 1d"},
	}
	cfg := DefaultConfig()
	for _, tt := range tests {
		if err := cfg.Set(tt.key, tt.value); err != nil {
			t.Fatalf("Set(%s, %q): %v", tt.key, tt.value, err)
		}
		if got, err := cfg.Get(tt.key); err != nil || got != tt.want {
			t.Fatalf("Get(%s) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerName != "broker-b" || cfg.ListenPort != 20911 || !cfg.RejectTransactionMessage || cfg.FileReservedTime != 48 {
		t.Fatalf("fields not set: %+v", cfg)
	}
}

func TestConfigSetErrors(t *testing.T) {
	cfg := DefaultConfig()
	err := cfg.Set("brokerNmae", "x")
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "brokerNmae") {
		t.Fatalf("unknown key: %v", err)
	}
	for _, kv := range [][2]string{{"listenPort", "x"}, {"autoCreateTopicEnable", "yes please"}, {"brokerId", "1.5"}} {
		if err := cfg.Set(kv[0], kv[1]); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), kv[0]) {
			t.Fatalf("Set(%s, %s): %v", kv[0], kv[1], err)
		}
	}
	if _, err := cfg.Get("nope"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Get(nope): %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (&Config{}).Validate(); err == nil {
		t.Fatal("zero config validated")
	}
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct{ key, value string }{
		{"flushDiskType", "SOMETIMES"},
		{"brokerIP1", "localhost"},
		{"listenPort", "70000"},
		{"mappedFileSizeConsumeQueue", "30"},
		{"maxMessageSize", "0"},
		{"deleteWhen", "25"},
		{"messageDelayLevel", "1s 5x"},
		{"namesrvAddr", "namesrv:9876"},
		{"diskMaxUsedSpaceRatio", "99"},
		{"defaultTopicQueueNums", "0"},
		{"brokerPermission", "8"},
		{"storePathRootDir", ""},
		{"bindAddress", "localhost"},
		{"bindAddress", ""},
		{"commitLogResidentBytes", "-1"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		if err := cfg.Set(tt.key, tt.value); err != nil {
			t.Fatalf("Set(%s): %v", tt.key, err)
		}
		err := cfg.Validate()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.key) {
			t.Fatalf("%s=%q: %v", tt.key, tt.value, err)
		}
	}
}

func TestConfigKeys(t *testing.T) {
	keys := Keys()
	if !slices.IsSorted(keys) {
		t.Fatal("Keys not sorted")
	}
	cfg := DefaultConfig()
	for _, k := range keys {
		v, err := cfg.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Set(k, v); err != nil {
			t.Fatalf("Set(%s, Get(%s)=%q): %v", k, k, v, err)
		}
	}
	if cfg != DefaultConfig() {
		t.Fatal("Get/Set round trip changed the config")
	}
	for _, k := range []string{"brokerName", "brokerClusterName", "brokerId", "brokerIP1", "listenPort", "namesrvAddr",
		"storePathRootDir", "flushDiskType", "syncFlushTimeout", "mappedFileSizeCommitLog", "mappedFileSizeConsumeQueue",
		"maxMessageSize", "fileReservedTime", "deleteWhen", "diskMaxUsedSpaceRatio", "autoCreateTopicEnable",
		"autoCreateSubscriptionGroup", "defaultTopicQueueNums", "longPollingEnable", "shortPollingTimeMills",
		"messageIndexEnable", "maxHashSlotNum", "maxIndexNum", "brokerPermission", "transactionTimeOut",
		"transactionCheckInterval", "transactionCheckMax", "rejectTransactionMessage", "messageDelayLevel"} {
		if !slices.Contains(keys, k) {
			t.Fatalf("Keys lacks %s", k)
		}
	}
}

func TestParseDelayLevels(t *testing.T) {
	levels, err := ParseDelayLevels(DefaultMessageDelayLevel)
	if err != nil || len(levels) != 18 || levels[0] != time.Second || levels[17] != 2*time.Hour {
		t.Fatalf("%v %v", levels, err)
	}
	for _, bad := range []string{"", "5", "0s", "-1m", "1w", "s"} {
		if _, err := ParseDelayLevels(bad); err == nil {
			t.Fatalf("%q parsed", bad)
		}
	}
}

func TestStoreOptions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlushDiskType = SyncFlush
	cfg.MessageIndexEnable = false
	o := cfg.StoreOptions()
	if o.FlushMode != commitlog.SyncFlush || !o.DisableIndex || o.ConsumeQueueUnits != 300000 ||
		o.FileReservedTime != 72*time.Hour || o.SyncFlushTimeout != 5*time.Second || o.DiskMaxUsedRatio != 0.75 {
		t.Fatalf("%+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// Transactions and delay levels.
	cfg.TransactionTimeOut, cfg.TransactionCheckInterval, cfg.TransactionCheckMax = 1000, 200, 5
	cfg.MessageDelayLevel = "1s 2m 3h"
	o = cfg.StoreOptions()
	tx := o.Transactions
	if tx.TransactionTimeout != time.Second || tx.CheckInterval != 200*time.Millisecond || tx.CheckMax != 5 ||
		tx.FileReservedTime != 72*time.Hour {
		t.Fatalf("transactions %+v", tx)
	}
	if len(o.DelayLevels) != 3 || o.DelayLevels[0] != time.Second || o.DelayLevels[2] != 3*time.Hour {
		t.Fatalf("delay levels %v", o.DelayLevels)
	}
	// mqstore's page eviction behind the flushed offset, off by default.
	if o.CommitLogResidentBytes != 0 {
		t.Fatalf("default commitLogResidentBytes %d", o.CommitLogResidentBytes)
	}
	if err := cfg.Set("commitLogResidentBytes", "256m"); err != nil {
		t.Fatal(err)
	}
	if o = cfg.StoreOptions(); o.CommitLogResidentBytes != 256<<20 {
		t.Fatalf("commitLogResidentBytes=256m: %d", o.CommitLogResidentBytes)
	}
}
