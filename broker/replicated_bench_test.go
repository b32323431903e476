package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// BenchmarkReplicatedSend: SEND_MESSAGE_V2 of 1 KiB, each with its own UNIQ_KEY, from 16
// concurrent senders per CPU to the leader of a 3-replica in-process group (real Raft over
// loopback TCP, every entry fsynced by a quorum): the cost of a replicated send, dedupe
// included.
func BenchmarkReplicatedSend(b *testing.B) {
	var peers []string
	for i := range 3 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 41+i))
		if err != nil {
			b.Fatal(err)
		}
		peers = append(peers, fmt.Sprintf("n%d-%s", i, ln.Addr()))
		ln.Close()
	}
	var replicas []*testBroker
	for i := range 3 {
		replicas = append(replicas, startBroker(b, func(c *Config) {
			c.BrokerName = "bench"
			c.EnableDLegerCommitLog = true
			c.DLegerPeers = strings.Join(peers, ";")
			c.DLegerSelfID = fmt.Sprintf("n%d", i)
		}))
	}
	var leader *testBroker
	for deadline := time.Now().Add(15 * time.Second); leader == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no leader")
		}
		for _, r := range replicas {
			if r.replica.brokerID() == 0 {
				leader = r
			}
		}
	}
	body := []byte(strings.Repeat("x", 1024))
	var seq atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			uniq := fmt.Sprintf("AC1100010000BE%018X", seq.Add(1))
			args := v2Args("BenchR", 0, message.EncodeProperties(map[string]string{message.PropertyUniqKey: uniq}), false)
			req := remoting.NewRequest(remoting.RequestSendMessageV2)
			for i := 0; i < len(args); i += 2 {
				req.SetExt(args[i], args[i+1])
			}
			req.Body = body
			resp, err := leader.client.Invoke(context.Background(), leader.Addr(), req)
			if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
				b.Error(err, resp)
				return
			}
			resp.Release()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
