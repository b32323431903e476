package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// The front-end API: what a second protocol front end (the gRPC MessagingService of
// RocketMQ 5, package grpcserver) needs from the broker. Both front ends work over the same
// topic, group and offset tables, the same store and the same transaction engine; this file
// only exposes them, with the remoting side's rules (auto-create, permissions, dead letters).

// PropertyMessageGroup is the property a FIFO message's group is stored in (RocketMQ's
// MessageConst.PROPERTY_SHARDING_KEY, which 5.x clients' message_group maps to).
const PropertyMessageGroup = "__SHARDINGKEY"

// ErrNoSuchTransaction: EndTransactionAt found no half message at the offset.
var ErrNoSuchTransaction = errors.New("broker: no half message at that offset")

// TopicForSend returns the config of a topic a front end sends to or routes, creating it from
// TBW102 when autoCreateTopicEnable allows it (as a SEND_MESSAGE with defaultTopic TBW102
// would), and checks the broker's and the topic's write permission.
func (b *Broker) TopicForSend(topic string) (namesrv.TopicConfig, error) {
	if b.cfg.BrokerPermission&namesrv.PermWrite == 0 {
		return namesrv.TopicConfig{}, fmt.Errorf("%w: the broker[%s] sending message is forbidden", ErrNoPermission, b.cfg.BrokerName)
	}
	if err := validateTopic(topic); err != nil {
		return namesrv.TopicConfig{}, err
	}
	if notAllowedSendTopics[topic] {
		return namesrv.TopicConfig{}, fmt.Errorf("%w: sending message to topic[%s] is forbidden", ErrNoPermission, topic)
	}
	tc, err := b.topicForSend(&sendHeader{topic: topic, defaultTopic: namesrv.AutoCreateTopic,
		defaultTopicQueueNums: int32(b.cfg.DefaultTopicQueueNums)})
	if err != nil {
		return tc, err
	}
	if tc.Perm&namesrv.PermWrite == 0 || tc.WriteQueueNums <= 0 {
		return tc, fmt.Errorf("%w: the topic[%s] sending message is forbidden", ErrNoPermission, topic)
	}
	return tc, nil
}

// TopicConfig returns a topic's config once it is durable.
func (b *Broker) TopicConfig(topic string) (namesrv.TopicConfig, bool, error) {
	return b.topics.getDurable(topic)
}

// Group returns a consumer group's config, creating the default one when
// autoCreateSubscriptionGroup allows it; ErrGroupNotExist otherwise.
func (b *Broker) Group(name string) (GroupConfig, error) {
	if name == "" {
		return GroupConfig{}, fmt.Errorf("%w: empty group", ErrBadRequest)
	}
	gc, ok, err := b.groups.ensure(name, b.cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return gc, err
	}
	if !ok {
		return gc, fmt.Errorf("%w: subscription group[%s] not exist", ErrGroupNotExist, name)
	}
	return gc, nil
}

// Put stores a message for a front end's producer, with the remoting send's accounting
// (metrics, put counter, DELAY levels). The caller set topic, queue and properties.
func (b *Broker) Put(m *message.Message) (store.PutResult, error) {
	if !m.StoreHost.IsValid() {
		m.StoreHost = b.storeHost()
	}
	return b.putMessage(m)
}

// PutAsync is Put for the SYNC_FLUSH path: done runs once a group commit covers the message.
func (b *Broker) PutAsync(m *message.Message, done func(store.PutResult, error)) error {
	if !m.StoreHost.IsValid() {
		m.StoreHost = b.storeHost()
	}
	return b.putMessageAsync(m, done)
}

// PrepareHalf stores a half message of producerGroup in the transaction engine, as a
// SEND_MESSAGE with TRAN_MSG does.
func (b *Broker) PrepareHalf(m *message.Message, producerGroup string) (txn.PrepareResult, error) {
	if b.cfg.RejectTransactionMessage {
		return txn.PrepareResult{}, fmt.Errorf("%w: the broker[%s] sending transaction message is forbidden", ErrNoPermission, b.cfg.BrokerName)
	}
	if !m.StoreHost.IsValid() {
		m.StoreHost = b.storeHost()
	}
	start := time.Now()
	res, err := b.store.Transactions().Prepare(m, producerGroup)
	if err != nil {
		return res, err
	}
	b.stats.putMessages.Add(1)
	if mt := b.opts.Metrics; mt != nil {
		mt.PutLatency(time.Since(start))
		mt.MessagesIn(m.Topic, 1, len(m.Body), metrics.MessageTransaction)
	}
	return res, nil
}

// EndTransactionAt commits or rolls back the half message at a commitlog offset, reading its
// producer group and half-queue offset from the record. Repeating the same end is not an
// error; the opposite end of an ended transaction returns txn's error.
func (b *Broker) EndTransactionAt(halfOffset int64, commit bool) error {
	sm, err := b.store.ReadAt(halfOffset)
	if err != nil {
		return fmt.Errorf("%w: %d: %w", ErrNoSuchTransaction, halfOffset, err)
	}
	group, _ := sm.Message.Properties.Get(message.PropertyProducerGroup)
	tx := b.store.Transactions()
	if commit {
		_, err = tx.Commit(halfOffset, group, sm.QueueOffset)
		if errors.Is(err, txn.ErrAlreadyCommitted) {
			err = nil
		}
	} else {
		err = tx.Rollback(halfOffset, group, sm.QueueOffset)
		if errors.Is(err, txn.ErrAlreadyRolledBack) {
			err = nil
		}
	}
	if errors.Is(err, txn.ErrAlreadyEnded) {
		err = nil
	}
	if err == nil {
		b.origins.forget(halfOffset)
	}
	return err
}

// FrontendChecker delivers a transaction check to a front end's producers. Check reports
// handled=false when the front end has no producer for the half message, so the remoting side
// tries its producers.
type FrontendChecker interface {
	Check(ctx context.Context, half txn.HalfMessage) (handled bool, err error)
}

// frontends holds the hooks front ends registered.
type frontends struct {
	mu       sync.RWMutex // guards checker, arrivals
	checker  FrontendChecker
	arrivals map[int]func(topic string, queueID int32)
	next     int
}

func (b *Broker) frontends() *frontends { return &b.front }

// SetFrontendChecker installs (or, with nil, removes) the front end's transaction checker; the
// broker's check-back asks it first.
func (b *Broker) SetFrontendChecker(k FrontendChecker) {
	f := b.frontends()
	f.mu.Lock()
	f.checker = k
	f.mu.Unlock()
}

// checkFrontend asks the front end's checker, if any.
func (b *Broker) checkFrontend(ctx context.Context, half txn.HalfMessage) (bool, error) {
	f := b.frontends()
	f.mu.RLock()
	k := f.checker
	f.mu.RUnlock()
	if k == nil {
		return false, nil
	}
	return k.Check(ctx, half)
}

// OnArrival registers fn to be called (from the dispatcher: it must not block) when a message
// becomes readable in a topic queue. The returned function unregisters it.
func (b *Broker) OnArrival(fn func(topic string, queueID int32)) (remove func()) {
	f := b.frontends()
	f.mu.Lock()
	if f.arrivals == nil {
		f.arrivals = make(map[int]func(string, int32))
	}
	id := f.next
	f.next++
	f.arrivals[id] = fn
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.arrivals, id)
		f.mu.Unlock()
	}
}

// arrivedFrontends tells the front ends' arrival hooks.
func (b *Broker) arrivedFrontends(topic string, queueID int32) {
	fr := &b.front
	fr.mu.RLock()
	for _, fn := range fr.arrivals {
		fn(topic, queueID)
	}
	fr.mu.RUnlock()
}

// DeadLetter stores m in the group's dead-letter topic %DLQ%<group> (created on demand), as
// CONSUMER_SEND_MSG_BACK does once a message ran out of retries.
func (b *Broker) DeadLetter(group string, m *message.Message) error {
	if err := b.toDeadLetter(group, m); err != nil {
		return err
	}
	m.StoreHost = b.storeHost()
	m.PreparedTransactionOffset = 0
	if _, err := b.putMessage(m); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return err
	}
	return nil
}

// Name is the broker's name (brokerName).
func (b *Broker) Name() string { return b.cfg.BrokerName }
