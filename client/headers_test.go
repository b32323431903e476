package client_test

import (
	"sync"
	"testing"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// TestHeaderForm: the client's requests carry ROCKETMQ binary headers unless WithJSONHeaders,
// and the broker and name server answer either form (the sends and route lookups succeed).
func TestHeaderForm(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicHeaderForm", 2)
	for _, tc := range []struct {
		name string
		opts []client.Option
		want remoting.SerializeType
	}{
		{"default", nil, remoting.SerializeRocketMQ},
		{"json", []client.Option{client.WithJSONHeaders()}, remoting.SerializeJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[remoting.SerializeType]int{}
			record := remoting.Options{OnSend: func(req *remoting.Command) {
				mu.Lock()
				seen[req.SerializeType]++
				mu.Unlock()
			}}
			p := newProducer(t, s, append([]client.Option{client.WithRemotingOptions(record)}, tc.opts...)...)
			for i := range 3 {
				if _, err := p.Send(ctxT(t), message.New("TopicHeaderForm", []byte{byte(i)})); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[tc.want] < 3 {
				t.Fatalf("requests by header form: %v, want all %v", seen, tc.want)
			}
		})
	}
}
