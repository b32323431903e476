package broker

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// FuzzQuoteBareKeys: the legacy-key rewriter never panics, leaves standard JSON unchanged, and
// turns fastjson's bare integer keys into JSON that decodes.
func FuzzQuoteBareKeys(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{"T@g":{0:12,1:34}}}`))
	f.Add([]byte(`{"a":"{0:1}","b":[{-3:4}]}`))
	f.Add([]byte(`{"esc":"\"}{0:"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := quoteBareKeys(in)
		if json.Valid(in) && !bytes.Equal(out, in) {
			t.Fatalf("standard JSON changed: %q → %q", in, out)
		}
		var offsets offsetsFileContent
		_ = json.Unmarshal(out, &offsets)
	})
}

// FuzzParseSendHeader: the one-pass send header parser agrees with field-by-field lookups
// (remoting.Command's getters, the parser it replaced) on any fields, in both spellings. The
// input is "key=value" lines.
func FuzzParseSendHeader(f *testing.F) {
	f.Add("a=pg\nb=T\nc=TBW102\nd=4\ne=1\nf=0\ng=1700000000000\nh=0\ni=TAGS\x01t\x02\nj=0\nl=16\nm=false", false)
	f.Add("producerGroup=pg\ntopic=T\nqueueId=-1\nsysFlag=8\nbornTimestamp=1\nflag=0\nbatch=TRUE\ntopic=U", true)
	f.Add("a=\nb=\ne=+3\nf=0x1\ng=-0\nh=2147483648\nd=x", false)
	f.Fuzz(func(t *testing.T, in string, v1 bool) {
		fields := &sendFieldsV2
		if v1 {
			fields = &sendFieldsV1
		}
		req := remoting.NewRequest(remoting.RequestSendMessageV2)
		defer req.Release()
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			req.ExtFields = append(req.ExtFields, remoting.Field{Key: k, Value: v})
		}
		got, gotErr := parseSendHeader(req, fields)
		want, wantErr := parseSendHeaderByLookup(req, fields)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
		if gotErr == nil && got != want {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
}

// parseSendHeaderByLookup is the send header parser before the one-pass one: a lookup per field.
func parseSendHeaderByLookup(req *remoting.Command, f *sendFields) (sendHeader, error) {
	var h sendHeader
	var err error
	n := &f.names
	if h.producerGroup, err = req.GetString(n[sendProducerGroup]); err != nil {
		return h, badField(n[sendProducerGroup], err)
	}
	if h.topic, err = req.GetString(n[sendTopic]); err != nil {
		return h, badField(n[sendTopic], err)
	}
	h.defaultTopic = req.Ext(n[sendDefaultTopic])
	if h.defaultTopicQueueNums, err = req.GetInt32(n[sendDefaultTopicQueueNums]); err != nil {
		h.defaultTopicQueueNums = 4
	}
	if h.queueID, err = req.GetInt32(n[sendQueueID]); err != nil {
		return h, badField(n[sendQueueID], err)
	}
	if h.sysFlag, err = req.GetInt32(n[sendSysFlag]); err != nil {
		return h, badField(n[sendSysFlag], err)
	}
	if h.bornTimestamp, err = req.GetInt64(n[sendBornTimestamp]); err != nil {
		return h, badField(n[sendBornTimestamp], err)
	}
	if h.flag, err = req.GetInt32(n[sendFlag]); err != nil {
		return h, badField(n[sendFlag], err)
	}
	h.properties = req.Ext(n[sendProperties])
	if v, err := req.GetInt32(n[sendReconsumeTimes]); err == nil {
		h.reconsumeTimes = v
	}
	if v, err := req.GetInt32(n[sendMaxReconsumeTimes]); err == nil {
		h.maxReconsumeTimes = v
	}
	h.batch, _ = req.GetBool(n[sendBatch])
	return h, nil
}
