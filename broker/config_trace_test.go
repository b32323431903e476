package broker

import "testing"

func TestTraceTopic(t *testing.T) {
	tb := startBroker(t, nil)
	tc, ok := tb.topics.get(TraceTopic)
	if !ok || tc.ReadQueueNums != 1 || tc.WriteQueueNums != 1 || tc.Perm != 6 {
		t.Fatalf("trace topic %+v %v", tc, ok)
	}
	off := startBroker(t, func(c *Config) {
		if err := c.Set("traceTopicEnable", "false"); err != nil {
			t.Fatal(err)
		}
	})
	if _, ok := off.topics.get(TraceTopic); ok {
		t.Fatal("trace topic created with traceTopicEnable=false")
	}
}
