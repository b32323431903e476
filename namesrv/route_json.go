package namesrv

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/valyala/fastjson"
)

// This file encodes and decodes TopicRouteData, the body of a
// GET_ROUTEINFO_BY_TOPIC answer (../shared/spec/rocketmq.md §7.9,
// clientgo.md §5). The layout is a wire format and frozen.
//
// The body is compact JSON (no blanks: rocketmq-client-go cuts brokerAddrs
// apart as text and would keep a blank in the address), with fields in
// fastjson's alphabetical order. It comes in two forms that differ only in
// the keys of brokerAddrs and in the escaping of non-ASCII characters.
//
// Legacy form, fastjson's default, for requests with version < 401 (V4_9_4)
// that do not set acceptStandardJsonOnly=true (rocketmq-client-go sends
// 317). The integer keys are bare, which is not JSON, and non-ASCII is
// written as UTF-8:
//
//	{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],
//	 "filterServerTable":{},
//	 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4}]}
//
// Standard form (BrowserCompatible, QuoteFieldNames, MapSortField) for
// version >= 401 or acceptStandardJsonOnly=true. Keys are quoted and
// non-ASCII is escaped as \uXXXX:
//
//	{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],
//	 "filterServerTable":{},
//	 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4}]}
//
// (Shown on three lines here; the body is one line.) Rules of both forms:
//   - queueDatas carries the flag under both spellings: topicSynFlag (before
//     RocketMQ 4.9.0, still read by rocketmq-client-go) and topicSysFlag.
//   - brokerAddrs is always present, {} when a group has no address (a
//     missing brokerAddrs panics rocketmq-client-go); its keys are sorted.
//   - filterServerTable is always {}; orderTopicConf is never written
//     (the newest Go client builds publish queues from a non-empty one).
//   - queueDatas and brokerDatas are always arrays, [] when empty.
//
// DecodeRoute reads both forms, either flag spelling (topicSysFlag wins when
// both are present) and ignores fields it does not know (5.x adds
// topicQueueMappingByBroker, zoneName, enableActingMaster).

// EncodeRoute appends the route JSON of r to dst, in the legacy form (bare
// integer keys) when legacy is set and in the standard form otherwise.
func EncodeRoute(dst []byte, r TopicRoute, legacy bool) []byte {
	ascii := !legacy
	dst = append(dst, `{"brokerDatas":[`...)
	for i := range r.BrokerDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBrokerData(dst, &r.BrokerDatas[i], legacy)
	}
	dst = append(dst, `],"filterServerTable":{},"queueDatas":[`...)
	for i := range r.QueueDatas {
		q := &r.QueueDatas[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"brokerName":`...)
		dst = appendJSONString(dst, q.BrokerName, ascii)
		dst = append(dst, `,"perm":`...)
		dst = strconv.AppendInt(dst, int64(q.Perm), 10)
		dst = append(dst, `,"readQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.ReadQueueNums), 10)
		dst = append(dst, `,"topicSynFlag":`...)
		dst = strconv.AppendInt(dst, int64(q.TopicSysFlag), 10)
		dst = append(dst, `,"topicSysFlag":`...)
		dst = strconv.AppendInt(dst, int64(q.TopicSysFlag), 10)
		dst = append(dst, `,"writeQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.WriteQueueNums), 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendBrokerData appends one BrokerData object; it is shared with the
// cluster info body.
func appendBrokerData(dst []byte, b *BrokerData, legacy bool) []byte {
	ascii := !legacy
	dst = append(dst, `{"brokerAddrs":{`...)
	ids := make([]int64, 0, 4)
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendIntKey(dst, id, legacy)
		dst = append(dst, ':')
		dst = appendJSONString(dst, b.BrokerAddrs[id], ascii)
	}
	dst = append(dst, `},"brokerName":`...)
	dst = appendJSONString(dst, b.BrokerName, ascii)
	dst = append(dst, `,"cluster":`...)
	dst = appendJSONString(dst, b.Cluster, ascii)
	return append(dst, '}')
}

// DecodeRoute decodes a route body in either form. Errors wrap
// ErrMalformedRoute.
func DecodeRoute(b []byte) (TopicRoute, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(quoteBareKeys(b))
	if err != nil {
		return TopicRoute{}, fmt.Errorf("%w: %v", ErrMalformedRoute, err)
	}
	if v.Type() != fastjson.TypeObject {
		return TopicRoute{}, fmt.Errorf("%w: not an object", ErrMalformedRoute)
	}
	var r TopicRoute
	if qds := jsonMember(v, "queueDatas"); qds != nil {
		arr, err := qds.Array()
		if err != nil {
			return TopicRoute{}, fmt.Errorf("%w: queueDatas: %v", ErrMalformedRoute, err)
		}
		r.QueueDatas = make([]QueueData, 0, len(arr))
		for _, e := range arr {
			q, err := decodeQueueData(e)
			if err != nil {
				return TopicRoute{}, fmt.Errorf("%w: queueDatas: %v", ErrMalformedRoute, err)
			}
			r.QueueDatas = append(r.QueueDatas, q)
		}
	}
	if bds := jsonMember(v, "brokerDatas"); bds != nil {
		arr, err := bds.Array()
		if err != nil {
			return TopicRoute{}, fmt.Errorf("%w: brokerDatas: %v", ErrMalformedRoute, err)
		}
		r.BrokerDatas = make([]BrokerData, 0, len(arr))
		for _, e := range arr {
			bd, err := decodeBrokerData(e)
			if err != nil {
				return TopicRoute{}, fmt.Errorf("%w: brokerDatas: %v", ErrMalformedRoute, err)
			}
			r.BrokerDatas = append(r.BrokerDatas, bd)
		}
	}
	return r, nil
}

func decodeQueueData(v *fastjson.Value) (QueueData, error) {
	if v.Type() != fastjson.TypeObject {
		return QueueData{}, fmt.Errorf("element is %s, not an object", v.Type())
	}
	var q QueueData
	var err error
	if q.BrokerName, err = jsonString(v, "brokerName"); err != nil {
		return QueueData{}, err
	}
	if q.ReadQueueNums, err = jsonInt(v, "readQueueNums"); err != nil {
		return QueueData{}, err
	}
	if q.WriteQueueNums, err = jsonInt(v, "writeQueueNums"); err != nil {
		return QueueData{}, err
	}
	if q.Perm, err = jsonInt(v, "perm"); err != nil {
		return QueueData{}, err
	}
	flagKey := "topicSysFlag"
	if jsonMember(v, flagKey) == nil {
		flagKey = "topicSynFlag"
	}
	if q.TopicSysFlag, err = jsonInt(v, flagKey); err != nil {
		return QueueData{}, err
	}
	return q, nil
}

func decodeBrokerData(v *fastjson.Value) (BrokerData, error) {
	if v.Type() != fastjson.TypeObject {
		return BrokerData{}, fmt.Errorf("element is %s, not an object", v.Type())
	}
	var bd BrokerData
	var err error
	if bd.BrokerName, err = jsonString(v, "brokerName"); err != nil {
		return BrokerData{}, err
	}
	if bd.Cluster, err = jsonString(v, "cluster"); err != nil {
		return BrokerData{}, err
	}
	bd.BrokerAddrs = make(map[int64]string)
	addrs := jsonMember(v, "brokerAddrs")
	if addrs == nil {
		return bd, nil
	}
	obj, err := addrs.Object()
	if err != nil {
		return BrokerData{}, fmt.Errorf("brokerAddrs: %v", err)
	}
	obj.Visit(func(key []byte, a *fastjson.Value) {
		if err != nil {
			return
		}
		id, perr := strconv.ParseInt(string(key), 10, 64)
		if perr != nil {
			err = fmt.Errorf("brokerAddrs: key %q is not an integer", key)
			return
		}
		s, serr := a.StringBytes()
		if serr != nil {
			err = fmt.Errorf("brokerAddrs[%d]: %v", id, serr)
			return
		}
		bd.BrokerAddrs[id] = string(s)
	})
	if err != nil {
		return BrokerData{}, err
	}
	return bd, nil
}
