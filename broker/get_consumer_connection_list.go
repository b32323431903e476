package broker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_CONSUMER_CONNECTION_LIST (203): a consumer group's live clients (ext consumerGroup → body
// ConsumerConnection, protocol/connections.go): each client's id, address, language and version
// (from its last heartbeat), the group's subscriptions and how it consumes. Connections are
// sorted by client id. A group with no live client is answered CONSUMER_NOT_ONLINE (206), as
// RocketMQ does.
func (b *Broker) handleGetConsumerConnectionList(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	cc, ok := b.clients.consumerConnection(group)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseConsumerNotOnline, fmt.Sprintf("the consumer group[%s] not online", group))
	}
	body, err := json.Marshal(cc)
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}

// clientVersionKey keys a connection's clientVersion (remoting.Conn.Value).
type clientVersionKey struct{}

// clientVersion is the language and version of the client on a connection, from the header of
// its last heartbeat.
type clientVersion struct {
	language remoting.Language
	version  int32
}

// connection describes one client channel.
func connection(clientID string, ch *clientChannel) protocol.Connection {
	c := protocol.Connection{ClientID: clientID, ClientAddr: ch.conn.RemoteAddrString(), Language: "OTHER"}
	if v, ok := ch.conn.Value(clientVersionKey{}).(clientVersion); ok {
		c.Language, c.Version = v.language.String(), v.version
	}
	return c
}

// sortConnections orders connections by client id.
func sortConnections(cs []protocol.Connection) {
	slices.SortFunc(cs, func(x, y protocol.Connection) int { return strings.Compare(x.ClientID, y.ClientID) })
}

// consumerConnection describes a consumer group's live members; false when it has none.
func (t *clientTable) consumerConnection(group string) (protocol.ConsumerConnection, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.consumers[group]
	if g == nil || len(g.clients) == 0 {
		return protocol.ConsumerConnection{}, false
	}
	cc := protocol.ConsumerConnection{
		ConnectionSet:     make([]protocol.Connection, 0, len(g.clients)),
		SubscriptionTable: make(map[string]protocol.SubscriptionData, len(g.subs)),
		ConsumeType:       g.consumeType,
		MessageModel:      g.messageModel,
		ConsumeFromWhere:  g.consumeFromWhere,
	}
	for id, ch := range g.clients {
		cc.ConnectionSet = append(cc.ConnectionSet, connection(id, ch))
	}
	sortConnections(cc.ConnectionSet)
	for topic, s := range g.subs {
		cc.SubscriptionTable[topic] = subscriptionDataOf(s)
	}
	return cc, true
}

// subscriptionDataOf is a parsed subscription as RocketMQ's SubscriptionData.
func subscriptionDataOf(s *subscription) protocol.SubscriptionData {
	d := protocol.SubscriptionData{Topic: s.topic, SubString: s.expression, TagsSet: []string{},
		SubVersion: s.version, ExpressionType: protocol.ExpressionTypeTag}
	if s.filter != nil {
		for _, t := range strings.Split(s.expression, "||") {
			if t = strings.TrimSpace(t); t != "" {
				d.TagsSet = append(d.TagsSet, t)
			}
		}
	}
	return d
}

// consumerChannel returns the connection of one client of a consumer group.
func (t *clientTable) consumerChannel(group, clientID string) (*remoting.Conn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.consumers[group]; g != nil {
		if ch, ok := g.clients[clientID]; ok {
			return ch.conn, true
		}
	}
	return nil, false
}

// groupMember is one live client of a group.
type groupMember struct {
	clientID string
	conn     *remoting.Conn
}

// consumerMembers returns the clients of a consumer group, sorted by id.
func (t *clientTable) consumerMembers(group string) []groupMember {
	t.mu.Lock()
	g := t.consumers[group]
	var out []groupMember
	if g != nil {
		for id, ch := range g.clients {
			out = append(out, groupMember{clientID: id, conn: ch.conn})
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b groupMember) int { return strings.Compare(a.clientID, b.clientID) })
	return out
}
