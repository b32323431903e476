package namesrv

import (
	"bytes"
	"testing"

	"github.com/valyala/fastjson"
)

// Seeds beyond these live in testdata/fuzz/<target>/.

func FuzzDecodeRoute(f *testing.F) {
	f.Add(EncodeRoute(nil, twoBrokerRoute, true))
	f.Add(EncodeRoute(nil, twoBrokerRoute, false))
	f.Add([]byte(`{"queueDatas":[{"brokerName":"a","topicSynFlag":1}],"brokerDatas":[{"brokerAddrs":{ -1 : "x"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r1, err := DecodeRoute(b)
		if err != nil {
			return
		}
		// Encoding normalizes (sorting, invalid UTF-8); after one pass both
		// forms must be fixed points.
		for _, legacy := range []bool{true, false} {
			e1 := EncodeRoute(nil, r1, legacy)
			r2, err := DecodeRoute(e1)
			if err != nil {
				t.Fatalf("legacy=%v: own output does not decode: %v\n%s", legacy, err, e1)
			}
			e2 := EncodeRoute(nil, r2, legacy)
			r3, err := DecodeRoute(e2)
			if err != nil {
				t.Fatal(err)
			}
			if e3 := EncodeRoute(nil, r3, legacy); !bytes.Equal(e2, e3) {
				t.Fatalf("legacy=%v: not a fixed point:\n%s\n%s", legacy, e2, e3)
			}
			if !legacy && fastjson.ValidateBytes(e1) != nil {
				t.Fatalf("standard form is not JSON: %s", e1)
			}
		}
	})
}

func FuzzDecodeRegisterBody(f *testing.F) {
	f.Add(appendRegisterBody(nil, &Registration{Topics: topicSet(4, "T", "U"), DataVersion: DataVersion{1, 2}}))
	f.Add([]byte(`{"dataVersion":{"counter":1},"topicConfigTable":{"X":{"perm":6}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, dv, err := decodeRegisterBody(b)
		if err != nil {
			return
		}
		e1 := appendRegisterBody(nil, &Registration{Topics: topics, DataVersion: dv})
		topics2, dv2, err := decodeRegisterBody(e1)
		if err != nil {
			t.Fatalf("own output does not decode: %v\n%s", err, e1)
		}
		if e2 := appendRegisterBody(nil, &Registration{Topics: topics2, DataVersion: dv2}); !bytes.Equal(e1, e2) {
			t.Fatalf("not a fixed point:\n%s\n%s", e1, e2)
		}
	})
}

func FuzzDecodeClusterInfo(f *testing.F) {
	f.Add([]byte(`{"brokerAddrTable":{"a":{"brokerAddrs":{0:"h:1"},"brokerName":"a","cluster":"C"}},"clusterAddrTable":{"C":["a"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		brokers, clusters, err := DecodeClusterInfo(b)
		if err != nil {
			return
		}
		e := appendClusterInfo(nil, brokers, clusters, true)
		if _, _, err := DecodeClusterInfo(e); err != nil {
			t.Fatalf("own output does not decode: %v\n%s", err, e)
		}
	})
}

// FuzzQuoteBareKeys checks that valid JSON passes unchanged and that
// quoting never breaks a document fastjson accepts after quoting.
func FuzzQuoteBareKeys(f *testing.F) {
	f.Add([]byte(`{0:"a",1:"b"}`))
	f.Add([]byte(`{"k":"{0:\"x\\\"\",1:","a":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q := quoteBareKeys(b)
		if fastjson.ValidateBytes(b) == nil && !bytes.Equal(q, b) {
			t.Fatalf("valid JSON changed:\n%s\n%s", b, q)
		}
		if !bytes.Equal(quoteBareKeys(q), q) {
			t.Fatalf("not idempotent:\n%s\n%s", q, quoteBareKeys(q))
		}
	})
}
