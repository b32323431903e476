package remoting

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// escapy is an ext value that needs every kind of JSON escaping: a quote,
// a backslash, named control characters, an unnamed one, plus non-ASCII
// and '/', which fastjson writes as they are.
const escapy = "a\"b\\c\nd\te\r\b\f\x01é/<>"

// escapyJSON is escapy as fastjson (Java) writes it.
const escapyJSON = `"a\"b\\c\nd\te\r\b\f\u0001é/<>"`

func goldenRequest() *Command {
	return &Command{
		Code: 310, Language: LanguageGo, Version: 317, Opaque: 7, Flag: 0,
		ExtFields: Fields{{"a", "producerGroup"}, {"b", "TopicTest"}, {"i", escapy}},
		Body:      []byte("hello"),
	}
}

func goldenResponse() *Command {
	return &Command{
		Code: 0, Language: LanguageJava, Version: 401, Opaque: 7, Flag: 1,
		Remark:    "ok \"quoted\"\n",
		ExtFields: Fields{{"msgId", "0A00000100002A9F0000000000000000"}, {"queueId", "3"}, {"queueOffset", "42"}, {"MSG_REGION", "DefaultRegion"}, {"TRACE_ON", "true"}, {"k\"ey", escapy}},
		Body:      nil,
	}
}

var goldenTests = []struct {
	name   string
	cmd    func() *Command
	typ    SerializeType
	header string // JSON text, or hex of the ROCKETMQ header
}{
	{
		name: "json request",
		cmd:  goldenRequest,
		typ:  SerializeJSON,
		header: `{"code":310,"extFields":{"a":"producerGroup","b":"TopicTest","i":` + escapyJSON +
			`},"flag":0,"language":"GO","opaque":7,"version":317}`,
	},
	{
		name: "json response",
		cmd:  goldenResponse,
		typ:  SerializeJSON,
		header: `{"code":0,"extFields":{"msgId":"0A00000100002A9F0000000000000000","queueId":"3","queueOffset":"42",` +
			`"MSG_REGION":"DefaultRegion","TRACE_ON":"true","k\"ey":` + escapyJSON + `},"flag":1,"language":"JAVA",` +
			`"opaque":7,"remark":"ok \"quoted\"\n","version":401}`,
	},
	{
		name: "binary request",
		cmd:  goldenRequest,
		typ:  SerializeRocketMQ,
		header: "0136" + "09" + "013d" + "00000007" + "00000000" + // code 310, GO, version 317, opaque, flag
			"00000000" + // remark: null
			"0000003d" + // ext: 61 bytes
			"0001" + "61" + "0000000d" + hex.EncodeToString([]byte("producerGroup")) +
			"0001" + "62" + "00000009" + hex.EncodeToString([]byte("TopicTest")) +
			"0001" + "69" + "00000012" + hex.EncodeToString([]byte(escapy)),
	},
	{
		name: "binary response",
		cmd:  goldenResponse,
		typ:  SerializeRocketMQ,
		header: "0000" + "00" + "0191" + "00000007" + "00000001" + // SUCCESS, JAVA, 401, opaque 7, response
			"0000000c" + hex.EncodeToString([]byte("ok \"quoted\"\n")) +
			"00000097" + // ext: 151 bytes
			"0005" + hex.EncodeToString([]byte("msgId")) + "00000020" + hex.EncodeToString([]byte("0A00000100002A9F0000000000000000")) +
			"0007" + hex.EncodeToString([]byte("queueId")) + "00000001" + "33" +
			"000b" + hex.EncodeToString([]byte("queueOffset")) + "00000002" + "3432" +
			"000a" + hex.EncodeToString([]byte("MSG_REGION")) + "0000000d" + hex.EncodeToString([]byte("DefaultRegion")) +
			"0008" + hex.EncodeToString([]byte("TRACE_ON")) + "00000004" + hex.EncodeToString([]byte("true")) +
			"0004" + hex.EncodeToString([]byte("k\"ey")) + "00000012" + hex.EncodeToString([]byte(escapy)),
	},
}

func TestGoldenFrames(t *testing.T) {
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			header := []byte(tt.header)
			if tt.typ == SerializeRocketMQ {
				var err error
				if header, err = hex.DecodeString(tt.header); err != nil {
					t.Fatal(err)
				}
			}
			cmd := tt.cmd()
			cmd.SerializeType = tt.typ
			// The frame: length = 4 + header + body, then type<<24 | header length.
			want := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(cmd.Body)))
			want = append(want, byte(tt.typ), byte(len(header)>>16), byte(len(header)>>8), byte(len(header)))
			want = append(want, header...)
			want = append(want, cmd.Body...)

			got, err := AppendFrame(nil, cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("frame mismatch\n got %q\nwant %q", got, want)
			}

			fr := NewFrameReader(bytes.NewReader(want), 4096, DefaultMaxFrameSize)
			dec, err := fr.ReadCommand()
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, dec, cmd)
			if _, err := fr.ReadCommand(); err != io.EOF {
				t.Fatalf("after last frame: %v, want EOF", err)
			}
		})
	}
}

// TestGoldenFramePrefix pins the first bytes of a JSON frame explicitly.
func TestGoldenFramePrefix(t *testing.T) {
	cmd := &Command{Code: 34, Language: LanguageGo, Version: 317, Opaque: 1, Body: []byte("{}")}
	got, err := AppendFrame(nil, cmd)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"code":34,"extFields":{},"flag":0,"language":"GO","opaque":1,"version":317}` // 76 bytes
	want := append([]byte{0, 0, 0, 82, 0, 0, 0, 76}, header+"{}"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func checkSame(t *testing.T, got, want *Command) {
	t.Helper()
	if got.Code != want.Code || got.Language != want.Language || got.Version != want.Version ||
		got.Opaque != want.Opaque || got.Flag != want.Flag || got.Remark != want.Remark ||
		got.SerializeType != want.SerializeType {
		t.Fatalf("decoded %v\n   want %v", got, want)
	}
	if len(got.ExtFields) != len(want.ExtFields) || (len(got.ExtFields) > 0 && !reflect.DeepEqual(got.ExtFields, want.ExtFields)) {
		t.Fatalf("ext %q, want %q", got.ExtFields, want.ExtFields)
	}
	wantBody := want.Body
	for _, p := range want.BodyParts {
		wantBody = append(append([]byte(nil), wantBody...), p...)
	}
	if !bytes.Equal(got.Body, wantBody) {
		t.Fatalf("body %q, want %q", got.Body, wantBody)
	}
}

// TestDecodeGoClientJSON decodes the header shape rocketmq-client-go sends
// (../shared/spec/clientgo.md §1): jsoniter field order, language as a
// name, remark "", HTML-escaped strings, no serializeTypeCurrentRPC.
func TestDecodeGoClientJSON(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Command
	}{
		{
			name:   "send",
			header: `{"code":310,"language":"GO","version":317,"opaque":8,"flag":0,"remark":"","extFields":{"a":"pg","b":"T","i":"KEYS\u0001k1\u0002TAGS\u0001\u003ctag\u003e\u0002"}}`,
			want: Command{Code: 310, Language: LanguageGo, Version: 317, Opaque: 8,
				ExtFields: Fields{{"a", "pg"}, {"b", "T"}, {"i", "KEYS\x01k1\x02TAGS\x01<tag>\x02"}}},
		},
		{
			name:   "heartbeat empty ext",
			header: `{"code":34,"language":"GO","version":317,"opaque":9,"flag":0,"remark":"","extFields":{}}`,
			want:   Command{Code: 34, Language: LanguageGo, Version: 317, Opaque: 9},
		},
		{
			name:   "java with serializeTypeCurrentRPC",
			header: `{"code":105,"extFields":{"topic":"T"},"flag":0,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":409}`,
			want:   Command{Code: 105, Language: LanguageJava, Version: 409, Opaque: 3, ExtFields: Fields{{"topic", "T"}}},
		},
		{
			name:   "nulls, numeric language, non-string values",
			header: `{"code":-1006,"language":9,"remark":null,"extFields":{"n":12,"b":true,"z":null,"o":{"x":[1]}},"flag":3}`,
			want: Command{Code: -1006, Language: LanguageGo, Flag: 3,
				ExtFields: Fields{{"n", "12"}, {"b", "true"}, {"o", `{"x":[1]}`}}},
		},
		{
			name:   "unknown language",
			header: `{"code":1,"language":"COBOL","extFields":null}`,
			want:   Command{Code: 1, Language: LanguageOther},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Command
			if err := decodeJSONHeader([]byte(tt.header), &c); err != nil {
				t.Fatal(err)
			}
			checkSame(t, &c, &tt.want)
		})
	}
}

// goClientCommand mirrors the struct rocketmq-client-go decodes response
// headers into with jsoniter (internal/remote/codec.go RemotingCommand); like
// jsoniter, encoding/json rejects a non-string value in a string map.
type goClientCommand struct {
	Code      int16             `json:"code"`
	Language  any               `json:"language"`
	Version   int16             `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int32             `json:"flag"`
	Remark    string            `json:"remark"`
	ExtFields map[string]string `json:"extFields"`
}

func TestGoClientReadsOurJSON(t *testing.T) {
	resp := goldenResponse()
	header := appendJSONHeader(nil, resp)
	var got goClientCommand
	if err := json.Unmarshal(header, &got); err != nil {
		t.Fatalf("client would drop the frame: %v\n%s", err, header)
	}
	if got.Flag&1 != 1 || got.Opaque != 7 || got.Remark != resp.Remark || got.ExtFields["k\"ey"] != escapy || len(got.ExtFields) != 6 {
		t.Fatalf("client reads %+v", got)
	}
	// Every string escaping path round-trips through a strict decoder.
	for b := 0; b < 256; b++ {
		s := "x" + string([]byte{byte(b)}) + "y"
		var back string
		enc := appendJSONString(nil, s)
		if err := json.Unmarshal(enc, &back); err != nil && b < 0x80 {
			t.Fatalf("byte %#x: %s: %v", b, enc, err)
		}
		if b < 0x80 && back != s {
			t.Fatalf("byte %#x: %q back as %q", b, s, back)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want error
	}{
		{"binary code beyond int16", Command{Code: 200050, SerializeType: SerializeRocketMQ}, ErrFieldTooLong},
		{"binary version beyond int16", Command{Version: 40000, SerializeType: SerializeRocketMQ}, ErrFieldTooLong},
		{"binary key too long", Command{ExtFields: Fields{{strings.Repeat("k", 40000), ""}}, SerializeType: SerializeRocketMQ}, ErrFieldTooLong},
		{"unknown serialize type", Command{SerializeType: 7}, ErrUnknownSerializeType},
		{"frame too large", Command{Body: make([]byte, DefaultMaxFrameSize)}, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendFrame(dst, &tt.cmd)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst changed to %q", got)
			}
		})
	}
	// POP_MESSAGE fits a JSON header.
	if _, err := AppendFrame(nil, &Command{Code: 200050}); err != nil {
		t.Fatal(err)
	}
}

func frameOf(typ SerializeType, header []byte, body []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	f = binary.BigEndian.AppendUint32(f, uint32(typ)<<24|uint32(len(header)))
	f = append(f, header...)
	return append(f, body...)
}

func TestDecodeErrors(t *testing.T) {
	good, _ := AppendFrame(nil, goldenRequest())
	binReq := goldenRequest()
	binReq.SerializeType = SerializeRocketMQ
	binGood, _ := AppendFrame(nil, binReq)
	binHeader := binGood[8 : len(binGood)-5]
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"2 GiB length", []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, ErrFrameTooLarge},
		{"max uint32 length", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"just over the limit", binary.BigEndian.AppendUint32(nil, DefaultMaxFrameSize-3), ErrFrameTooLarge},
		{"length below 4", []byte{0, 0, 0, 3, 0, 0, 0}, ErrMalformedFrame},
		{"header longer than frame", []byte{0, 0, 0, 5, 0, 0, 0, 2, '{'}, ErrMalformedFrame},
		{"serialize type 2", frameOf(2, []byte("{}"), nil), ErrUnknownSerializeType},
		{"json not an object", frameOf(SerializeJSON, []byte("[1]"), nil), ErrMalformedHeader},
		{"json garbage", frameOf(SerializeJSON, []byte("{\"code\":"), nil), ErrMalformedHeader},
		{"json code not int32", frameOf(SerializeJSON, []byte(`{"code":4294967296}`), nil), ErrMalformedHeader},
		{"json code string", frameOf(SerializeJSON, []byte(`{"code":"10"}`), nil), ErrMalformedHeader},
		{"json remark number", frameOf(SerializeJSON, []byte(`{"remark":1}`), nil), ErrMalformedHeader},
		{"json ext array", frameOf(SerializeJSON, []byte(`{"extFields":[]}`), nil), ErrMalformedHeader},
		{"binary short", frameOf(SerializeRocketMQ, binHeader[:20], nil), ErrMalformedHeader},
		{"binary ext truncated", frameOf(SerializeRocketMQ, binHeader[:len(binHeader)-1], nil), ErrMalformedHeader},
		{"binary remark negative", frameOf(SerializeRocketMQ, append(append([]byte{}, binHeader[:13]...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), nil), ErrMalformedHeader},
		{"binary key negative", frameOf(SerializeRocketMQ, append(append([]byte{}, binHeader[:17]...), 0, 0, 0, 2, 0x80, 0), nil), ErrMalformedHeader},
		{"truncated frame", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"truncated length", good[:2], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, bufSize := range []int{512, 1 << 16} {
				fr := NewFrameReader(iotest.OneByteReader(bytes.NewReader(tt.input)), bufSize, DefaultMaxFrameSize)
				c, err := fr.ReadCommand()
				if !errors.Is(err, tt.want) {
					t.Fatalf("bufSize %d: got %v, %v; want %v", bufSize, c, err, tt.want)
				}
			}
		})
	}
}

// TestFrameReaderLargeAndChunked reads frames smaller and larger than the
// read buffer, delivered in every chunking.
func TestFrameReaderLargeAndChunked(t *testing.T) {
	var stream []byte
	var want []*Command
	for i, size := range []int{0, 1, 100, 600, 5000, 70000} {
		c := goldenRequest()
		c.Opaque = int32(i)
		c.SerializeType = SerializeType(i % 2)
		c.Body = bytes.Repeat([]byte{byte(i)}, size)
		if i == 5 {
			c.Body = c.Body[:1000]
			c.BodyParts = [][]byte{bytes.Repeat([]byte{9}, size-1000)}
		}
		var err error
		stream, err = AppendFrame(stream, c)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c)
	}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(stream) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(r(), 1024, DefaultMaxFrameSize)
			for _, w := range want {
				c, err := fr.ReadCommand()
				if err != nil {
					t.Fatal(err)
				}
				checkSame(t, c, w)
				c.Release()
			}
			if _, err := fr.ReadCommand(); err != io.EOF {
				t.Fatalf("got %v, want EOF", err)
			}
		})
	}
}

func TestCodesAndLanguage(t *testing.T) {
	if RequestSendMessageV2.String() != "SEND_MESSAGE_V2" || RequestCode(9999).String() != "RequestCode(9999)" {
		t.Fatal(RequestSendMessageV2, RequestCode(9999))
	}
	if ResponseRPCTimeOut.String() != "RPC_TIME_OUT" || ResponseCode(-5).String() != "ResponseCode(-5)" {
		t.Fatal(ResponseRPCTimeOut)
	}
	// Every code has one name, and no two codes share it (the metrics label them by name).
	seen := map[string]bool{}
	for code, name := range requestCodeNames {
		if name == "" || seen["req "+name] {
			t.Fatalf("request code %d: name %q empty or repeated", code, name)
		}
		seen["req "+name] = true
	}
	for code, name := range responseCodeNames {
		if name == "" || seen["resp "+name] {
			t.Fatalf("response code %d: name %q empty or repeated", code, name)
		}
		seen["resp "+name] = true
	}
	for i := range 14 {
		l := Language(i)
		back, ok := ParseLanguage(l.String())
		if !ok || back != l {
			t.Fatalf("%d: %s → %d", i, l, back)
		}
	}
	if _, ok := ParseLanguage("COBOL"); ok || Language(99).String() != "Language(99)" {
		t.Fatal("unknown language")
	}
}

func TestCommandHelpers(t *testing.T) {
	req := NewRequest(RequestPullMessage)
	req.SerializeType = SerializeRocketMQ
	req.Opaque = 77
	req.SetExtInt64("queueOffset", -12)
	req.SetExtBool("unitMode", true)
	req.SetExt("topic", "T")
	req.SetExt("topic", "T2")
	req.SetExt("big", "99999999999")
	req.SetExt("bad", "x1")
	if v, err := req.GetInt64("queueOffset"); err != nil || v != -12 {
		t.Fatal(v, err)
	}
	if v, err := req.GetBool("unitMode"); err != nil || !v {
		t.Fatal(v, err)
	}
	if v, err := req.GetString("topic"); err != nil || v != "T2" || len(req.ExtFields) != 5 {
		t.Fatal(v, err, req.ExtFields)
	}
	if _, err := req.GetInt32("big"); !errors.Is(err, ErrBadField) {
		t.Fatal(err)
	}
	if _, err := req.GetInt64("bad"); !errors.Is(err, ErrBadField) {
		t.Fatal(err)
	}
	if _, err := req.GetInt64("none"); !errors.Is(err, ErrMissingField) {
		t.Fatal(err)
	}
	if _, err := req.GetString("none"); !errors.Is(err, ErrMissingField) {
		t.Fatal(err)
	}
	req.ExtFields.Del("bad")
	if req.Ext("bad") != "" || len(req.ExtFields) != 4 {
		t.Fatal(req.ExtFields)
	}
	resp := NewResponse(req, ResponsePullNotFound, "NO_MESSAGE_IN_QUEUE")
	if !resp.IsResponse() || resp.IsOneway() || resp.Opaque != 77 || resp.SerializeType != SerializeRocketMQ ||
		resp.ResponseCode() != ResponsePullNotFound || req.RequestCode() != RequestPullMessage {
		t.Fatal(resp)
	}
	if !strings.Contains(resp.String(), "PULL_NOT_FOUND") || !strings.Contains(req.String(), "PULL_MESSAGE") {
		t.Fatal(resp.String(), req.String())
	}
	released := 0
	resp.BodyParts = [][]byte{[]byte("ab"), []byte("c")}
	resp.BodyRelease = func() { released++ }
	if resp.BodyLen() != 3 {
		t.Fatal(resp.BodyLen())
	}
	resp.Release()
	req.Release()
	if released != 1 {
		t.Fatal(released)
	}
}
