package namesrv

import (
	"errors"
	"maps"
	"testing"
)

func TestAlterAttributes(t *testing.T) {
	cur := map[string]string{AttrMessageType: MessageFIFO}
	for _, tt := range []struct {
		cur    map[string]string
		alter  string
		create bool
		want   map[string]string
		bad    bool
	}{
		{nil, "", true, nil, false},
		{nil, "+message.type=FIFO", true, cur, false},
		{cur, "", false, cur, false},
		{cur, "+message.type=NORMAL", false, map[string]string{AttrMessageType: MessageNormal}, false},
		{cur, "-message.type", false, nil, false},
		{cur, "-message.type", true, nil, true},
		{nil, "+message.type=fifo", true, nil, true},
		{nil, "+cleanup.policy=COMPACTION", true, nil, true},
		{nil, "message.type=FIFO", true, nil, true},
		{nil, "+message.type=", true, nil, true},
	} {
		got, err := AlterAttributes(tt.cur, tt.alter, tt.create)
		if tt.bad != (err != nil) || (err != nil && !errors.Is(err, ErrBadAttribute)) || !maps.Equal(got, tt.want) {
			t.Errorf("AlterAttributes(%v, %q, %v) = %v, %v", tt.cur, tt.alter, tt.create, got, err)
		}
	}
	if cur[AttrMessageType] != MessageFIFO {
		t.Errorf("current attributes modified: %v", cur)
	}
	if s := FormatAttributes(map[string]string{"b": "2", AttrMessageType: MessageFIFO}); s != "+b=2,+message.type=FIFO" {
		t.Errorf("FormatAttributes = %q", s)
	}
	if (TopicConfig{}).MessageType() != MessageMixed || (TopicConfig{Attributes: cur}).MessageType() != MessageFIFO {
		t.Error("MessageType")
	}
}
