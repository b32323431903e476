package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// groupConfigs returns the broker's group configs (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
func groupConfigs(t *testing.T, tb *testBroker) map[string]GroupConfig {
	t.Helper()
	resp := tb.call(remoting.RequestGetAllSubscriptionGroupConfig, nil)
	expect(t, resp, remoting.ResponseSuccess)
	var f groupsFileContent
	if err := json.Unmarshal(resp.Body, &f); err != nil {
		t.Fatal(err)
	}
	return f.SubscriptionGroupTable
}

// groupsOnDisk reads subscriptionGroup.json.
func groupsOnDisk(t *testing.T, tb *testBroker) map[string]GroupConfig {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tb.cfg.configDir(), subscriptionFile))
	if err != nil {
		t.Fatal(err)
	}
	var f groupsFileContent
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.SubscriptionGroupTable
}

func TestUpdateAndCreateSubscriptionGroup(t *testing.T) {
	tb := startBroker(t, nil)
	// Missing fields keep RocketMQ's defaults.
	expect(t, tb.call(remoting.RequestUpdateAndCreateSubscriptionGroup,
		[]byte(`{"groupName":"G1","retryMaxTimes":3,"consumeEnable":false}`)), remoting.ResponseSuccess)
	want := defaultGroupConfig("G1")
	want.RetryMaxTimes, want.ConsumeEnable = 3, false
	if got := groupConfigs(t, tb)["G1"]; got != want {
		t.Fatalf("config %+v, want %+v", got, want)
	}
	// Durable before the reply: the file holds it already.
	if got := groupsOnDisk(t, tb)["G1"]; got != want {
		t.Fatalf("subscriptionGroup.json holds %+v, want %+v", got, want)
	}
	// Pulls of a group with consumeEnable=false are refused.
	tb.send("GT", 0, "m", nil)
	resp := tb.call(remoting.RequestPullMessage, nil, "consumerGroup", "G1", "topic", "GT", "queueId", "0",
		"queueOffset", "0", "maxMsgNums", "1", "sysFlag", "0", "commitOffset", "0", "suspendTimeoutMillis", "0",
		"subscription", "*", "subVersion", "0")
	expect(t, resp, remoting.ResponseNoPermission)
	// An update replaces the config.
	expect(t, tb.call(remoting.RequestUpdateAndCreateSubscriptionGroup,
		[]byte(`{"groupName":"G1","retryMaxTimes":5}`)), remoting.ResponseSuccess)
	if got := groupConfigs(t, tb)["G1"]; got.RetryMaxTimes != 5 || !got.ConsumeEnable {
		t.Fatalf("updated config %+v", got)
	}

	for _, body := range []string{`not json`, `{"retryMaxTimes":1}`, `{"groupName":"bad name"}`, `{"groupName":"G2","retryQueueNums":-1}`} {
		expect(t, tb.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(body)), remoting.ResponseInvalidParameter)
	}
	if _, ok := groupConfigs(t, tb)["G2"]; ok {
		t.Fatal("a refused config was stored")
	}
}
