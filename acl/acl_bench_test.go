package acl

import (
	"os"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// BenchmarkCheck is the broker-side cost of one signed SEND_MESSAGE_V2 with a 1 KiB body:
// signature recomputation and the permission lookup.
func BenchmarkCheck(b *testing.B) {
	data, err := os.ReadFile("testdata/plain_acl.yml")
	if err != nil {
		b.Fatal(err)
	}
	rules, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	cmd := &remoting.Command{Body: body}
	for _, kv := range [][2]string{{"a", "pg"}, {"b", "topicB"}, {"c", "TBW102"}, {"d", "4"}, {"e", "0"}, {"f", "0"},
		{"g", "1700000000000"}, {"h", "0"}, {"i", "UNIQ_KEY\x01abc\x02WAIT\x01true\x02"}, {"j", "0"}, {"k", "false"}, {"m", "false"}} {
		cmd.SetExt(kv[0], kv[1])
	}
	SignCommand(cmd, "RocketMQ", "12345678", "")
	req := &Request{Code: remoting.RequestSendMessageV2, Fields: cmd.ExtFields, Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if d := rules.validate(req); d != nil {
			b.Fatal(d)
		}
	}
}
