package txn

import (
	"errors"
	"strconv"
)

// System topics, group and tag of RocketMQ's transactional design (spec
// §6.1). Frozen: they name queues on disk and on the wire.
const (
	// HalfTopic holds every half message, in queue 0.
	HalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC"
	// OpTopic holds the op messages (deletion markers), in queue 0.
	OpTopic = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	// DiscardTopic receives a copy of every discarded half message, queue 0.
	DiscardTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	// SystemGroup is RocketMQ's internal consumer group of the two queues.
	SystemGroup = "CID_RMQ_SYS_TRANS"
	// OpTag is the TAGS of every op message.
	OpTag = "d"
)

// mqstore's op-message properties. RocketMQ ignores unknown properties, so
// op messages written by mqstore stay readable by RocketMQ's check loop.
// Frozen.
const (
	// PropertyEnd says how the half messages of an op message were ended:
	// one of the End* values. Absent on op messages written by RocketMQ.
	PropertyEnd = "MQSTORE_TRAN_END"
	// PropertyHorizon is a decimal commitlog offset H: every commit whose
	// restored message sits below H has its op marker in this op message or
	// an earlier one. New searches for restored messages whose op marker
	// was lost only from H on (see docs/TRANSACTIONS.md).
	PropertyHorizon = "MQSTORE_TRAN_HORIZON"
)

// Values of PropertyEnd. Frozen.
const (
	EndCommit   = "C" // committed: the restored message was appended
	EndRollback = "R" // rolled back
	EndDiscard  = "D" // discarded to DiscardTopic
	EndResume   = "S" // discarded, then resumed as a new half message
)

// MaxOpBody is the longest op body mqstore writes (RocketMQ 5.x's
// transactionOpMsgMaxSize). Longer batches are split.
const MaxOpBody = 4096

// maxOpBodyRead caps the op body New and Commit parse; a longer body is
// ignored as corrupt.
const maxOpBodyRead = 1 << 20

// errBadOpBody: an op body holds something other than decimal offsets.
var errBadOpBody = errors.New("txn: malformed op body")

// Op body format, RocketMQ's (spec §6.4): the half messages' queue offsets
// in decimal ASCII, separated by ','.
//
//	"1234"          one offset (RocketMQ 4.9, and mqstore for a batch of one)
//	"12,13,17"      several (mqstore)
//	"12,13,17,"     several with a trailing comma (RocketMQ 5.1+)
//
// appendOpOffset appends one offset, with a separating comma when dst is
// not empty.
func appendOpOffset(dst []byte, queueOffset int64) []byte {
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	return strconv.AppendInt(dst, queueOffset, 10)
}

// parseOpBody calls fn for each offset in body. Empty pieces (a trailing
// comma) are skipped. A piece that is not a non-negative decimal int64 is
// skipped too, and parseOpBody then returns errBadOpBody after the valid
// offsets were passed to fn; a body longer than maxOpBodyRead is rejected
// whole.
func parseOpBody(body []byte, fn func(queueOffset int64)) error {
	if len(body) > maxOpBodyRead {
		return errBadOpBody
	}
	var err error
	for len(body) > 0 {
		i := 0
		for i < len(body) && body[i] != ',' {
			i++
		}
		if piece := body[:i]; len(piece) > 0 {
			if v, ok := parseDecimal(piece); ok {
				fn(v)
			} else {
				err = errBadOpBody
			}
		}
		if i == len(body) {
			break
		}
		body = body[i+1:]
	}
	return err
}

// parseDecimal parses a non-negative decimal int64 (at most 19 digits).
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (1<<63-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
