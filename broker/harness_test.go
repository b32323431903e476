package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testBroker is a broker on a free loopback port with a raw client.
type testBroker struct {
	*Broker
	t      testing.TB
	client *remoting.Client
	dir    string
}

// startBroker starts a broker in a fresh directory (or dir, when given through mutate's
// StorePathRootDir) with small files.
func startBroker(t testing.TB, mutate func(*Config), optMutate ...func(*Options)) *testBroker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.ListenPort = 0
	cfg.MappedFileSizeCommitLog = 16 << 20
	cfg.MaxMessageSize = 1 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	opts := Options{Logger: quiet, Remoting: remoting.Options{Logger: quiet},
		Store: func(o *store.Options) { o.ConsumeQueueUnits = 1000 }}
	for _, f := range optMutate {
		f(&opts)
	}
	b, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ln); err != nil {
		t.Fatal(err)
	}
	c, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b, t: t, client: c, dir: cfg.StorePathRootDir}
	t.Cleanup(func() {
		c.Close()
		b.Close()
	})
	return tb
}

// call sends a request (ext as key, value pairs) and returns the response.
func (tb *testBroker) call(code remoting.RequestCode, body []byte, ext ...string) *remoting.Command {
	tb.t.Helper()
	return tb.callTimeout(5*time.Second, code, body, ext...)
}

func (tb *testBroker) callTimeout(timeout time.Duration, code remoting.RequestCode, body []byte, ext ...string) *remoting.Command {
	tb.t.Helper()
	req := remoting.NewRequest(code)
	for i := 0; i+1 < len(ext); i += 2 {
		req.SetExt(ext[i], ext[i+1])
	}
	req.Body = body
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := tb.client.Invoke(ctx, tb.Addr(), req)
	if err != nil {
		tb.t.Fatalf("%v: %v", code, err)
	}
	tb.t.Cleanup(resp.Release)
	return resp
}

// expect fails unless resp has code.
func expect(t testing.TB, resp *remoting.Command, code remoting.ResponseCode) {
	t.Helper()
	if resp.ResponseCode() != code {
		t.Fatalf("response %v (%s), want %v", resp.ResponseCode(), resp.Remark, code)
	}
}

// extInt reads an int64 ext field of a response.
func extInt(t testing.TB, resp *remoting.Command, key string) int64 {
	t.Helper()
	v, err := resp.GetInt64(key)
	if err != nil {
		t.Fatalf("ext %s: %v (%v)", key, err, resp)
	}
	return v
}

// sendArgs are the V1 send header fields for a message to topic/queue.
func sendArgs(topic string, queueID int, props message.Properties) []string {
	return []string{
		"producerGroup", "pg", "topic", topic, "defaultTopic", "TBW102", "defaultTopicQueueNums", "4",
		"queueId", strconv.Itoa(queueID), "sysFlag", "0", "bornTimestamp", strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag", "0", "properties", string(props), "reconsumeTimes", "0", "unitMode", "false", "batch", "false",
	}
}

// send stores one message through SEND_MESSAGE and returns the response.
func (tb *testBroker) send(topic string, queueID int, body string, props message.Properties) *remoting.Command {
	tb.t.Helper()
	return tb.call(remoting.RequestSendMessage, []byte(body), sendArgs(topic, queueID, props)...)
}

// props encodes properties from pairs.
func props(kv ...string) message.Properties {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return message.EncodeProperties(m)
}

// records decodes a body of raw records.
func records(t testing.TB, body []byte) []message.Record {
	t.Helper()
	var out []message.Record
	for len(body) > 0 {
		var r message.Record
		n, err := message.DecodeRecord(body, &r, true)
		if err != nil {
			t.Fatalf("decode record: %v", err)
		}
		out = append(out, r)
		body = body[n:]
	}
	return out
}

// sync waits until every stored message is dispatched.
func (tb *testBroker) sync() {
	tb.t.Helper()
	if err := tb.Store().Sync(context.Background()); err != nil {
		tb.t.Fatal(err)
	}
}

// aFollower returns a replica other than leader (the last one in replicas) and its index.
func aFollower(replicas []*testBroker, leader *testBroker) (int, *testBroker) {
	for i := len(replicas) - 1; i >= 0; i-- {
		if replicas[i] != leader {
			return i, replicas[i]
		}
	}
	panic("aFollower: every replica is the leader")
}
