package broker

import (
	"fmt"
	"math/rand/v2"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/store"
)

// ResendToGroup re-delivers the message stored at commitLogOffset to one consumer group: a copy
// goes to the group's retry topic %RETRY%<group>, which every clustering consumer of the
// group subscribes to, with RETRY_TOPIC naming the original topic (kept when the message is
// already a retry or dead-letter copy) so the client hands it over under that topic, and
// reconsume times back to 0. Other groups do not see it. This is how the console resends a
// message or a dead letter; broadcasting consumers do not read retry topics.
// caller is logged.
func (b *Broker) ResendToGroup(commitLogOffset int64, group, caller string) (store.PutResult, error) {
	if b.cfg.BrokerPermission&namesrv.PermWrite == 0 {
		return store.PutResult{}, fmt.Errorf("%w: the broker[%s] sending message is forbidden", ErrNoPermission, b.cfg.BrokerName)
	}
	gc, ok, err := b.groups.ensure(group, false)
	if err != nil {
		return store.PutResult{}, err
	}
	if !ok {
		return store.PutResult{}, fmt.Errorf("%w: subscription group[%s] not exist", ErrGroupNotExist, group)
	}
	sm, err := b.store.ReadAt(commitLogOffset)
	if err != nil {
		return store.PutResult{}, err
	}
	tc, _, err := b.ensureTopic(retryTopicConfig(group, gc))
	if err != nil {
		return store.PutResult{}, err
	}
	m := sm.Message
	if _, ok := m.Properties.Lookup(message.PropertyRetryTopic); !ok {
		m.SetProperty(message.PropertyRetryTopic, m.Topic)
	}
	if _, ok := m.Properties.Lookup(message.PropertyOriginMessageID); !ok {
		origin := m.UniqKey()
		if origin == "" {
			origin = sm.MsgID
		}
		m.SetProperty(message.PropertyOriginMessageID, origin)
	}
	m.DeleteProperty(message.PropertyDelayLevel)
	m.Topic = tc.TopicName
	m.QueueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	m.ReconsumeTimes = 0
	m.StoreHost = b.storeHost()
	m.PreparedTransactionOffset = 0
	m.SetProperty(message.PropertyWait, "false")
	res, err := b.putMessage(m)
	if err != nil {
		return res, err
	}
	b.log.Info("broker: message resent to a group", "group", group, "from", commitLogOffset, "to", tc.TopicName, "by", caller)
	return res, nil
}
