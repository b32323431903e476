package broker

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// GET_BROKER_RUNTIME_INFO (28): broker statistics as a KVTable ({"table":{"key":"value",...}},
// every value a string), with RocketMQ's key names where one exists.
func (b *Broker) handleGetBrokerRuntimeInfo(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := json.Marshal(struct {
		Table map[string]string `json:"table"`
	}{b.runtimeInfo()})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}

// runtimeInfo collects the runtime statistics.
func (b *Broker) runtimeInfo() map[string]string {
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	consumerGroups, producerGroups := b.clients.counts()
	topics, _ := b.topics.snapshot()
	earliest, err := b.store.EarliestMessageTime()
	if err != nil {
		earliest = -1
	}
	return map[string]string{
		"brokerVersionDesc":        "V4_9_4",
		"brokerVersion":            "401",
		"brokerName":               b.cfg.BrokerName,
		"brokerAddr":               b.Addr(),
		"bootTimestamp":            i64(b.startTime.UnixMilli()),
		"runtime":                  time.Since(b.startTime).Round(time.Second).String(),
		"msgPutTotalTodayNow":      i64(b.stats.putMessages.Load()),
		"msgGetTotalTodayNow":      i64(b.stats.pulledMessages.Load()),
		"commitLogMinOffset":       i64(b.store.MinPhysicalOffset()),
		"commitLogMaxOffset":       i64(b.store.MaxPhysicalOffset()),
		"dispatchBehindBytes":      i64(b.store.DispatchBehind()),
		"earliestMessageTimeStamp": i64(earliest),
		"commitLogDiskRatio":       strconv.FormatFloat(b.store.DiskUsage(), 'f', 4, 64),
		"topicCount":               strconv.Itoa(len(topics)),
		"consumerGroupCount":       strconv.Itoa(consumerGroups),
		"producerGroupCount":       strconv.Itoa(producerGroups),
		"connectionCount":          strconv.Itoa(b.server.NumConns()),
		"pullHoldCount":            strconv.Itoa(b.holds.parked()),
		"flushDiskType":            b.cfg.FlushDiskType,
		"storePathRootDir":         b.cfg.StorePathRootDir,
	}
}
