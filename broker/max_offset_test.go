package broker

import (
	"testing"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestGetMaxOffset(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("MaxT", 3)
	tests := []struct {
		args []string
		code remoting.ResponseCode
		want int64
	}{
		{[]string{"topic", "MaxT", "queueId", "0"}, remoting.ResponseSuccess, 3},
		{[]string{"topic", "MaxT", "queueId", "1"}, remoting.ResponseSuccess, 0},
		{[]string{"topic", "Nope", "queueId", "0"}, remoting.ResponseSuccess, 0},
		{[]string{"topic", "MaxT"}, remoting.ResponseSystemError, 0}, // offset still present
	}
	for _, tt := range tests {
		resp := tb.call(remoting.RequestGetMaxOffset, nil, tt.args...)
		expect(t, resp, tt.code)
		if got := extInt(t, resp, protocol.FieldOffset); got != tt.want {
			t.Fatalf("%v: offset %d, want %d", tt.args, got, tt.want)
		}
	}
}
