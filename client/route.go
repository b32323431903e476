package client

import (
	"strconv"

	"github.com/mqstore/mqstore/namesrv"
)

// MessageQueue names one queue of a topic on one broker group.
type MessageQueue struct {
	Topic      string
	BrokerName string
	QueueID    int32
}

// String formats the queue as "topic@broker:id".
func (q MessageQueue) String() string {
	return q.Topic + "@" + q.BrokerName + ":" + strconv.Itoa(int(q.QueueID))
}

// queue is a MessageQueue with what a request to it needs, precomputed.
type queue struct {
	MessageQueue
	addr string // master address of the broker
	id   string // decimal QueueID
}

// route is a topic's route as the client uses it. Routes are immutable
// once published in the cache.
type route struct {
	topic string
	data  namesrv.TopicRoute
	// publish lists the writable queues whose broker has a master (ids
	// 0..writeQueueNums-1 per broker, brokers in name order): producers
	// round-robin over it.
	publish []queue
	// subscribe lists the readable queues (ids 0..readQueueNums-1).
	subscribe []MessageQueue
	// addrs are the broker groups' addresses by broker id (0 = master).
	addrs map[string]map[int64]string
	// autoCreate: the topic has no route; publish comes from TBW102's
	// route (capped at autoCreateQueues per broker) and the broker creates
	// the topic on first send.
	autoCreate bool
}

// autoCreateQueues caps the queues of an auto-created topic, as the Go and
// Java clients' defaultTopicQueueNums (4).
const autoCreateQueues = 4

// newRoute builds the client's view of a route (clientgo.md §5): publish
// queues for writable queue data whose broker has an id-0 address,
// subscribe queues for readable ones.
func newRoute(topic string, data namesrv.TopicRoute, autoCreate bool) *route {
	r := &route{topic: topic, data: data, addrs: make(map[string]map[int64]string), autoCreate: autoCreate}
	for _, b := range data.BrokerDatas {
		r.addrs[b.BrokerName] = b.BrokerAddrs
	}
	for _, qd := range data.QueueDatas {
		if qd.Perm&namesrv.PermWrite != 0 {
			if master, ok := r.addrs[qd.BrokerName][0]; ok {
				n := qd.WriteQueueNums
				if autoCreate {
					n = min(n, autoCreateQueues)
				}
				for i := 0; i < n; i++ {
					r.publish = append(r.publish, queue{
						MessageQueue: MessageQueue{Topic: topic, BrokerName: qd.BrokerName, QueueID: int32(i)},
						addr:         master,
						id:           strconv.Itoa(i),
					})
				}
			}
		}
		if qd.Perm&namesrv.PermRead != 0 && !autoCreate {
			for i := 0; i < qd.ReadQueueNums; i++ {
				r.subscribe = append(r.subscribe, MessageQueue{Topic: topic, BrokerName: qd.BrokerName, QueueID: int32(i)})
			}
		}
	}
	return r
}

// master returns the master address of brokerName, or any address of it
// when it has no master (reads may go to a slave).
func (r *route) master(brokerName string, anyAddr bool) (string, bool) {
	addrs := r.addrs[brokerName]
	if a, ok := addrs[0]; ok {
		return a, true
	}
	if anyAddr {
		for _, a := range addrs {
			return a, true
		}
	}
	return "", false
}

// sameBrokers reports whether two routes have the same queue and broker
// data (route change detection, as the Go client does).
func sameRoute(a, b namesrv.TopicRoute) bool {
	if len(a.QueueDatas) != len(b.QueueDatas) || len(a.BrokerDatas) != len(b.BrokerDatas) {
		return false
	}
	for i := range a.QueueDatas {
		if a.QueueDatas[i] != b.QueueDatas[i] {
			return false
		}
	}
	for i := range a.BrokerDatas {
		x, y := a.BrokerDatas[i], b.BrokerDatas[i]
		if x.BrokerName != y.BrokerName || x.Cluster != y.Cluster || len(x.BrokerAddrs) != len(y.BrokerAddrs) {
			return false
		}
		for id, addr := range x.BrokerAddrs {
			if y.BrokerAddrs[id] != addr {
				return false
			}
		}
	}
	return true
}
