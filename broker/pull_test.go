package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// pullArgs are PULL_MESSAGE header fields.
func pullArgs(topic string, queueID int, offset int64, maxNums int, sysFlag int, suspendMillis int, sub string) []string {
	return []string{
		"consumerGroup", "pull-group", "topic", topic, "queueId", strconv.Itoa(queueID),
		"queueOffset", strconv.FormatInt(offset, 10), "maxMsgNums", strconv.Itoa(maxNums),
		"sysFlag", strconv.Itoa(sysFlag), "commitOffset", "-1", "suspendTimeoutMillis", strconv.Itoa(suspendMillis),
		"subscription", sub, "subVersion", "0", "expressionType", "TAG",
	}
}

// fill sends n messages to topic queue 0, tagged TagA, TagB, TagA, ...
func (tb *testBroker) fill(topic string, n int) {
	tb.t.Helper()
	for i := range n {
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		expect(tb.t, tb.send(topic, 0, "m"+strconv.Itoa(i), props("TAGS", tag)), remoting.ResponseSuccess)
	}
	tb.sync()
}

func TestPullMessageFound(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("PullTopic", 5)
	resp := tb.call(remoting.RequestPullMessage, nil, pullArgs("PullTopic", 0, 0, 3, 0, 0, "")...)
	expect(t, resp, remoting.ResponseSuccess)
	recs := records(t, resp.Body)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, r := range recs {
		if r.QueueOffset != int64(i) || string(r.Body) != "m"+strconv.Itoa(i) {
			t.Fatalf("record %d: offset %d body %q", i, r.QueueOffset, r.Body)
		}
	}
	if extInt(t, resp, protocol.FieldNextBeginOffset) != 3 || extInt(t, resp, protocol.FieldMinOffset) != 0 ||
		extInt(t, resp, protocol.FieldMaxOffset) != 5 || resp.Ext(protocol.FieldSuggestWhichBrokerID) != "0" {
		t.Fatalf("ext fields %v", resp)
	}
	// maxMsgNums 0 means one message (the Go pull consumer's default PullBatchSize).
	resp = tb.call(remoting.RequestPullMessage, nil, pullArgs("PullTopic", 0, 3, 0, 0, 0, "")...)
	expect(t, resp, remoting.ResponseSuccess)
	if n := len(records(t, resp.Body)); n != 1 {
		t.Fatalf("maxMsgNums 0: %d records", n)
	}
}

func TestPullMessageStatuses(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("PullTopic", 4)
	tests := []struct {
		name   string
		args   []string
		code   remoting.ResponseCode
		next   int64
		noNext bool
	}{
		{"at max offset", pullArgs("PullTopic", 0, 4, 32, 0, 0, ""), remoting.ResponsePullNotFound, 4, false},
		{"beyond max offset", pullArgs("PullTopic", 0, 100, 32, 0, 0, ""), remoting.ResponsePullOffsetMoved, 4, false},
		{"empty queue at 0", pullArgs("PullTopic", 1, 0, 32, 0, 0, ""), remoting.ResponsePullNotFound, 0, false},
		{"empty queue past 0", pullArgs("PullTopic", 1, 3, 32, 0, 0, ""), remoting.ResponsePullOffsetMoved, 0, false},
		{"no matching tag", pullArgs("PullTopic", 0, 0, 1, protocol.PullFlagSubscription, 0, "TagC"), remoting.ResponsePullRetryImmediately, 4, false},
		{"unknown topic", pullArgs("Nope", 0, 0, 32, 0, 0, ""), remoting.ResponseTopicNotExist, 0, true},
		{"queue out of range", pullArgs("PullTopic", 9, 0, 32, 0, 0, ""), remoting.ResponseSystemError, 0, true},
		{"missing field", []string{"topic", "PullTopic"}, remoting.ResponseSystemError, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tb.call(remoting.RequestPullMessage, nil, tt.args...)
			expect(t, resp, tt.code)
			if !tt.noNext && extInt(t, resp, protocol.FieldNextBeginOffset) != tt.next {
				t.Fatalf("nextBeginOffset %s, want %d", resp.Ext(protocol.FieldNextBeginOffset), tt.next)
			}
		})
	}
}

func TestPullMessageTagFilter(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("PullTopic", 10)
	resp := tb.call(remoting.RequestPullMessage, nil, pullArgs("PullTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, "TagB")...)
	expect(t, resp, remoting.ResponseSuccess)
	recs := records(t, resp.Body)
	if len(recs) != 5 {
		t.Fatalf("%d TagB records, want 5", len(recs))
	}
	for _, r := range recs {
		if tags, _ := r.Properties.Get("TAGS"); tags != "TagB" {
			t.Fatalf("got tag %q", tags)
		}
	}
}

func TestPullMessageCommitOffset(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("PullTopic", 2)
	args := pullArgs("PullTopic", 0, 0, 32, protocol.PullFlagCommitOffset, 0, "")
	args[13] = "7" // commitOffset
	expect(t, tb.call(remoting.RequestPullMessage, nil, args...), remoting.ResponseSuccess)
	if off, ok := tb.offsets.query("pull-group", "PullTopic", 0); !ok || off != 7 {
		t.Fatalf("committed %d %v, want 7", off, ok)
	}
}

// asyncPull starts a pull and returns a channel with its response and how long it took.
func (tb *testBroker) asyncPull(args ...string) <-chan pullAnswer {
	ch := make(chan pullAnswer, 1)
	start := time.Now()
	req := remoting.NewRequest(remoting.RequestPullMessage)
	for i := 0; i+1 < len(args); i += 2 {
		req.SetExt(args[i], args[i+1])
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := tb.client.Invoke(ctx, tb.Addr(), req)
		ch <- pullAnswer{resp, err, time.Since(start)}
	}()
	return ch
}

type pullAnswer struct {
	resp    *remoting.Command
	err     error
	elapsed time.Duration
}

// answer waits for an async pull's answer.
func answer(t *testing.T, ch <-chan pullAnswer) pullAnswer {
	t.Helper()
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	t.Cleanup(a.resp.Release)
	return a
}

func (tb *testBroker) waitParked(n int) {
	tb.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tb.holds.parked() != n {
		if time.Now().After(deadline) {
			tb.t.Fatalf("%d parked pulls, want %d", tb.holds.parked(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPullMessageLongPolling(t *testing.T) {
	t.Run("woken by arrival", func(t *testing.T) {
		tb := startBroker(t, nil)
		tb.fill("LP", 1)
		ch := tb.asyncPull(pullArgs("LP", 0, 1, 32, protocol.PullFlagSuspend, 10000, "")...)
		tb.waitParked(1)
		expect(t, tb.send("LP", 0, "late", nil), remoting.ResponseSuccess)
		a := answer(t, ch)
		expect(t, a.resp, remoting.ResponseSuccess)
		if recs := records(t, a.resp.Body); len(recs) != 1 || string(recs[0].Body) != "late" {
			t.Fatalf("woken pull got %d records", len(recs))
		}
		if a.elapsed > 5*time.Second {
			t.Fatalf("woken after %v", a.elapsed)
		}
	})
	t.Run("filter keeps it parked", func(t *testing.T) {
		tb := startBroker(t, nil)
		tb.fill("LP", 1)
		ch := tb.asyncPull(pullArgs("LP", 0, 1, 32, protocol.PullFlagSuspend|protocol.PullFlagSubscription, 10000, "TagZ")...)
		tb.waitParked(1)
		expect(t, tb.send("LP", 0, "other tag", props("TAGS", "TagY")), remoting.ResponseSuccess)
		tb.sync()
		time.Sleep(50 * time.Millisecond)
		if tb.holds.parked() != 1 {
			t.Fatal("a message of another tag woke the pull")
		}
		expect(t, tb.send("LP", 0, "its tag", props("TAGS", "TagZ")), remoting.ResponseSuccess)
		a := answer(t, ch)
		expect(t, a.resp, remoting.ResponseSuccess)
		if recs := records(t, a.resp.Body); len(recs) != 1 || string(recs[0].Body) != "its tag" {
			t.Fatalf("woken pull got %d records", len(recs))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		tb := startBroker(t, nil)
		tb.fill("LP", 2)
		a := answer(t, tb.asyncPull(pullArgs("LP", 0, 2, 32, protocol.PullFlagSuspend, 200, "")...))
		expect(t, a.resp, remoting.ResponsePullNotFound)
		if extInt(t, a.resp, protocol.FieldNextBeginOffset) != 2 || a.elapsed < 150*time.Millisecond {
			t.Fatalf("next %s after %v", a.resp.Ext(protocol.FieldNextBeginOffset), a.elapsed)
		}
	})
	t.Run("short polling", func(t *testing.T) {
		tb := startBroker(t, func(c *Config) { c.LongPollingEnable = false; c.ShortPollingTimeMills = 100 })
		tb.fill("LP", 1)
		a := answer(t, tb.asyncPull(pullArgs("LP", 0, 1, 32, protocol.PullFlagSuspend, 20000, "")...))
		expect(t, a.resp, remoting.ResponsePullNotFound)
		if a.elapsed > 5*time.Second {
			t.Fatalf("short polling held %v", a.elapsed)
		}
	})
	t.Run("no suspend flag", func(t *testing.T) {
		tb := startBroker(t, nil)
		tb.fill("LP", 1)
		a := answer(t, tb.asyncPull(pullArgs("LP", 0, 1, 32, 0, 20000, "")...))
		expect(t, a.resp, remoting.ResponsePullNotFound)
		if a.elapsed > 2*time.Second {
			t.Fatalf("held %v without the suspend flag", a.elapsed)
		}
	})
	t.Run("close answers parked pulls", func(t *testing.T) {
		tb := startBroker(t, nil)
		tb.fill("LP", 1)
		ch := tb.asyncPull(pullArgs("LP", 0, 1, 32, protocol.PullFlagSuspend, 20000, "")...)
		tb.waitParked(1)
		if err := tb.Close(); err != nil {
			t.Fatal(err)
		}
		// Answered with SYSTEM_BUSY, not an empty PULL_NOT_FOUND: the Go client then backs off
		// 3 s instead of pulling again at once on the closing connection (a request never read
		// there would wait out its 30 s call timeout).
		a := answer(t, ch)
		expect(t, a.resp, remoting.ResponseSystemBusy)
	})
}
