package namesrv

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrBadAttribute is an attribute string or value that RocketMQ's AttributeUtil would refuse.
var ErrBadAttribute = errors.New("bad topic attribute")

// AttrMessageType is RocketMQ 5's topic attribute naming the message types a topic accepts
// (TopicAttributes.TOPIC_MESSAGE_TYPE_ATTRIBUTE); its values are the Message* types below.
// Unset means every type, as before topics were typed (RocketMQ 5 reads an unset type as
// UNSPECIFIED and its proxy lets such a topic take any type too).
const AttrMessageType = "message.type"

// Values of AttrMessageType (RocketMQ's TopicMessageType).
const (
	MessageUnspecified = "UNSPECIFIED"
	MessageNormal      = "NORMAL"
	MessageFIFO        = "FIFO"
	MessageDelay       = "DELAY"
	MessageTransaction = "TRANSACTION"
	MessageMixed       = "MIXED" // any type
)

var messageTypes = []string{MessageUnspecified, MessageNormal, MessageFIFO, MessageDelay, MessageTransaction, MessageMixed}

// MessageType is the topic's AttrMessageType, or MessageMixed when it accepts every type
// (unset, UNSPECIFIED or MIXED).
func (tc TopicConfig) MessageType() string {
	switch v := tc.Attributes[AttrMessageType]; v {
	case "", MessageUnspecified, MessageMixed:
		return MessageMixed
	default:
		return v
	}
}

// Equal reports whether two configs are the same, attributes included.
func (tc TopicConfig) Equal(o TopicConfig) bool {
	return tc.TopicName == o.TopicName && tc.ReadQueueNums == o.ReadQueueNums &&
		tc.WriteQueueNums == o.WriteQueueNums && tc.Perm == o.Perm &&
		tc.TopicFilterType == o.TopicFilterType && tc.TopicSysFlag == o.TopicSysFlag &&
		tc.Order == o.Order && maps.Equal(tc.Attributes, o.Attributes)
}

// AlterAttributes applies RocketMQ's attribute string ("+key=value,+key2=value2,-key3": set
// or delete; the UPDATE_AND_CREATE_TOPIC `attributes` field, mqadmin's -a) to current and
// returns the result (nil when empty); current is not modified. Only known keys with valid
// values are accepted, as RocketMQ's AttributeUtil.alterCurrentAttributes does; deletions are
// refused when create is true.
func AlterAttributes(current map[string]string, alter string, create bool) (map[string]string, error) {
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	for _, kv := range strings.Split(alter, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		switch kv[0] {
		case '+':
			k, v, ok := strings.Cut(kv[1:], "=")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("%w: %q is not +key=value", ErrBadAttribute, kv)
			}
			if err := checkAttribute(k, v); err != nil {
				return nil, err
			}
			out[k] = v
		case '-':
			k := kv[1:]
			if create {
				return nil, fmt.Errorf("%w: only add attribute is supported while creating topic, key: %s", ErrBadAttribute, k)
			}
			if err := checkAttribute(k, ""); err != nil {
				return nil, err
			}
			delete(out, k)
		default:
			return nil, fmt.Errorf("%w: %q must start with + or -", ErrBadAttribute, kv)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// checkAttribute verifies a key and, unless v is "", its value.
func checkAttribute(k, v string) error {
	if k != AttrMessageType {
		return fmt.Errorf("%w: unsupported key: %s", ErrBadAttribute, k)
	}
	if v != "" && !slices.Contains(messageTypes, v) {
		return fmt.Errorf("%w: value %q of %s is not in %v", ErrBadAttribute, v, k, messageTypes)
	}
	return nil
}

// FormatAttributes writes attributes as RocketMQ's AttributeParser.parseToString does:
// "+key=value" items joined by commas, keys sorted.
func FormatAttributes(attrs map[string]string) string {
	keys := slices.Sorted(maps.Keys(attrs))
	items := make([]string, len(keys))
	for i, k := range keys {
		items[i] = "+" + k + "=" + attrs[k]
	}
	return strings.Join(items, ",")
}
