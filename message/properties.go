package message

import (
	"bytes"
	"slices"
	"strings"
)

// Properties is RocketMQ's encoded properties string, as it travels in the
// send header's "properties" field and sits in a record's PROPERTIES:
//
//	name 0x01 value 0x02 name 0x01 value 0x02 ...
//
// every entry, the last one included, ends with 0x02. The order of entries
// carries no meaning (Java writes HashMap order).
//
// Parsing follows Java MessageDecoder.string2messageProperties: split on 0x02,
// then split each piece at its first 0x01; a piece with an empty name or an
// empty value (or with no 0x01) is dropped. A value may contain 0x01. When a
// name occurs twice, the last entry wins, as in Java's HashMap.
//
// A Properties value is never modified in place: Set and Delete return a new
// encoding (a fresh array) and leave p and every slice sharing its backing
// array untouched, so a Properties that aliases a mapped record or a pooled
// buffer is safe to derive from.
//
// Names and values must not contain 0x01 or 0x02 (ValidProperty checks); the
// setters do not check, so a bad value would change how the encoding parses.
type Properties []byte

// Separators of the properties encoding. Frozen.
const (
	NameValueSeparator byte = 0x01
	PropertySeparator  byte = 0x02
)

// MaxPropertiesLength is the longest encoded properties a record can hold:
// PROPLEN is a signed 16-bit length.
const MaxPropertiesLength = 32767

// Property names (RocketMQ common/message/MessageConst.java). Frozen.
const (
	PropertyKeys                    = "KEYS" // several keys separated by KeySeparator
	PropertyTags                    = "TAGS"
	PropertyWait                    = "WAIT" // waitStoreMsgOK; absent means true
	PropertyDelayLevel              = "DELAY"
	PropertyRetryTopic              = "RETRY_TOPIC"
	PropertyRealTopic               = "REAL_TOPIC"
	PropertyRealQueueID             = "REAL_QID"
	PropertyTransactionPrepared     = "TRAN_MSG"
	PropertyProducerGroup           = "PGROUP"
	PropertyMinOffset               = "MIN_OFFSET"
	PropertyMaxOffset               = "MAX_OFFSET"
	PropertyBuyerID                 = "BUYER_ID"
	PropertyOriginMessageID         = "ORIGIN_MESSAGE_ID"
	PropertyTransferFlag            = "TRANSFER_FLAG"
	PropertyCorrectionFlag          = "CORRECTION_FLAG"
	PropertyMQ2Flag                 = "MQ2_FLAG"
	PropertyReconsumeTime           = "RECONSUME_TIME"
	PropertyMsgRegion               = "MSG_REGION"
	PropertyTraceSwitch             = "TRACE_ON"
	PropertyUniqKey                 = "UNIQ_KEY"
	PropertyMaxReconsumeTimes       = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTime        = "CONSUME_START_TIME"
	PropertyTranPreparedQueueOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionCheckTimes   = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTime       = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyInstanceID              = "INSTANCE_ID"
	PropertyCorrelationID           = "CORRELATION_ID"
	PropertyReplyToClient           = "REPLY_TO_CLIENT"
	PropertyTTL                     = "TTL"
	PropertyArriveTime              = "ARRIVE_TIME"
	PropertyPushReplyTime           = "PUSH_REPLY_TIME"
	PropertyCluster                 = "CLUSTER"
	PropertyMsgType                 = "MSG_TYPE"
	PropertyTransactionID           = "__transactionId__"
	PropertyStartDeliverTime        = "__STARTDELIVERTIME"
	PropertyShardingKey             = "SHARDING_KEY"
	PropertyInnerNum                = "INNER_NUM"
	PropertyInnerBase               = "INNER_BASE"
	PropertyDupInfo                 = "DUP_INFO"
	PropertyInnerMultiDispatch      = "INNER_MULTI_DISPATCH"
	PropertyInnerMultiQueueOffset   = "INNER_MULTI_QUEUE_OFFSET"
	PropertyTimerDeliverMS          = "TIMER_DELIVER_MS"
	PropertyTimerDelaySec           = "TIMER_DELAY_SEC"
	PropertyTimerDelayMS            = "TIMER_DELAY_MS"
	PropertyTimerOutMS              = "TIMER_OUT_MS"
	PropertyTimerRollTimes          = "TIMER_ROLL_TIMES"
	PropertyCRC32                   = "__CRC32#"
)

// KeySeparator separates the keys in the KEYS property.
const KeySeparator = " "

// ValidProperty reports whether name and value can be stored as a property:
// both non-empty and free of the two separator bytes.
func ValidProperty(name, value string) bool {
	return name != "" && value != "" &&
		strings.IndexByte(name, NameValueSeparator) < 0 && strings.IndexByte(name, PropertySeparator) < 0 &&
		strings.IndexByte(value, NameValueSeparator) < 0 && strings.IndexByte(value, PropertySeparator) < 0
}

// next splits the entry starting at p[i:]. It returns the entry's name and
// value (nil when the piece is dropped by the parser rules) and the index of
// the next piece.
func (p Properties) next(i int) (name, value []byte, next int) {
	piece := p[i:]
	end := bytes.IndexByte(piece, PropertySeparator)
	if end < 0 {
		end = len(piece)
		next = len(p)
	} else {
		next = i + end + 1
	}
	piece = piece[:end]
	sep := bytes.IndexByte(piece, NameValueSeparator)
	if sep <= 0 || sep == len(piece)-1 {
		return nil, nil, next
	}
	return piece[:sep], piece[sep+1:], next
}

// Lookup returns the value of name, aliasing p (no copy, no allocation). When
// name occurs more than once the last occurrence wins.
func (p Properties) Lookup(name string) ([]byte, bool) {
	// Most lookups on the send path ask for a property the message does not
	// have (TRAN_MSG, DELAY, the timer properties): one vectorized search
	// answers those without splitting every entry.
	if name == "" || !bytes.Contains(p, []byte(name)) {
		return nil, false
	}
	var found []byte
	ok := false
	for i := 0; i < len(p); {
		var k, v []byte
		k, v, i = p.next(i)
		if k != nil && string(k) == name {
			found, ok = v, true
		}
	}
	return found, ok
}

// Get returns the value of name as a string. It allocates only for the value
// it returns.
func (p Properties) Get(name string) (string, bool) {
	v, ok := p.Lookup(name)
	if !ok {
		return "", false
	}
	return string(v), true
}

// Range calls fn for each valid entry in encoding order, duplicates included,
// until fn returns false. name and value alias p.
func (p Properties) Range(fn func(name, value []byte) bool) {
	for i := 0; i < len(p); {
		var k, v []byte
		k, v, i = p.next(i)
		if k != nil && !fn(k, v) {
			return
		}
	}
}

// Len returns the number of valid entries, duplicates included.
func (p Properties) Len() int {
	n := 0
	p.Range(func(_, _ []byte) bool { n++; return true })
	return n
}

// Map parses p into a map (Java string2messageProperties).
func (p Properties) Map() map[string]string {
	m := make(map[string]string)
	p.Range(func(k, v []byte) bool {
		m[string(k)] = string(v)
		return true
	})
	return m
}

// Clone returns a copy of p that shares no memory with it (nil for nil).
func (p Properties) Clone() Properties {
	if p == nil {
		return nil
	}
	return slices.Clone(p)
}

// without appends to dst every piece of p (its raw bytes, separator included)
// except the entries named name, and reports whether any was left out.
func (p Properties) without(dst []byte, name string) ([]byte, bool) {
	removed := false
	for i := 0; i < len(p); {
		start := i
		var k []byte
		k, _, i = p.next(i)
		if k != nil && string(k) == name {
			removed = true
			continue
		}
		dst = append(dst, p[start:i]...)
	}
	return dst, removed
}

// Set returns a new encoding with every entry named name removed and
// name=value appended. p is not modified. An empty value is the same as
// Delete, since the parser drops empty values.
func (p Properties) Set(name, value string) Properties {
	if value == "" {
		return p.Delete(name)
	}
	out := make([]byte, 0, len(p)+len(name)+len(value)+3)
	out, _ = p.without(out, name)
	if len(out) > 0 && out[len(out)-1] != PropertySeparator {
		out = append(out, PropertySeparator)
	}
	out = append(out, name...)
	out = append(out, NameValueSeparator)
	out = append(out, value...)
	out = append(out, PropertySeparator)
	return out
}

// Delete returns an encoding without the entries named name. When there is
// none, it returns p itself; otherwise a new array, and p is not modified.
func (p Properties) Delete(name string) Properties {
	if _, ok := p.Lookup(name); !ok {
		return p
	}
	out, _ := p.without(make([]byte, 0, len(p)), name)
	return out
}

// EncodeProperties encodes m with its entries sorted by name, so the result
// is deterministic. Entries with an empty name or value are skipped (the
// parser would drop them).
func EncodeProperties(m map[string]string) Properties {
	names := make([]string, 0, len(m))
	size := 0
	for k, v := range m {
		if k == "" || v == "" {
			continue
		}
		names = append(names, k)
		size += len(k) + len(v) + 2
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	out := make([]byte, 0, size)
	for _, k := range names {
		out = append(out, k...)
		out = append(out, NameValueSeparator)
		out = append(out, m[k]...)
		out = append(out, PropertySeparator)
	}
	return out
}
