package message

import (
	"net/netip"
	"strings"
)

// Message is what a producer hands to the store: the fields of a commitlog
// record that exist before the store assigns offsets and its timestamp.
//
// A Message is not safe for concurrent mutation. The setters replace
// Properties with a new encoding rather than writing into it, so a Message
// whose Properties alias a shared buffer (a decoded record) can be modified.
type Message struct {
	Topic   string
	QueueID int32
	Flag    int32 // the producer's flag, opaque to the store
	Body    []byte
	// SysFlag holds the SYSFLAG bits (sysflag.go). The V6 host bits are
	// derived from BornHost and StoreHost when the record is encoded.
	SysFlag       int32
	BornTimestamp int64 // ms since the Unix epoch, the producer's clock
	BornHost      netip.AddrPort
	StoreHost     netip.AddrPort
	// ReconsumeTimes counts redeliveries of a retried message.
	ReconsumeTimes int32
	// PreparedTransactionOffset is, for a committed transactional message,
	// the commitlog offset of its half message; 0 otherwise.
	PreparedTransactionOffset int64
	Properties                Properties
}

// New returns a Message for topic with body (not copied).
func New(topic string, body []byte) *Message {
	return &Message{Topic: topic, Body: body}
}

// Property returns the value of the property name.
func (m *Message) Property(name string) (string, bool) { return m.Properties.Get(name) }

// SetProperty sets the property name to value (an empty value deletes it).
func (m *Message) SetProperty(name, value string) { m.Properties = m.Properties.Set(name, value) }

// DeleteProperty removes the property name.
func (m *Message) DeleteProperty(name string) { m.Properties = m.Properties.Delete(name) }

// Tags returns the TAGS property ("" when absent).
func (m *Message) Tags() string {
	v, _ := m.Properties.Get(PropertyTags)
	return v
}

// SetTags sets the TAGS property; "" removes it.
func (m *Message) SetTags(tags string) { m.SetProperty(PropertyTags, tags) }

// Keys returns the keys of the KEYS property, split on single spaces, with
// empty pieces skipped (nil when there are none).
func (m *Message) Keys() []string {
	v, ok := m.Properties.Lookup(PropertyKeys)
	if !ok {
		return nil
	}
	var keys []string
	for _, k := range strings.Split(string(v), KeySeparator) {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// RangeKeys calls fn for each key of the KEYS property, as Keys splits them,
// without allocating; key aliases the properties. It stops when fn returns
// false.
func (m *Message) RangeKeys(fn func(key []byte) bool) {
	v, _ := m.Properties.Lookup(PropertyKeys)
	RangeKeys(v, fn)
}

// RangeKeys calls fn for each non-empty space-separated key in the value of
// a KEYS property, until fn returns false. It does not allocate.
func RangeKeys(keys []byte, fn func(key []byte) bool) {
	for len(keys) > 0 {
		i := 0
		for i < len(keys) && keys[i] != ' ' {
			i++
		}
		if i > 0 && !fn(keys[:i]) {
			return
		}
		if i == len(keys) {
			return
		}
		keys = keys[i+1:]
	}
}

// SetKeys sets the KEYS property to keys joined by single spaces; empty keys
// are left out, and no keys removes the property.
func (m *Message) SetKeys(keys ...string) {
	var b strings.Builder
	for _, k := range keys {
		if k == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(KeySeparator)
		}
		b.WriteString(k)
	}
	m.SetProperty(PropertyKeys, b.String())
}

// UniqKey returns the UNIQ_KEY property, the client's message id ("" when
// absent).
func (m *Message) UniqKey() string {
	v, _ := m.Properties.Get(PropertyUniqKey)
	return v
}

// TagsCode returns TagsHashCode of the message's tags.
func (m *Message) TagsCode() int64 {
	v, _ := m.Properties.Lookup(PropertyTags)
	if len(v) == 0 {
		return 0
	}
	return int64(JavaHashCodeBytes(v))
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	c := *m
	if m.Body != nil {
		c.Body = append(make([]byte, 0, len(m.Body)), m.Body...)
	}
	c.Properties = m.Properties.Clone()
	return &c
}
