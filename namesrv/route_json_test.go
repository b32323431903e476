package namesrv

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	jsoniter "github.com/json-iterator/go"
	"github.com/tidwall/gjson"
)

// twoBrokerRoute is broker-a (master and slave) and broker-b (master).
var twoBrokerRoute = TopicRoute{
	QueueDatas: []QueueData{
		{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: PermRW},
		{BrokerName: "broker-b", ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRW | PermInherit, TopicSysFlag: 1},
	},
	BrokerDatas: []BrokerData{
		{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{1: "127.0.0.2:10911", 0: "127.0.0.1:10911"}},
		{Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "127.0.0.3:10911"}},
	},
}

func TestEncodeRouteGolden(t *testing.T) {
	tests := []struct {
		name     string
		route    TopicRoute
		legacy   string
		standard string
	}{
		{
			name:  "two brokers",
			route: twoBrokerRoute,
			legacy: `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"},` +
				`{"brokerAddrs":{0:"127.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster"}],"filterServerTable":{},` +
				`"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4},` +
				`{"brokerName":"broker-b","perm":7,"readQueueNums":8,"topicSynFlag":1,"topicSysFlag":1,"writeQueueNums":8}]}`,
			standard: `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"},` +
				`{"brokerAddrs":{"0":"127.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster"}],"filterServerTable":{},` +
				`"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4},` +
				`{"brokerName":"broker-b","perm":7,"readQueueNums":8,"topicSynFlag":1,"topicSysFlag":1,"writeQueueNums":8}]}`,
		},
		{
			name:     "empty route keeps every member",
			route:    TopicRoute{},
			legacy:   `{"brokerDatas":[],"filterServerTable":{},"queueDatas":[]}`,
			standard: `{"brokerDatas":[],"filterServerTable":{},"queueDatas":[]}`,
		},
		{
			name: "group without addresses keeps brokerAddrs",
			route: TopicRoute{
				BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "b"}},
			},
			legacy:   `{"brokerDatas":[{"brokerAddrs":{},"brokerName":"b","cluster":"c"}],"filterServerTable":{},"queueDatas":[]}`,
			standard: `{"brokerDatas":[{"brokerAddrs":{},"brokerName":"b","cluster":"c"}],"filterServerTable":{},"queueDatas":[]}`,
		},
		{
			name: "non-ASCII and escapes",
			route: TopicRoute{
				QueueDatas:  []QueueData{{BrokerName: "bröker😀", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead}},
				BrokerDatas: []BrokerData{{Cluster: "c\"\\\n", BrokerName: "bröker😀", BrokerAddrs: map[int64]string{0: "h:1", 2: "h:2"}}},
			},
			legacy: `{"brokerDatas":[{"brokerAddrs":{0:"h:1",2:"h:2"},"brokerName":"bröker😀","cluster":"c\"\\\n"}],"filterServerTable":{},` +
				`"queueDatas":[{"brokerName":"bröker😀","perm":4,"readQueueNums":1,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":1}]}`,
			standard: `{"brokerDatas":[{"brokerAddrs":{"0":"h:1","2":"h:2"},"brokerName":"br\u00f6ker\ud83d\ude00","cluster":"c\"\\\n"}],"filterServerTable":{},` +
				`"queueDatas":[{"brokerName":"br\u00f6ker\ud83d\ude00","perm":4,"readQueueNums":1,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":1}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, form := range []struct {
				legacy bool
				want   string
			}{{true, tt.legacy}, {false, tt.standard}} {
				prefix := []byte("prefix")
				got := EncodeRoute(prefix, tt.route, form.legacy)
				if !strings.HasPrefix(string(got), "prefix") {
					t.Fatalf("legacy=%v: dst prefix lost", form.legacy)
				}
				if string(got[len(prefix):]) != form.want {
					t.Errorf("legacy=%v:\n got %s\nwant %s", form.legacy, got[len(prefix):], form.want)
				}
				if strings.ContainsAny(string(got), " \t\r") {
					t.Errorf("legacy=%v: not compact: %s", form.legacy, got)
				}
				back, err := DecodeRoute(got[len(prefix):])
				if err != nil {
					t.Fatalf("legacy=%v: DecodeRoute: %v", form.legacy, err)
				}
				if !routesEqual(back, tt.route) {
					t.Errorf("legacy=%v: round trip:\n got %+v\nwant %+v", form.legacy, back, tt.route)
				}
			}
		})
	}
}

// routesEqual compares routes treating nil and empty slices and maps alike.
func routesEqual(a, b TopicRoute) bool {
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
		if x.Cluster != y.Cluster || x.BrokerName != y.BrokerName || len(x.BrokerAddrs) != len(y.BrokerAddrs) {
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

func TestDecodeRoute(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TopicRoute
		err  bool
	}{
		{
			name: "java 4.9 legacy",
			in:   `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"a","cluster":"C"}],"filterServerTable":{},"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`,
			want: TopicRoute{
				QueueDatas:  []QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
				BrokerDatas: []BrokerData{{Cluster: "C", BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}}},
			},
		},
		{
			name: "pre-4.9 topicSynFlag only",
			in:   `{"brokerDatas":[],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":4,"topicSynFlag":3,"writeQueueNums":2}]}`,
			want: TopicRoute{QueueDatas: []QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 2, Perm: 6, TopicSysFlag: 3}}},
		},
		{
			name: "topicSysFlag wins over topicSynFlag",
			in:   `{"queueDatas":[{"brokerName":"a","topicSynFlag":3,"topicSysFlag":5}]}`,
			want: TopicRoute{QueueDatas: []QueueData{{BrokerName: "a", TopicSysFlag: 5}}},
		},
		{
			name: "5.x fields, blanks and negative ids",
			in: `{ "brokerDatas" : [ { "brokerAddrs" : { -1 : "x:1" , "2":"y:2" }, "brokerName":"a", "cluster":"C", "enableActingMaster":false, "zoneName":null } ],
			      "filterServerTable":{}, "orderTopicConf":null, "topicQueueMappingByBroker":{}, "queueDatas":[] }`,
			want: TopicRoute{BrokerDatas: []BrokerData{{Cluster: "C", BrokerName: "a", BrokerAddrs: map[int64]string{-1: "x:1", 2: "y:2"}}}},
		},
		{
			name: "string containing what looks like a bare key",
			in:   `{"brokerDatas":[{"brokerAddrs":{},"brokerName":"{1:\"x\",2:","cluster":"C"}]}`,
			want: TopicRoute{BrokerDatas: []BrokerData{{Cluster: "C", BrokerName: `{1:"x",2:`, BrokerAddrs: map[int64]string{}}}},
		},
		{name: "not JSON", in: `{"queueDatas":[`, err: true},
		{name: "not an object", in: `[1,2]`, err: true},
		{name: "queueDatas not an array", in: `{"queueDatas":{}}`, err: true},
		{name: "string perm", in: `{"queueDatas":[{"perm":"6"}]}`, err: true},
		{name: "perm beyond int32", in: `{"queueDatas":[{"perm":4294967296}]}`, err: true},
		{name: "non-integer brokerAddrs key", in: `{"brokerDatas":[{"brokerAddrs":{"master":"x:1"}}]}`, err: true},
		{name: "non-string address", in: `{"brokerDatas":[{"brokerAddrs":{0:1}}]}`, err: true},
		{name: "broker data not an object", in: `{"brokerDatas":[1]}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRoute([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrMalformedRoute) {
					t.Fatalf("err = %v, want ErrMalformedRoute", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !routesEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestQuoteBareKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{0:"a",1:"b"}`, `{"0":"a","1":"b"}`},
		{`{ 0 : "a" , -12:"b"}`, `{ "0" : "a" , "-12":"b"}`},
		{`[1,2,3]`, `[1,2,3]`},
		{`{"a":[1,2],"b":{3:4}}`, `{"a":[1,2],"b":{"3":4}}`},
		{`{"k":"{0:\"x\\\"\",1:"}`, `{"k":"{0:\"x\\\"\",1:"}`},
		{`{"0":"a"}`, `{"0":"a"}`},
		{`{-:1}`, `{"-":1}`}, // any bare key is quoted; the parser decides
		{``, ``},
	}
	for _, tt := range tests {
		if got := string(quoteBareKeys([]byte(tt.in))); got != tt.want {
			t.Errorf("quoteBareKeys(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// clientGoQueueData is rocketmq-client-go's QueueData as jsoniter decodes it
// (internal/route.go): it reads the old spelling topicSynFlag.
type clientGoQueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	TopicSynFlag   int    `json:"topicSynFlag"`
}

// clientGoDecode applies rocketmq-client-go's TopicRouteData.decode rules
// (clientgo.md §5) literally: queueDatas through jsoniter, brokerAddrs cut
// apart as text.
func clientGoDecode(t *testing.T, data string) ([]clientGoQueueData, map[string]map[int64]string) {
	t.Helper()
	res := gjson.Parse(data)
	var qds []clientGoQueueData
	if err := jsoniter.Unmarshal([]byte(res.Get("queueDatas").String()), &qds); err != nil {
		t.Fatalf("client-go queueDatas decode: %v", err)
	}
	brokers := make(map[string]map[int64]string)
	for _, v := range res.Get("brokerDatas").Array() {
		addrs := v.Get("brokerAddrs").String()
		if len(addrs) < 2 {
			t.Fatalf("client-go would panic: brokerAddrs = %q", addrs)
		}
		m := make(map[int64]string)
		for _, str := range strings.Split(addrs[1:len(addrs)-1], ",") {
			i := strings.Index(str, ":")
			if i < 0 {
				continue
			}
			id, _ := strconv.ParseInt(strings.ReplaceAll(str[0:i], `"`, ""), 10, 64)
			m[id] = strings.ReplaceAll(str[i+1:], `"`, "")
		}
		brokers[v.Get("brokerName").String()] = m
	}
	return qds, brokers
}

func TestClientGoParsesLegacyRoute(t *testing.T) {
	routes := []struct {
		name  string
		route TopicRoute
	}{
		{"two brokers", twoBrokerRoute},
		{"group without addresses", TopicRoute{
			QueueDatas:  []QueueData{{BrokerName: "b", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRW}},
			BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "b"}},
		}},
		{"many ids", TopicRoute{
			QueueDatas:  []QueueData{{BrokerName: "b", ReadQueueNums: 16, WriteQueueNums: 16, Perm: PermRW}},
			BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "b", BrokerAddrs: map[int64]string{0: "10.1.2.3:10911", 1: "10.1.2.4:10911", 12: "[::1]:10911"}}},
		}},
	}
	for _, tt := range routes {
		for _, legacy := range []bool{true, false} {
			t.Run(tt.name+"/legacy="+strconv.FormatBool(legacy), func(t *testing.T) {
				qds, brokers := clientGoDecode(t, string(EncodeRoute(nil, tt.route, legacy)))
				if len(qds) != len(tt.route.QueueDatas) {
					t.Fatalf("client sees %d queue datas, want %d", len(qds), len(tt.route.QueueDatas))
				}
				for i, q := range tt.route.QueueDatas {
					want := clientGoQueueData{q.BrokerName, q.ReadQueueNums, q.WriteQueueNums, q.Perm, q.TopicSysFlag}
					if qds[i] != want {
						t.Errorf("queueDatas[%d] = %+v, want %+v", i, qds[i], want)
					}
				}
				if len(brokers) != len(tt.route.BrokerDatas) {
					t.Fatalf("client sees %d brokers, want %d", len(brokers), len(tt.route.BrokerDatas))
				}
				for _, bd := range tt.route.BrokerDatas {
					want := bd.BrokerAddrs
					if want == nil {
						want = map[int64]string{}
					}
					if got := brokers[bd.BrokerName]; !reflect.DeepEqual(got, want) {
						t.Errorf("brokerAddrs of %s = %v, want %v", bd.BrokerName, got, want)
					}
				}
			})
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		in, utf8, ascii string
	}{
		{"plain", `"plain"`, `"plain"`},
		{"a\"b\\c", `"a\"b\\c"`, `"a\"b\\c"`},
		{"\x00\x1f\b\f\n\r\t", `"\u0000\u001f\b\f\n\r\t"`, `"\u0000\u001f\b\f\n\r\t"`},
		{"é中", `"é中"`, `"\u00e9\u4e2d"`},
		{"😀", `"😀"`, `"\ud83d\ude00"`},
		{"a\xffb", "\"a\uFFFDb\"", `"a\ufffdb"`},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in, false)); got != tt.utf8 {
			t.Errorf("utf8 %q: got %s want %s", tt.in, got, tt.utf8)
		}
		if got := string(appendJSONString(nil, tt.in, true)); got != tt.ascii {
			t.Errorf("ascii %q: got %s want %s", tt.in, got, tt.ascii)
		}
	}
}
