package fastjsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// Bodies as RocketMQ's broker writes them (fastjson: MessageQueue keys unquoted).
const (
	seedTopicStats = `{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":12,"minOffset":0},` +
		`{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":3,"minOffset":3}}}`
	seedConsumeStats = `{"consumeTps":0.0,"offsetTable":{{"brokerName":"b\"}","queueId":0,"topic":"%RETRY%g"}:{"brokerOffset":12,"consumerOffset":10,"lastTimestamp":1}}}`
)

func TestQuote(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		err            bool
	}{
		{"object keys", `{"t":{{"a":1}:2, {"b":[1,{"c":"}"}]} : 3}}`, `{"t":{"{\"a\":1}":2, "{\"b\":[1,{\"c\":\"}\"}]}" : 3}}`, false},
		{"number keys", `{"offsetTable":{"T@g":{0:12,1:34}}}`, `{"offsetTable":{"T@g":{"0":12,"1":34}}}`, false},
		{"valid JSON unchanged", `{"a":[{"b":"{x}:"},[],{}],"c":null}`, `{"a":[{"b":"{x}:"},[],{}],"c":null}`, false},
		{"unbalanced", `{"a":[}`, "", true},
		{"open", `{"a":{`, "", true},
		{"key not closed", `{{"a":1:2}`, "", true},
		{"string not closed", `{"a`, "", true},
		{"empty key", `{:1}`, "", true},
		{"deep", string(bytes.Repeat([]byte("["), MaxDepth+1)), "", true},
	} {
		got, err := Quote([]byte(tt.in))
		if (err != nil) != tt.err || string(got) != tt.want {
			t.Errorf("%s: %s %v, want %s (error %v)", tt.name, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", tt.name, err)
		}
	}
}

// FuzzQuote: never panics, valid JSON comes back unchanged, and what it accepts
// from fastjson-shaped input decodes.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{seedTopicStats, seedConsumeStats, `{"offsetTable":{"T@g":{0:12}}}`, `[]`, `{}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Quote(b)
		if json.Valid(b) {
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("valid JSON %q changed: %q %v", b, out, err)
			}
		}
		if err == nil && !json.Valid(out) {
			var v any
			_ = json.Unmarshal(out, &v) // accepted text must at least not crash a decoder
		}
	})
}
