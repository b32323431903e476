package broker

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// The HEART_BEAT body types, shared with the client (package protocol).
type (
	heartbeatData    = protocol.HeartbeatData
	producerData     = protocol.ProducerData
	consumerData     = protocol.ConsumerData
	subscriptionData = protocol.SubscriptionData
)

// subscription is a group's parsed subscription to one topic.
type subscription struct {
	topic          string
	expressionType string // "" or TAG, SQL92
	expression     string
	version        int64
	filter         store.Filter // nil: every message
	err            error        // the expression does not compile (filter.ErrInvalid, ErrUnknownType)
}

// parseSubscription turns a TAG expression ("*", "", "TagA || TagB") or a SQL92 one into a
// filter. tagsSet, when given, is the client's own parse of a TAG expression. Tag codes are
// computed here, never taken from the client's codeSet (clientgo.md §6).
func parseSubscription(topic, expressionType, expression string, tagsSet []string, version int64) *subscription {
	s := &subscription{topic: topic, expressionType: expressionType, expression: expression, version: version}
	if !filter.IsTagType(expressionType) { // SQL92 (check_client_config.go)
		e, err := filter.CompileType(expressionType, expression)
		s.filter, s.err = store.SQLFilter(e), err
		return s
	}
	tags := tagsSet
	if len(tags) == 0 {
		for _, t := range strings.Split(expression, "||") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	if len(tags) == 0 || slices.Contains(tags, "*") || strings.TrimSpace(expression) == "*" {
		return s
	}
	s.filter = store.TagFilter(tags...)
	return s
}

// clientChannel is one client instance's connection as seen in its last heartbeat.
type clientChannel struct {
	conn       *remoting.Conn
	lastUpdate time.Time
}

// consumerGroupInfo is one consumer group's live members (RocketMQ's ConsumerGroupInfo).
type consumerGroupInfo struct {
	consumeType      string
	messageModel     string
	consumeFromWhere string
	subs             map[string]*subscription  // by topic
	clients          map[string]*clientChannel // by client id
}

// clientTable tracks the producers and consumers that sent heartbeats (RocketMQ's
// ProducerManager and ConsumerManager), keyed by (group, client id).
type clientTable struct {
	mu        sync.Mutex // guards consumers, producers
	consumers map[string]*consumerGroupInfo
	producers map[string]map[string]*clientChannel // group → client id → channel
}

func newClientTable() *clientTable {
	return &clientTable{
		consumers: make(map[string]*consumerGroupInfo),
		producers: make(map[string]map[string]*clientChannel),
	}
}

// registerConsumer records a consumer heartbeat and reports whether the group's membership
// changed (a client id joined).
func (t *clientTable) registerConsumer(clientID string, conn *remoting.Conn, d *consumerData, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.consumers[d.GroupName]
	if g == nil {
		g = &consumerGroupInfo{subs: make(map[string]*subscription), clients: make(map[string]*clientChannel)}
		t.consumers[d.GroupName] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere = d.ConsumeType, d.MessageModel, d.ConsumeFromWhere
	changed := false
	if ch, ok := g.clients[clientID]; ok {
		ch.conn, ch.lastUpdate = conn, now
	} else {
		g.clients[clientID] = &clientChannel{conn: conn, lastUpdate: now}
		changed = true
	}
	// The latest heartbeat's subscriptions replace the group's (ConsumerGroupInfo.updateSubscription).
	seen := make(map[string]bool, len(d.SubscriptionDataSet))
	for i := range d.SubscriptionDataSet {
		sd := &d.SubscriptionDataSet[i]
		seen[sd.Topic] = true
		if old, ok := g.subs[sd.Topic]; ok && old.expression == sd.SubString && old.expressionType == sd.ExpressionType && old.version >= sd.SubVersion {
			continue
		}
		g.subs[sd.Topic] = parseSubscription(sd.Topic, sd.ExpressionType, sd.SubString, sd.TagsSet, sd.SubVersion)
	}
	for topic := range g.subs {
		if !seen[topic] {
			delete(g.subs, topic)
		}
	}
	return changed
}

// registerProducer records a producer heartbeat.
func (t *clientTable) registerProducer(group, clientID string, conn *remoting.Conn, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.producers[group]
	if m == nil {
		m = make(map[string]*clientChannel)
		t.producers[group] = m
	}
	if !strings.HasPrefix(clientID, "@") {
		// The connection may be registered by address, from a half message it sent before its
		// first heartbeat (transaction.go): from now on it is known by its client id.
		delete(m, "@"+conn.RemoteAddrString())
	}
	if ch, ok := m[clientID]; ok {
		ch.conn, ch.lastUpdate = conn, now
		return
	}
	m[clientID] = &clientChannel{conn: conn, lastUpdate: now}
}

// unregister removes one client from a consumer group and a producer group ("" skips either)
// and reports whether the consumer group's membership changed.
func (t *clientTable) unregister(clientID, producerGroup, consumerGroup string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.producers[producerGroup]; m != nil {
		delete(m, clientID)
		if len(m) == 0 {
			delete(t.producers, producerGroup)
		}
	}
	g := t.consumers[consumerGroup]
	if g == nil {
		return false
	}
	if _, ok := g.clients[clientID]; !ok {
		return false
	}
	delete(g.clients, clientID)
	if len(g.clients) == 0 {
		delete(t.consumers, consumerGroup)
	}
	return true
}

// removeIf drops every client channel for which drop returns true and returns the consumer
// groups whose membership changed, sorted.
func (t *clientTable) removeIf(drop func(ch *clientChannel) bool) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []string
	for name, g := range t.consumers {
		removed := false
		for id, ch := range g.clients {
			if drop(ch) {
				delete(g.clients, id)
				removed = true
			}
		}
		if removed {
			changed = append(changed, name)
		}
		if len(g.clients) == 0 {
			delete(t.consumers, name)
		}
	}
	for name, m := range t.producers {
		for id, ch := range m {
			if drop(ch) {
				delete(m, id)
			}
		}
		if len(m) == 0 {
			delete(t.producers, name)
		}
	}
	slices.Sort(changed)
	return changed
}

// removeConn drops every registration made over conn (it closed).
func (t *clientTable) removeConn(conn *remoting.Conn) []string {
	return t.removeIf(func(ch *clientChannel) bool { return ch.conn == conn })
}

// expire drops clients whose last heartbeat is older than timeout.
func (t *clientTable) expire(now time.Time, timeout time.Duration) []string {
	return t.removeIf(func(ch *clientChannel) bool { return now.Sub(ch.lastUpdate) > timeout })
}

// consumerIDs returns a group's client ids, sorted.
func (t *clientTable) consumerIDs(group string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.consumers[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.clients))
	for id := range g.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// consumerConns returns the connections of a group's consumers.
func (t *clientTable) consumerConns(group string) []*remoting.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.consumers[group]
	if g == nil {
		return nil
	}
	conns := make([]*remoting.Conn, 0, len(g.clients))
	for _, ch := range g.clients {
		conns = append(conns, ch.conn)
	}
	return conns
}

// producerConns returns the connections of a producer group's clients (the transaction
// check-back picks one).
func (t *clientTable) producerConns(group string) []*remoting.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.producers[group]
	conns := make([]*remoting.Conn, 0, len(m))
	for _, ch := range m {
		conns = append(conns, ch.conn)
	}
	return conns
}

// producerGroups returns the producer groups with a client whose connection is open, other
// replicas' forwarding clients left out, sorted (a follower declares them to its leader,
// forward.go).
func (t *clientTable) producerGroups() []string {
	t.mu.Lock()
	var out []string
	for group, m := range t.producers {
		for id, ch := range m {
			if !isRelayClient(id) && !connDone(ch.conn) {
				out = append(out, group)
				break
			}
		}
	}
	t.mu.Unlock()
	slices.Sort(out)
	return out
}

// producerChannel is one client of a producer group.
type producerChannel struct {
	clientID string
	conn     *remoting.Conn
}

// producerChannels returns a producer group's clients sorted by client id (the transaction
// check-back goes round-robin over them).
func (t *clientTable) producerChannels(group string) []producerChannel {
	t.mu.Lock()
	m := t.producers[group]
	out := make([]producerChannel, 0, len(m))
	for id, ch := range m {
		out = append(out, producerChannel{clientID: id, conn: ch.conn})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b producerChannel) int { return strings.Compare(a.clientID, b.clientID) })
	return out
}

// subscription returns a group's subscription to topic.
func (t *clientTable) subscription(group, topic string) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.consumers[group]; g != nil {
		return g.subs[topic]
	}
	return nil
}

// counts returns the number of consumer and producer groups (runtime info).
func (t *clientTable) counts() (consumerGroups, producerGroups int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.consumers), len(t.producers)
}
