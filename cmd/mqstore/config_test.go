package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/broker"
)

// TestConfigProblemsAllAtOnce: every problem of the file, the environment and the flags is in
// one error, each with its source and, for typos, the nearest key.
func TestConfigProblemsAllAtOnce(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	os.WriteFile(conf, []byte("brokerName=b\nflushDiskTyp=SYNC_FLUSH\nbrokerRole=SLAVE\njustakey\nfileReserverdTime=48\n"), 0o644)
	code, _, stderr := runCapture([]string{"-c", conf, "-listenPort", "many", "-brokerNmae", "x"}, []string{"MQSTORE_LISTEN_PORT=1"})
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{
		conf + `:2: broker: unknown config key: "flushDiskTyp" (did you mean "flushDiskType"?)`,
		conf + ":3: broker: config key refused: brokerRole=SLAVE",
		conf + `:5: broker: unknown config key: "fileReserverdTime" (did you mean "fileReservedTime"?)`,
		"flag -listenPort: broker: bad config value",
		"flag -brokerNmae: unknown flag (did you mean -brokerName?)",
		"6 configuration problems",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stderr, `"justakey" is not key=value`) {
		t.Errorf("malformed line not reported:\n%s", stderr)
	}
}

func TestUnknownEnvironmentWarns(t *testing.T) {
	s, err := loadSettings(nil, []string{"MQSTORE_BIN=/usr/bin/mqstore", "MQSTORE_TXN_LONG=1", "MQSTORE_BROKER_NMAE=x",
		"MQSTORE_BROKER_IP1=10.1.2.3", "MQSTORE_BROKER_IP2=10.1.2.4", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range s.notices {
		got[n.key] = n.text
	}
	if len(got) != 4 || !strings.Contains(got["MQSTORE_BIN"], "not an mqstore setting") ||
		!strings.Contains(got["MQSTORE_BROKER_NMAE"], "did you mean MQSTORE_BROKER_NAME?") ||
		!strings.Contains(got["brokerIP2"], "brokerIP1 is its only address") || got["MQSTORE_TXN_LONG"] == "" {
		t.Fatalf("notices %v", got)
	}
	if s.broker.BrokerIP1 != "10.1.2.3" {
		t.Fatalf("MQSTORE_BROKER_IP1 not applied: %s", s.broker.BrokerIP1)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{"storePathRootDir": "MQSTORE_STORE_PATH_ROOT_DIR", "brokerIP1": "MQSTORE_BROKER_IP1",
		"namesrvAddr": "MQSTORE_NAMESRV_ADDR", "brokerId": "MQSTORE_BROKER_ID", "dLegerGroup": "MQSTORE_D_LEGER_GROUP"} {
		if got := envName(key); got != want {
			t.Errorf("envName(%s) = %s, want %s", key, got, want)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}} {
		code, out, stderr := runCapture(args, nil)
		if code != 0 || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		for _, k := range broker.Keys() {
			d, _ := broker.Doc(k)
			if !strings.Contains(out, "  -"+k) || !strings.Contains(out, d.Meaning) {
				t.Errorf("%v: no line for %s", args, k)
			}
		}
		for _, want := range []string{"fileReservedTime value\n      commitlog segments older than this are removed (hours, or a duration like 72h; default 72)",
			"-autoCreateTopicEnable\n      create a topic on first send (default true)", "bindAddress", "brokerRole=SLAVE"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q", args, want)
			}
		}
	}
	for _, args := range [][]string{{"-version"}, {"namesrv", "-version"}} {
		code, out, _ := runCapture(args, nil)
		if code != 0 || !strings.HasPrefix(out, "mqstore ") || !strings.Contains(out, " commit ") || !strings.Contains(out, "go1.") {
			t.Fatalf("%v: exit %d, %q", args, code, out)
		}
	}
}

// TestFlagForms: bare booleans, Go durations and sizes, -key=value and --key.
func TestFlagForms(t *testing.T) {
	code, out, stderr := runCapture([]string{"-print-config", "-rejectTransactionMessage", "--fileReservedTime", "72h",
		"-mappedFileSizeCommitLog=512m", "-syncFlushTimeout", "2s", "-longPollingEnable", "false", "-messageIndexEnable=false"}, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"rejectTransactionMessage=true\t# flag", "fileReservedTime=72\t# flag",
		"mappedFileSizeCommitLog=536870912\t# flag", "syncFlushTimeout=2000\t# flag", "longPollingEnable=false\t# flag",
		"messageIndexEnable=false\t# flag"} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q", want)
		}
	}
}

// TestNameServerChoice: where the embedded name server listens, if anywhere.
func TestNameServerChoice(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "namesrv-listen=127.0.0.1:9876 "},
		{[]string{"-bindAddress", "0.0.0.0"}, "namesrv-listen=0.0.0.0:9876 "},
		{[]string{"-namesrvAddr", "10.0.0.1:9876;10.0.0.2:9876"}, "namesrv-listen=(none) "},
		{[]string{"-namesrvAddr", "10.0.0.1:9876", "-namesrv-listen", ":19876"}, "namesrv-listen=127.0.0.1:19876 "},
		{[]string{"-namesrv-listen", ""}, "namesrv-listen=(none) "},
		{nil, "metrics-addr=127.0.0.1:5557 "},
		{[]string{"-bindAddress", "::1", "-metrics-addr", ":6000"}, "metrics-addr=[::1]:6000 "},
	}
	for _, tt := range tests {
		code, out, stderr := runCapture(append([]string{"-print-config"}, tt.args...), nil)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d %s; want %q in\n%s", tt.args, code, stderr, tt.want, out)
		}
	}
}
