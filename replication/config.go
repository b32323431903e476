package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mqstore/mqstore/message"
)

// ConfigTopic is the system topic whose records carry replicated metadata: topic configs,
// subscription groups, consumer offsets. Nothing but RocketMQ records goes into the commitlog,
// so metadata changes are records too, in their own topic (queue 0), committed and dispatched
// like messages: every replica applies the same changes in the same order, and a new leader has
// them all once it passes its barrier (RocketMQ keeps these out of the log and copies them to
// slaves on a timer, so a switch can lose a topic, apache/rocketmq#9804).
const ConfigTopic = "MQSTORE_SYS_REPLICATED_CONFIG"

// ConfigOp is one metadata change. Kind names the table ("topic", "subscriptionGroup",
// "consumerOffset", or any the broker defines), Key the row (a topic name; a group;
// "group@topic@queueId"), Value its new JSON value; a nil Value deletes the row. Applying an
// op sets or deletes its row, so re-applying ops after a restart is harmless.
type ConfigOp struct {
	Kind  string          `json:"kind"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

// ErrBadConfig: a ConfigTopic record's body is not a list of ConfigOps.
var ErrBadConfig = errors.New("replication: bad config record")

// PropertyProposer names, on a ConfigTopic record, the process that proposed it (an opaque id
// the proposer picks per process): a leader that changed its own tables before proposing the
// change recognises its own entries when they are applied, and does not apply them again over
// newer local changes. Frozen.
const PropertyProposer = "MQSTORE_PROPOSER"

// The entry envelope. Every entry of a replicated group's log is a run of RocketMQ commitlog
// records, so logs written before metadata replicated stay readable as they are: an entry whose
// records are of ConfigTopic is a metadata change (its body a JSON array of ConfigOps, one record
// per entry as EncodeConfigEntry writes it); any other record is a message. No other framing
// exists, so nothing but the topic tells them apart: brokers refuse client sends to ConfigTopic.

// EncodeConfigEntry returns entry data for a batch of ops: one record in ConfigTopic whose body
// is the ops as a JSON array, stamped by the leader with host and time (ms).
func EncodeConfigEntry(ops []ConfigOp, host netip.AddrPort, now int64) ([]byte, error) {
	return EncodeConfigEntryFrom(ops, host, now, "")
}

// EncodeConfigEntryFrom is EncodeConfigEntry with PropertyProposer set to proposer (when not
// empty).
func EncodeConfigEntryFrom(ops []ConfigOp, host netip.AddrPort, now int64, proposer string) ([]byte, error) {
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: no ops", ErrBadConfig)
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	m := &message.Message{Topic: ConfigTopic, Body: body, BornTimestamp: now, BornHost: host, StoreHost: host}
	if proposer != "" {
		if !message.ValidProperty(PropertyProposer, proposer) {
			return nil, fmt.Errorf("%w: bad proposer %q", ErrBadConfig, proposer)
		}
		m.SetProperty(PropertyProposer, proposer)
	}
	rec, err := message.AppendRecord(nil, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	message.PatchRecord(rec, 0, 0, now)
	return rec, nil
}

// decodeConfigOps decodes a ConfigTopic record's body.
func decodeConfigOps(body []byte) ([]ConfigOp, error) {
	var ops []ConfigOp
	if err := json.Unmarshal(body, &ops); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return ops, nil
}

// DecodeConfigRecord returns the ops of a ConfigTopic record and its PropertyProposer ("" when
// unset). It fails with ErrBadConfig for a record of another topic or a body that does not
// decode.
func DecodeConfigRecord(rec *message.Record) (ops []ConfigOp, proposer string, err error) {
	if string(rec.Topic) != ConfigTopic {
		return nil, "", fmt.Errorf("%w: topic %s", ErrBadConfig, rec.Topic)
	}
	if ops, err = decodeConfigOps(rec.Body); err != nil {
		return nil, "", err
	}
	proposer, _ = rec.Properties.Get(PropertyProposer)
	return ops, proposer, nil
}
