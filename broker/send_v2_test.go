package broker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// v2Args are SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header fields.
func v2Args(topic string, queueID int, props message.Properties, batch bool) []string {
	return []string{
		"a", "pg", "b", topic, "c", "TBW102", "d", "4", "e", strconv.Itoa(queueID), "f", "0",
		"g", strconv.FormatInt(time.Now().UnixMilli(), 10), "h", "0", "i", string(props),
		"j", "0", "k", "false", "l", "16", "m", strconv.FormatBool(batch),
	}
}

func TestSendMessageV2(t *testing.T) {
	tb := startBroker(t, nil)
	p := props("TAGS", "T2", "KEYS", "v2key")
	for i := range 3 {
		resp := tb.call(remoting.RequestSendMessageV2, []byte("v2 body"), v2Args("V2Topic", 1, p, false)...)
		expect(t, resp, remoting.ResponseSuccess)
		if got := extInt(t, resp, protocol.FieldQueueOffset); got != int64(i) {
			t.Fatalf("queueOffset %d, want %d", got, i)
		}
		_, phys, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
		if err != nil {
			t.Fatal(err)
		}
		m, err := tb.Store().ReadAt(phys)
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic != "V2Topic" || m.QueueID != 1 || m.Tags() != "T2" || string(m.Body) != "v2 body" {
			t.Fatalf("stored %+v", m.Message)
		}
	}
	// V1 names are not V2 names: a V2 request with V1 fields lacks its topic.
	resp := tb.call(remoting.RequestSendMessageV2, []byte("x"), sendArgs("V2Topic", 0, nil)...)
	expect(t, resp, remoting.ResponseSystemError)
}

// TestPipelinedSendsKeepArrivalOrder: under ASYNC_FLUSH a connection's sends run on its reader
// (Broker.sendKind), so sends pipelined on one connection to one queue get queue offsets in the
// order they were sent. On a worker pool (16 workers) they could be stored in any order.
func TestPipelinedSendsKeepArrivalOrder(t *testing.T) {
	tb := startBroker(t, nil)
	conn, err := tb.client.Conn(context.Background(), tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	offsets := make([]int64, n)
	var wg sync.WaitGroup
	args := v2Args("OrderT", 0, props("TAGS", "T"), false)
	for i := range n {
		req := remoting.NewRequest(remoting.RequestSendMessageV2)
		req.SerializeType = remoting.SerializeRocketMQ
		for k := 0; k < len(args); k += 2 {
			req.ExtFields = append(req.ExtFields, remoting.Field{Key: args[k], Value: args[k+1]})
		}
		req.Body = []byte(strconv.Itoa(i))
		wg.Add(1)
		err := conn.InvokeAsync(req, 0, func(resp *remoting.Command, err error) {
			defer wg.Done()
			offsets[i] = -1
			if err == nil && resp.ResponseCode() == remoting.ResponseSuccess {
				offsets[i], _ = strconv.ParseInt(resp.Ext(protocol.FieldQueueOffset), 10, 64)
			}
			resp.Release()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, off := range offsets {
		if off != int64(i) {
			t.Fatalf("send %d stored at queue offset %d, want %d (offsets %v)", i, off, i, offsets[:min(n, i+5)])
		}
	}
}

func TestSendKind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		opts   func(*Options)
		want   remoting.Kind
	}{
		{"async flush", nil, nil, remoting.KindInline},
		{"sync flush", func(c *Config) { c.FlushDiskType = SyncFlush }, nil, remoting.KindSend},
		{"configured send pool", nil, func(o *Options) {
			o.Remoting.Pools = map[remoting.Kind]remoting.PoolOptions{remoting.KindSend: {Workers: 2}}
		}, remoting.KindSend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			tb := startBroker(t, tc.mutate, opts...)
			if got := tb.Broker.sendKind(); got != tc.want {
				t.Fatalf("sendKind %v, want %v", got, tc.want)
			}
			resp := tb.call(remoting.RequestSendMessageV2, []byte("x"), v2Args("KindT", 0, nil, false)...)
			expect(t, resp, remoting.ResponseSuccess)
		})
	}
}
