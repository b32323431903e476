package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/txn"
)

// The in-process API of an operator's tools (the web console, package console): what the
// admin request codes answer over the wire, without the wire. Writes log the caller given to
// them, as the request handlers log the remote address.

// ErrNotMaster: a write that only a master serves was asked of a slave (brokerId ≠ 0).
var ErrNotMaster = errors.New("broker: the broker is a slave; writes go to the master")

// Status is the broker's identity and health, the values GET_BROKER_RUNTIME_INFO reports.
type Status struct {
	ClusterName        string
	BrokerName         string
	BrokerID           int64
	Addr               string // ip:port clients reach the broker at
	Version            string // brokerVersionDesc
	StartTime          time.Time
	NamesrvAddr        string // configured name servers ("" = none or embedded)
	Permission         int
	FlushDiskType      string
	StorePath          string
	DiskUsage          float64 // used/total of the store's file system
	DiskFullRatio      float64 // the store refuses puts above this
	CommitLogMinOffset int64
	CommitLogMaxOffset int64
	DispatchBehind     int64 // bytes appended but not yet dispatched
	FlushBehind        int64 // bytes appended but not yet flushed
	MessagesPut        int64 // since start
	MessagesGot        int64 // since start
	Connections        int
	Topics             int
	ConsumerGroups     int // with online clients
	ProducerGroups     int // with online clients
	OpenTransactions   int
}

// Status returns the broker's identity and health.
func (b *Broker) Status() Status {
	st := b.store
	consumerGroups, producerGroups := b.clients.counts()
	topics, _ := b.topics.snapshot()
	return Status{
		ClusterName:        b.cfg.BrokerClusterName,
		BrokerName:         b.cfg.BrokerName,
		BrokerID:           b.cfg.BrokerID,
		Addr:               b.Addr(),
		Version:            b.runtimeInfo()["brokerVersionDesc"],
		StartTime:          b.startTime,
		NamesrvAddr:        b.cfg.NamesrvAddr,
		Permission:         b.cfg.BrokerPermission,
		FlushDiskType:      b.cfg.FlushDiskType,
		StorePath:          b.cfg.StorePathRootDir,
		DiskUsage:          st.DiskUsage(),
		DiskFullRatio:      st.Options().DiskFullRatio,
		CommitLogMinOffset: st.MinPhysicalOffset(),
		CommitLogMaxOffset: st.MaxPhysicalOffset(),
		DispatchBehind:     st.DispatchBehind(),
		FlushBehind:        st.MaxPhysicalOffset() - st.CommitLog().FlushedOffset(),
		MessagesPut:        b.stats.putMessages.Load(),
		MessagesGot:        b.stats.pulledMessages.Load(),
		Connections:        b.server.NumConns(),
		Topics:             len(topics),
		ConsumerGroups:     consumerGroups,
		ProducerGroups:     producerGroups,
		OpenTransactions:   len(st.Transactions().Open()),
	}
}

// TopicConfigs returns the broker's topics sorted by name.
func (b *Broker) TopicConfigs() []namesrv.TopicConfig {
	topics, _ := b.topics.snapshot()
	out := make([]namesrv.TopicConfig, 0, len(topics))
	for _, tc := range topics {
		out = append(out, tc)
	}
	slices.SortFunc(out, func(x, y namesrv.TopicConfig) int { return cmp.Compare(x.TopicName, y.TopicName) })
	return out
}

// UpdateTopic creates or updates a topic as UPDATE_AND_CREATE_TOPIC does: validated, durable in
// topics.json before it returns, then registered with the name servers. Zero queue counts are
// refused; caller is logged.
func (b *Broker) UpdateTopic(tc namesrv.TopicConfig, caller string) error {
	if err := validateTopic(tc.TopicName); err != nil {
		return err
	}
	switch {
	case tc.TopicName == b.cfg.BrokerClusterName:
		return fmt.Errorf("%w: the topic %s is the cluster name", ErrBadRequest, tc.TopicName)
	case tc.ReadQueueNums <= 0 || tc.WriteQueueNums <= 0 || tc.ReadQueueNums > maxQueueNums || tc.WriteQueueNums > maxQueueNums:
		return fmt.Errorf("%w: queue numbers must be within 1..%d (read %d, write %d)", ErrBadRequest, maxQueueNums, tc.ReadQueueNums, tc.WriteQueueNums)
	case tc.Perm&^7 != 0:
		return fmt.Errorf("%w: bad perm %d", ErrBadRequest, tc.Perm)
	}
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = "SINGLE_TAG"
	}
	if old, ok, err := b.TopicConfig(tc.TopicName); err == nil && ok && tc.Attributes == nil {
		tc.Attributes = old.Attributes // nil attributes keep the topic's own
	}
	if b.topics.put(tc) {
		b.log.Info("broker: topic updated by an operator", "topic", tc.TopicName, "read", tc.ReadQueueNums,
			"write", tc.WriteQueueNums, "perm", tc.Perm, "remote", caller)
	}
	if err := b.topics.commit(); err != nil {
		return err
	}
	b.prepareQueues(tc)
	if err := b.registerNow(context.Background()); err != nil {
		b.log.Warn("broker: registration after topic update failed", "topic", tc.TopicName, "err", err)
	}
	return nil
}

// DeleteTopic deletes a topic as DELETE_TOPIC_IN_BROKER does: its config, its consumer offsets
// and its queues; then the broker registers its topics again. caller is logged.
func (b *Broker) DeleteTopic(topic string, caller string) error {
	if b.topics.remove(topic) {
		b.log.Info("broker: topic deleted by an operator", "topic", topic, "remote", caller)
	}
	b.offsets.removeTopic(topic)
	if err := b.deleteTopicQueues(topic); err != nil {
		return err
	}
	if err := b.topics.commit(); err != nil {
		return err
	}
	if err := b.registerNow(context.Background()); err != nil {
		b.log.Warn("broker: registration after topic delete failed", "topic", topic, "err", err)
	}
	return nil
}

// ConsumerClient is one online member of a consumer group.
type ConsumerClient struct {
	ClientID      string
	Addr          string // remote address of its connection
	LastHeartbeat time.Time
}

// Subscription is one topic a group subscribes to, with its tag expression.
type Subscription struct {
	Topic      string
	Expression string
}

// ConsumerGroup describes a group known from its config, its online clients or its offsets.
type ConsumerGroup struct {
	Name             string
	Online           bool   // has clients connected
	ConsumeType      string // CONSUME_PASSIVELY (push) or CONSUME_ACTIVELY (pull); "" when offline
	MessageModel     string // CLUSTERING or BROADCASTING; "" when offline
	ConsumeFromWhere string
	Clients          []ConsumerClient // by client id
	Subscriptions    []Subscription   // by topic
	Topics           []string         // topics the group has committed offsets for
}

// ConsumerGroups returns every group with online clients or committed offsets, by name.
func (b *Broker) ConsumerGroups() []ConsumerGroup {
	groups := map[string]*ConsumerGroup{}
	get := func(name string) *ConsumerGroup {
		g := groups[name]
		if g == nil {
			g = &ConsumerGroup{Name: name}
			groups[name] = g
		}
		return g
	}
	b.clients.mu.Lock()
	for name, info := range b.clients.consumers {
		g := get(name)
		g.Online = len(info.clients) > 0
		g.ConsumeType, g.MessageModel, g.ConsumeFromWhere = info.consumeType, info.messageModel, info.consumeFromWhere
		for id, ch := range info.clients {
			g.Clients = append(g.Clients, ConsumerClient{ClientID: id, Addr: ch.conn.RemoteAddrString(), LastHeartbeat: ch.lastUpdate})
		}
		for topic, s := range info.subs {
			g.Subscriptions = append(g.Subscriptions, Subscription{Topic: topic, Expression: s.expression})
		}
	}
	b.clients.mu.Unlock()
	b.offsets.mu.Lock()
	for k := range b.offsets.offsets {
		g := get(k.group)
		g.Topics = append(g.Topics, k.topic)
	}
	b.offsets.mu.Unlock()
	out := make([]ConsumerGroup, 0, len(groups))
	for _, g := range groups {
		slices.SortFunc(g.Clients, func(x, y ConsumerClient) int { return cmp.Compare(x.ClientID, y.ClientID) })
		slices.SortFunc(g.Subscriptions, func(x, y Subscription) int { return cmp.Compare(x.Topic, y.Topic) })
		slices.Sort(g.Topics)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y ConsumerGroup) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// QueueProgress is a group's progress on one queue, as GET_CONSUME_STATS reports it.
type QueueProgress struct {
	Topic          string
	QueueID        int32
	BrokerOffset   int64 // the queue's max offset
	ConsumerOffset int64 // the group's committed offset (0 when none)
	LastTimestamp  int64 // store time of the last consumed message, ms (0 when none)
	// OldestUnconsumed is the store time of the first message not yet consumed, ms (0 when
	// none): now minus it is the lag's age.
	OldestUnconsumed int64
}

// Lag is the number of messages the group has not consumed on the queue.
func (p QueueProgress) Lag() int64 { return max(p.BrokerOffset-p.ConsumerOffset, 0) }

// GroupProgress returns a group's progress on every read queue of the topics it has committed
// offsets for, and of the topics it subscribes to, by topic and queue.
func (b *Broker) GroupProgress(group string) []QueueProgress {
	topics := b.offsets.topicsOf(group)
	b.clients.mu.Lock()
	if info := b.clients.consumers[group]; info != nil {
		for topic := range info.subs {
			if !slices.Contains(topics, topic) {
				topics = append(topics, topic)
			}
		}
	}
	b.clients.mu.Unlock()
	slices.Sort(topics)
	return b.queueProgress(group, topics, true)
}

// OffsetMsgID returns the offset message id of the record at a commitlog offset of this broker.
func (b *Broker) OffsetMsgID(commitLogOffset int64) string {
	return message.OffsetMsgID(b.storeHost(), commitLogOffset)
}

// TransactionOutcome is what an operator's commit or rollback did.
type TransactionOutcome struct {
	// Changed is false when the transaction had already ended that way (or with an unknown
	// outcome): nothing was written, the call is idempotent. Reason then says why.
	Changed bool
	Reason  string
	Topic   string // the real topic
	QueueID string // the real queue (REAL_QID)
	// QueueOffset and MsgID locate the delivered message of a commit that changed something.
	QueueOffset int64
	MsgID       string
}

// ResolveTransaction commits (commit true) or rolls back the open transaction whose half
// message is at halfOffset, by hand. producerGroup, when not empty, must be the half message's
// group. A repeat of the same resolution is answered with Changed false and writes nothing.
// Errors: ErrNotMaster; txn.ErrNotFound or txn.ErrNotHalfMessage (nothing to resolve there);
// txn.ErrGroupMismatch; txn.ErrAlreadyCommitted / ErrAlreadyRolledBack (the other outcome),
// txn.ErrDiscarded, txn.ErrResumed (refused, nothing written). Every call is logged with caller.
func (b *Broker) ResolveTransaction(halfOffset int64, commit bool, producerGroup, caller string) (TransactionOutcome, error) {
	action := "rollback"
	if commit {
		action = "commit"
	}
	if b.cfg.BrokerID != 0 {
		return TransactionOutcome{}, ErrNotMaster
	}
	half, err := b.store.ReadAt(halfOffset)
	if err != nil {
		if errStoreClosed(err) {
			return TransactionOutcome{}, err
		}
		return TransactionOutcome{}, fmt.Errorf("%w: no half message at commitLogOffset %d: %v", txn.ErrNotFound, halfOffset, err)
	}
	if half.Topic != txn.HalfTopic {
		return TransactionOutcome{}, fmt.Errorf("%w: commitLogOffset %d holds a message of topic %s", txn.ErrNotHalfMessage, halfOffset, half.Topic)
	}
	group := producerGroup
	if group == "" {
		group, _ = half.Property(message.PropertyProducerGroup)
	}
	out := TransactionOutcome{}
	out.Topic, _ = half.Property(message.PropertyRealTopic)
	out.QueueID, _ = half.Property(message.PropertyRealQueueID)
	log := b.log.With("action", action, "commitLogOffset", halfOffset, "group", group, "topic", out.Topic,
		"transactionId", half.UniqKey(), "remote", caller)

	tx := b.store.Transactions()
	var app txn.Appended
	if commit {
		app, err = tx.Commit(halfOffset, group, txn.AnyQueueOffset)
	} else {
		err = tx.Rollback(halfOffset, group, txn.AnyQueueOffset)
	}
	unchanged := func(why string) (TransactionOutcome, error) {
		log.Info("broker: operator's transaction "+action+" changed nothing", "why", why)
		out.Reason = why
		return out, nil
	}
	switch {
	case err == nil:
		b.origins.forget(halfOffset)
		out.Changed = true
		if commit {
			out.QueueOffset, out.MsgID = app.QueueOffset, app.MsgID
			log.Info("broker: transaction committed by an operator", "queueId", out.QueueID, "queueOffset", app.QueueOffset, "msgId", app.MsgID)
			if mt := b.opts.Metrics; mt != nil {
				mt.TxnCommitted(out.Topic)
			}
		} else {
			log.Info("broker: transaction rolled back by an operator")
			if mt := b.opts.Metrics; mt != nil {
				mt.TxnRolledBack(out.Topic)
			}
		}
		return out, nil
	case errors.Is(err, txn.ErrAlreadyCommitted) && commit:
		return unchanged("transaction already committed")
	case errors.Is(err, txn.ErrAlreadyRolledBack) && !commit:
		return unchanged("transaction already rolled back")
	case errors.Is(err, txn.ErrAlreadyCommitted), errors.Is(err, txn.ErrAlreadyRolledBack),
		errors.Is(err, txn.ErrDiscarded), errors.Is(err, txn.ErrResumed):
		log.Warn("broker: operator's transaction "+action+" refused", "why", err)
		return out, err
	case errors.Is(err, txn.ErrAlreadyEnded):
		return unchanged("transaction already ended")
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage),
		errors.Is(err, txn.ErrGroupMismatch), errStoreClosed(err):
		return out, err
	}
	log.Error("broker: operator's transaction "+action+" failed", "err", err)
	return out, err
}

// ResumeTransaction puts a discarded half message back to be checked again
// (RESUME_CHECK_HALF_MESSAGE): offset is the commitlog offset of the discarded half message or
// of its copy in TRANS_CHECK_MAX_TIME_TOPIC. It fails with txn.ErrNotDiscarded,
// txn.ErrNotFound or txn.ErrNotHalfMessage. caller is logged.
func (b *Broker) ResumeTransaction(offset int64, caller string) (txn.OpenTransaction, error) {
	open, err := b.store.Transactions().Resume(offset)
	if err != nil {
		b.log.Warn("broker: operator's resume of a half message failed", "commitLogOffset", offset, "remote", caller, "err", err)
		return open, err
	}
	b.log.Info("broker: half message resumed by an operator", "commitLogOffset", offset,
		"resumedAs", open.HalfOffset, "group", open.ProducerGroup, "remote", caller)
	return open, nil
}

// ConsumerOffset returns a group's committed offset on a queue (ok false when none).
func (b *Broker) ConsumerOffset(group, topic string, queueID int32) (int64, bool) {
	return b.offsets.query(group, topic, queueID)
}
