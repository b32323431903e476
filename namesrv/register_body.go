package namesrv

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/valyala/fastjson"
)

// This file encodes and decodes the body of REGISTER_BROKER (RocketMQ's
// RegisterBrokerBody, uncompressed: the JSON a Java broker sends when
// compressedRegister is false, its default). The layout is a wire format
// and frozen. Compact JSON, fields in fastjson's alphabetical order, topics
// sorted by name:
//
//	{"filterServerList":[],
//	 "topicConfigSerializeWrapper":{
//	   "dataVersion":{"counter":3,"timestamp":1700000000000},
//	   "topicConfigTable":{
//	     "TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
//	                  "topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}
//
// (Shown on several lines; the body is one line.) The request header
// carries bodyCrc32 = CRC32 (IEEE) of these bytes AND 0x7FFFFFFF, as
// java.util.zip.CRC32 via UtilAll.crc32 computes it; 0 means "not checked".
//
// The decoder is tolerant: it also accepts a bare TopicConfigSerializeWrapper
// ({"dataVersion":...,"topicConfigTable":...}, what brokers before V3_0_11
// sent), bare integer keys, unknown fields (5.x adds attributes,
// topicQueueMappingInfoMap, stateVersion, ...), and takes a topic's name
// from its table key when topicName is absent.

// appendRegisterBody appends the RegisterBrokerBody JSON of reg.
func appendRegisterBody(dst []byte, reg *Registration) []byte {
	dst = append(dst, `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":`...)
	dst = strconv.AppendInt(dst, reg.DataVersion.Counter, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, reg.DataVersion.Timestamp, 10)
	dst = append(dst, `},"topicConfigTable":{`...)
	for i, name := range slices.Sorted(maps.Keys(reg.Topics)) {
		tc := reg.Topics[name]
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		filter := tc.TopicFilterType
		if filter == "" {
			filter = "SINGLE_TAG"
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name, false)
		dst = append(dst, `:{"order":`...)
		dst = strconv.AppendBool(dst, tc.Order)
		dst = append(dst, `,"perm":`...)
		dst = strconv.AppendInt(dst, int64(tc.Perm), 10)
		dst = append(dst, `,"readQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(tc.ReadQueueNums), 10)
		dst = append(dst, `,"topicFilterType":`...)
		dst = appendJSONString(dst, filter, false)
		dst = append(dst, `,"topicName":`...)
		dst = appendJSONString(dst, tc.TopicName, false)
		dst = append(dst, `,"topicSysFlag":`...)
		dst = strconv.AppendInt(dst, int64(tc.TopicSysFlag), 10)
		dst = append(dst, `,"writeQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(tc.WriteQueueNums), 10)
		dst = append(dst, '}')
	}
	return append(dst, "}}}"...)
}

// decodeRegisterBody decodes a RegisterBrokerBody (or a bare
// TopicConfigSerializeWrapper). Errors wrap ErrMalformedRegistration.
func decodeRegisterBody(b []byte) (map[string]TopicConfig, DataVersion, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(quoteBareKeys(b))
	if err != nil {
		return nil, DataVersion{}, fmt.Errorf("%w: %v", ErrMalformedRegistration, err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, DataVersion{}, fmt.Errorf("%w: not an object", ErrMalformedRegistration)
	}
	wrapper := jsonMember(v, "topicConfigSerializeWrapper")
	if wrapper == nil {
		wrapper = v
	}
	if wrapper.Type() != fastjson.TypeObject {
		return nil, DataVersion{}, fmt.Errorf("%w: topicConfigSerializeWrapper is %s", ErrMalformedRegistration, wrapper.Type())
	}
	var dv DataVersion
	if d := jsonMember(wrapper, "dataVersion"); d != nil {
		if dv.Counter, err = jsonInt64(d, "counter"); err != nil {
			return nil, DataVersion{}, fmt.Errorf("%w: dataVersion: %v", ErrMalformedRegistration, err)
		}
		if dv.Timestamp, err = jsonInt64(d, "timestamp"); err != nil {
			return nil, DataVersion{}, fmt.Errorf("%w: dataVersion: %v", ErrMalformedRegistration, err)
		}
	}
	topics := make(map[string]TopicConfig)
	table := jsonMember(wrapper, "topicConfigTable")
	if table == nil {
		return topics, dv, nil
	}
	obj, err := table.Object()
	if err != nil {
		return nil, DataVersion{}, fmt.Errorf("%w: topicConfigTable: %v", ErrMalformedRegistration, err)
	}
	obj.Visit(func(key []byte, e *fastjson.Value) {
		if err != nil {
			return
		}
		tc, derr := decodeTopicConfig(e)
		if derr != nil {
			err = fmt.Errorf("%w: topicConfigTable[%q]: %v", ErrMalformedRegistration, key, derr)
			return
		}
		name := string(key)
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		topics[name] = tc
	})
	if err != nil {
		return nil, DataVersion{}, err
	}
	return topics, dv, nil
}

func decodeTopicConfig(v *fastjson.Value) (TopicConfig, error) {
	if v.Type() != fastjson.TypeObject {
		return TopicConfig{}, fmt.Errorf("topic config is %s, not an object", v.Type())
	}
	var tc TopicConfig
	var err error
	if tc.TopicName, err = jsonString(v, "topicName"); err != nil {
		return TopicConfig{}, err
	}
	if tc.ReadQueueNums, err = jsonInt(v, "readQueueNums"); err != nil {
		return TopicConfig{}, err
	}
	if tc.WriteQueueNums, err = jsonInt(v, "writeQueueNums"); err != nil {
		return TopicConfig{}, err
	}
	if tc.Perm, err = jsonInt(v, "perm"); err != nil {
		return TopicConfig{}, err
	}
	if tc.TopicFilterType, err = jsonString(v, "topicFilterType"); err != nil {
		return TopicConfig{}, err
	}
	if tc.TopicSysFlag, err = jsonInt(v, "topicSysFlag"); err != nil {
		return TopicConfig{}, err
	}
	if tc.Order, err = jsonBool(v, "order"); err != nil {
		return TopicConfig{}, err
	}
	return tc, nil
}
