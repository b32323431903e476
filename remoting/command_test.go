package remoting

import (
	"bytes"
	"testing"
)

// TestAddExtBytes: fields added from bytes read back as given, including after the command's
// buffer grew, encode like SetExt's, and a pooled command adds them without allocating.
func TestAddExtBytes(t *testing.T) {
	req := NewRequest(RequestSendMessageV2)
	defer req.Release()
	resp := NewResponse(req, ResponseSuccess, "")
	long := bytes.Repeat([]byte("x"), 100) // more than the first buffer: grows it
	resp.AddExtBytes("msgId", []byte("7F00000100002A9F0000000000001234"))
	resp.AddExtInt64("queueOffset", 1234567890123)
	resp.AddExtBytes("empty", nil)
	resp.AddExtBytes("long", long)
	resp.AddExtInt64("neg", -5)
	want := Fields{{"msgId", "7F00000100002A9F0000000000001234"}, {"queueOffset", "1234567890123"}, {"empty", ""}, {"long", string(long)}, {"neg", "-5"}}
	if len(resp.ExtFields) != len(want) {
		t.Fatalf("fields %v", resp.ExtFields)
	}
	for i, f := range want {
		if resp.ExtFields[i] != f {
			t.Fatalf("field %d: %q, want %q", i, resp.ExtFields[i], f)
		}
	}
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		resp.SerializeType = st
		got, err := AppendFrame(nil, resp)
		if err != nil {
			t.Fatal(err)
		}
		ref := NewResponse(req, ResponseSuccess, "")
		ref.SerializeType = st
		for _, f := range want {
			ref.SetExt(f.Key, f.Value)
		}
		exp, err := AppendFrame(nil, ref)
		ref.Release()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, exp) {
			t.Fatalf("%v frame differs from SetExt's", st)
		}
	}
	resp.Release()

	if raceEnabled {
		return
	}
	allocs := testing.AllocsPerRun(100, func() {
		c := NewResponse(req, ResponseSuccess, "")
		c.AddExtBytes("msgId", []byte("7F00000100002A9F0000000000001234"))
		c.AddExtInt64("queueOffset", 1234567890123)
		if c.Ext("queueOffset") != "1234567890123" {
			t.Fatal("queueOffset")
		}
		c.Release()
	})
	if allocs > 0.1 { // sync.Pool may drop an item in a GC
		t.Fatalf("%.1f allocations per response", allocs)
	}
}
