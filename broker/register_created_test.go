package broker

import (
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// TestSendRegistersCreatedTopicBeforeReply: a send that auto-creates its topic is answered only
// once the name server holds the topic (RocketMQ's broker registers synchronously there too), so
// a consumer started right after the first message finds the route. The periodic registration,
// an hour apart here, cannot stand in for it.
func TestSendRegistersCreatedTopicBeforeReply(t *testing.T) {
	reg := &slowRegistrar{}
	tb := startBroker(t, func(c *Config) { c.RegisterNameServerPeriod = 3600_000 }, func(o *Options) { o.Registrar = reg })
	expect(t, tb.send("RoutedAtOnce", 0, "first", nil), remoting.ResponseSuccess)
	if _, ok := reg.last().Topics["RoutedAtOnce"]; !ok {
		t.Fatal("the send that created RoutedAtOnce was answered before its topic was registered")
	}
}
