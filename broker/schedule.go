package broker

import (
	"encoding/json"
	"strconv"
)

// Delay levels and timer messages are the store's (store/timer.go): a message with DELAY=n > 0
// (a send, or a retry copy made by CONSUMER_SEND_MSG_BACK) or with a timer property
// (TIMER_DELIVER_MS, __STARTDELIVERTIME, TIMER_DELAY_SEC, TIMER_DELAY_MS) is kept by the store
// under its timer topic and appended to its real topic and queue when due; the send answer names
// the queue asked for. The level table is the store's Options.DelayLevels, set from
// messageDelayLevel.
//
// GET_ALL_DELAY_OFFSET still answers RocketMQ's DelayOffsetSerializeWrapper
//
//	{"offsetTable":{"1":12,"3":4}}   delay level → next SCHEDULE_TOPIC_XXXX offset to deliver
//
// for the schedule queues of data written before timers (the store migrates the broker's old
// config/delayOffset.json once, and keeps the positions in its timer checkpoint).

// delayFileContent is the GET_ALL_DELAY_OFFSET body.
type delayFileContent struct {
	OffsetTable map[string]int64 `json:"offsetTable"`
}

// encodeDelayOffsets is the GET_ALL_DELAY_OFFSET body for the given offsets.
func encodeDelayOffsets(offsets map[int]int64) ([]byte, error) {
	f := delayFileContent{OffsetTable: make(map[string]int64, len(offsets))}
	for level, off := range offsets {
		f.OffsetTable[strconv.Itoa(level)] = off
	}
	return json.Marshal(f)
}
