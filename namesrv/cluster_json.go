package namesrv

import (
	"fmt"
	"maps"
	"slices"

	"github.com/valyala/fastjson"
)

// This file encodes and decodes the two listing bodies of the name server.
// Both are compact JSON with sorted keys; the layouts are wire formats and
// frozen.
//
// ClusterInfo, the body of a GET_BROKER_CLUSTER_INFO answer. brokerAddrTable
// maps a broker name to its BrokerData (the object of route_json.go, with
// the same legacy and standard forms of brokerAddrs, chosen the same way);
// clusterAddrTable maps a cluster to its broker names:
//
//	{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},
//	 "clusterAddrTable":{"DefaultCluster":["broker-a"]}}
//
// TopicList, the body of GET_ALL_TOPIC_LIST_FROM_NAMESERVER and
// GET_TOPICS_BY_CLUSTER answers (brokerAddr is null in Java and omitted):
//
//	{"topicList":["TBW102","TopicTest"]}

// appendClusterInfo appends the ClusterInfo body.
func appendClusterInfo(dst []byte, brokers map[string]BrokerData, clusters map[string][]string, legacy bool) []byte {
	ascii := !legacy
	dst = append(dst, `{"brokerAddrTable":{`...)
	for i, name := range slices.Sorted(maps.Keys(brokers)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name, ascii)
		dst = append(dst, ':')
		bd := brokers[name]
		dst = appendBrokerData(dst, &bd, legacy)
	}
	dst = append(dst, `},"clusterAddrTable":{`...)
	for i, c := range slices.Sorted(maps.Keys(clusters)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c, ascii)
		dst = append(dst, ':')
		dst = appendStringArray(dst, clusters[c], ascii)
	}
	return append(dst, "}}"...)
}

// appendTopicList appends the TopicList body.
func appendTopicList(dst []byte, topics []string) []byte {
	dst = append(dst, `{"topicList":`...)
	dst = appendStringArray(dst, topics, false)
	return append(dst, '}')
}

func appendStringArray(dst []byte, list []string, ascii bool) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s, ascii)
	}
	return append(dst, ']')
}

// DecodeClusterInfo decodes a GET_BROKER_CLUSTER_INFO body in either form.
// Errors wrap ErrMalformedRoute.
func DecodeClusterInfo(b []byte) (brokers map[string]BrokerData, clusters map[string][]string, err error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(quoteBareKeys(b))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformedRoute, err)
	}
	brokers = make(map[string]BrokerData)
	clusters = make(map[string][]string)
	if t := jsonMember(v, "brokerAddrTable"); t != nil {
		obj, oerr := t.Object()
		if oerr != nil {
			return nil, nil, fmt.Errorf("%w: brokerAddrTable: %v", ErrMalformedRoute, oerr)
		}
		obj.Visit(func(key []byte, e *fastjson.Value) {
			if err != nil {
				return
			}
			bd, derr := decodeBrokerData(e)
			if derr != nil {
				err = fmt.Errorf("%w: brokerAddrTable[%q]: %v", ErrMalformedRoute, key, derr)
				return
			}
			brokers[string(key)] = bd
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if t := jsonMember(v, "clusterAddrTable"); t != nil {
		obj, oerr := t.Object()
		if oerr != nil {
			return nil, nil, fmt.Errorf("%w: clusterAddrTable: %v", ErrMalformedRoute, oerr)
		}
		obj.Visit(func(key []byte, e *fastjson.Value) {
			if err != nil {
				return
			}
			names, derr := decodeStringArray(e)
			if derr != nil {
				err = fmt.Errorf("%w: clusterAddrTable[%q]: %v", ErrMalformedRoute, key, derr)
				return
			}
			clusters[string(key)] = names
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return brokers, clusters, nil
}

// DecodeTopicList decodes a TopicList body. Errors wrap ErrMalformedRoute.
func DecodeTopicList(b []byte) ([]string, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRoute, err)
	}
	t := jsonMember(v, "topicList")
	if t == nil {
		return nil, nil
	}
	topics, err := decodeStringArray(t)
	if err != nil {
		return nil, fmt.Errorf("%w: topicList: %v", ErrMalformedRoute, err)
	}
	return topics, nil
}

func decodeStringArray(v *fastjson.Value) ([]string, error) {
	arr, err := v.Array()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, err := e.StringBytes()
		if err != nil {
			return nil, err
		}
		out = append(out, string(s))
	}
	return out, nil
}
