package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// Follower write-forwarding. A replica of a replicated group that is not the ready leader
// forwards the writes only the leader can perform to the leader's client address and relays
// the leader's answer to the client under the client's opaque, so a client that still routes to
// a deposed leader, or that was told a follower's address, is served as if it had reached the
// leader. Forwarded codes: SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE, END_TRANSACTION,
// UPDATE_CONSUMER_OFFSET and the admin writes UPDATE_AND_CREATE_TOPIC, DELETE_TOPIC_IN_BROKER,
// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, DELETE_SUBSCRIPTIONGROUP. With no leader (or one that has
// not passed its barrier, or whose address is not known yet) the follower answers
// SERVICE_NOT_AVAILABLE (14), which rocketmq-client-go retries, with a remark naming the state.
// The config writes (topics, subscription groups, consumer offsets) reach the follower back
// through the Raft log, like every other replica (replicated_config.go).
//
// A forwarded request carries ForwardedRemark in its Remark (requests leave the remark empty;
// it is not part of an ACL signature, which covers the extFields and the body, so a signed
// request still verifies at the leader). A replica never forwards a marked request again: it
// serves it itself, and a replica that is not the leader any more then refuses the write (14),
// so a request crosses at most one hop even while two replicas disagree on who leads.
//
// Where the leader is: with dLegerLeaderAddr, that address (only the ready leader binds it),
// unless the name servers list another address as brokerId 0 (a leader that could not bind it,
// stable_addr.go). Else
// the group's client addresses are learned from the name servers (GET_BROKER_CLUSTER_INFO of
// our brokerName), where every follower registers under its own id, which is its Raft id, and
// the ready leader under 0: the follower keeps the address seen for each id, and forwards to the
// address of the id Raft names as leader (or to id 0's address when it has not seen the
// leader's yet). The name server is the source clients route by already, it is told of every
// role change at once, and a wrong or stale address costs one refused hop (the target is not the
// leader: 14, retried by the client), never a loop or a misplaced write, because only the
// ready leader accepts a write. Learning the addresses through the replication transport or a
// Raft entry would be exact, but both formats are frozen and owned by the replication package.
//
// Transactions through a follower. A half message the follower forwarded came to the leader on
// the follower's forwarding connection, which is where the leader sends its
// CHECK_TRANSACTION_STATE. So the follower
//   - remembers, per half (its commitlog offset, named by the leader's answer's msgId and by
//     every check), the client connection the half came on, and registers that connection as a
//     producer of the half's group, as the leader does for a half sent to it directly;
//   - serves CHECK_TRANSACTION_STATE on its forwarding client (check_transaction_state.go) by
//     relaying the check to that connection, or when it is gone to another producer of the group
//     connected to the follower (RocketMQ asks any producer of the group). The producer answers
//     END_TRANSACTION to the follower, which forwards it as any other;
//   - declares itself to the leader as a producer of every producer group connected to it: a
//     HEART_BEAT on its forwarding connection under relayClientID, sent when the connection or
//     the set of groups changes and every channelExpiredTimeout/3 (at most 10 s) to stay
//     registered, and UNREGISTER_CLIENT for a group that left (announceGroups). The leader then asks
//     the follower like any producer of those groups: for a forwarded half first, and in turn
//     with the group's other producers for any half. A new leader, which rebuilds the open
//     transactions from the log and knows no origin, reaches a producer connected only to a
//     follower as soon as that follower has announced itself to it (at most a refresh period
//     after it learned the new leader's address).
//
// With aclEnable the follower signs its own requests to the leader (the HEART_BEAT and
// UNREGISTER_CLIENT of its announcement) with innerClientAuthenticationCredentials, as a
// RocketMQ 5 broker signs its requests to other brokers (BrokerOuterAPI's AclClientRPCHook with
// AuthConfig's innerClientAuthenticationCredentials); any account of the ACL file will do (a
// producer-only heartbeat names no resource). Without them the heartbeat is unsigned and the
// leader refuses it unless the follower's address is globally white-listed (the follower tries
// again only on a new connection or when its groups change): checks of halves forwarded by
// that follower then wait for a producer of the group connected to the leader. Forwarded
// requests keep the client's own AccessKey and Signature (ext fields and body are copied
// unchanged; the remark, which the follower marks, is not signed), so the leader checks them
// against the client's account, not the follower's.
//
// ForwardedRemark is the Remark of a request a follower forwarded to the leader.
const ForwardedRemark = "mqstore: forwarded by a follower"

// forwardCodes are the request codes a follower forwards to the leader.
var forwardCodes = []remoting.RequestCode{
	remoting.RequestSendMessage,
	remoting.RequestSendMessageV2,
	remoting.RequestSendBatchMessage,
	remoting.RequestEndTransaction,
	remoting.RequestUpdateConsumerOffset,
	remoting.RequestUpdateAndCreateTopic,
	remoting.RequestDeleteTopicInBroker,
	remoting.RequestUpdateAndCreateSubscriptionGroup,
	remoting.RequestDeleteSubscriptionGroup,
}

// forwardTimeout bounds one forwarded request: the leader's own wait for a quorum
// (store.DefaultReplicateTimeout, 5 s) and a little more.
const forwardTimeout = 6 * time.Second

// forwarder sends a follower's writes to the leader and learns the group's client addresses.
type forwarder struct {
	b        *Broker
	client   *remoting.Client
	namesrvs []string

	// mu guards addrs and zero: the client address last seen at the name servers for each
	// broker id of our brokerName, and id 0's.
	mu    sync.Mutex
	addrs map[uint64]string
	zero  string

	// relayID is the client id under which the follower announces itself to the leader.
	relayID string
	// creds sign the follower's own requests to the leader (innerClientAuthenticationCredentials).
	creds acl.Credentials
	// announced is what the last announcement declared; owned by the refresh loop.
	announced announcement

	refresh  chan struct{}
	announce chan struct{} // a forwarded half may have brought a new producer group
	quit     chan struct{}
	done     chan struct{}
}

// announcement is what the follower declared to the leader, over which connection and when.
type announcement struct {
	conn    *remoting.Conn
	groups  []string // sorted
	at      time.Time
	refused bool // the leader refused it (ACL): not repeated on this connection until the groups change
}

// startForwarding wraps the handlers of forwardCodes (a replicated group only) and starts the
// forwarder's address refresh.
func (b *Broker) startForwarding() error {
	if b.replica == nil {
		return nil
	}
	creds, err := acl.ParseCredentials(b.cfg.Security.InnerClientAuthenticationCredentials)
	if err != nil {
		return fmt.Errorf("%w: innerClientAuthenticationCredentials: %w", ErrBadConfig, err)
	}
	if b.cfg.Security.AclEnable && creds.Empty() {
		b.log.Warn("broker: aclEnable without innerClientAuthenticationCredentials: this replica's heartbeat to its leader is unsigned, " +
			"and refused unless its address is white-listed (check-backs of halves it forwards then wait for the producer to reach the leader)")
	}
	copts := b.opts.Remoting
	copts.Pools = nil
	copts.Interceptor = nil
	client, err := remoting.NewClient(copts)
	if err != nil {
		return fmt.Errorf("broker: forwarding client: %w", err)
	}
	f := &forwarder{b: b, client: client, namesrvs: splitAddrs(b.cfg.NamesrvAddr), addrs: map[uint64]string{},
		relayID: relayClientID(b.cfg.BrokerName, b.replica.self.Name), creds: creds,
		refresh: make(chan struct{}, 1), announce: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	client.RegisterHandler(remoting.RequestCheckTransactionState, f.relayCheck)
	b.replica.fwd.Store(f)
	handlers := map[remoting.RequestCode]struct {
		kind remoting.Kind
		h    remoting.Handler
	}{
		remoting.RequestSendMessage:                      {remoting.KindSend, b.handleSendMessage},
		remoting.RequestSendMessageV2:                    {remoting.KindSend, b.handleSendMessageV2},
		remoting.RequestSendBatchMessage:                 {remoting.KindSend, b.handleSendBatchMessage},
		remoting.RequestEndTransaction:                   {remoting.KindSend, b.handleEndTransaction},
		remoting.RequestUpdateConsumerOffset:             {remoting.KindQuery, b.handleUpdateConsumerOffset},
		remoting.RequestUpdateAndCreateTopic:             {remoting.KindAdmin, b.handleUpdateAndCreateTopic},
		remoting.RequestDeleteTopicInBroker:              {remoting.KindAdmin, b.handleDeleteTopicInBroker},
		remoting.RequestUpdateAndCreateSubscriptionGroup: {remoting.KindAdmin, b.handleUpdateAndCreateSubscriptionGroup},
		remoting.RequestDeleteSubscriptionGroup:          {remoting.KindAdmin, b.handleDeleteSubscriptionGroup},
	}
	for _, code := range forwardCodes {
		h := handlers[code]
		b.server.Handle(code, h.kind, b.timed(code, f.wrap(h.h)))
	}
	go f.refreshLoop()
	return nil
}

// wrap serves req with h on the ready leader, and for a marked (already forwarded) request;
// otherwise it forwards req.
func (f *forwarder) wrap(h remoting.Handler) remoting.Handler {
	return func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		if f.b.replica.group.Role().Ready || req.Remark == ForwardedRemark {
			return h(c, req)
		}
		return f.forward(c, req)
	}
}

// leader returns the client address to forward to, or "" and why not.
func (f *forwarder) leader() (addr, why string) {
	rg := f.b.replica
	r := rg.group.Role()
	switch {
	case r.Leader == 0:
		return "", fmt.Sprintf("replica %s of %s is a %s with no leader (term %d): the group is electing one", rg.self.Name, f.b.cfg.BrokerName, r.State, r.Term)
	case r.Leader == rg.self.ID:
		return "", fmt.Sprintf("replica %s of %s leads term %d but has not passed its barrier yet", rg.self.Name, f.b.cfg.BrokerName, r.Term)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rg.stable != nil && (f.zero == "" || f.zero == rg.stable.addr) {
		return rg.stable.addr, "" // else the leader registered its own address (it could not bind the stable one)
	}
	if a := f.addrs[r.Leader]; a != "" {
		return a, ""
	}
	if f.zero != "" && f.zero != f.b.Addr() {
		return f.zero, ""
	}
	f.refreshSoon()
	return "", fmt.Sprintf("replica %s of %s: the client address of leader %d (term %d) is not known yet", rg.self.Name, f.b.cfg.BrokerName, r.Leader, r.Term)
}

// forward sends req to the leader and answers c with the leader's response; it returns nil
// (the answer is written when it arrives) or a SERVICE_NOT_AVAILABLE response.
func (f *forwarder) forward(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	addr, why := f.leader()
	if addr == "" {
		return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, "mqstore: "+why)
	}
	fwd := remoting.NewRequest(req.RequestCode())
	fwd.Language = req.Language
	fwd.Version = req.Version
	fwd.Remark = ForwardedRemark
	fwd.SerializeType = req.SerializeType
	fwd.ExtFields = append(fwd.ExtFields[:0], req.ExtFields...)
	fwd.Body = req.Body // req is ours until released below (the handler returns nil)
	halfGroup, half := forwardedHalf(req)
	f.forwardingEnd(req)
	if req.IsOneway() {
		err := f.client.InvokeOneway(addr, fwd)
		req.Release()
		if err != nil {
			f.b.log.Debug("broker: forwarding a oneway request to the leader failed", "leader", addr, "code", req.Code, "err", err)
		}
		return nil
	}
	err := f.client.InvokeAsync(addr, fwd, forwardTimeout, func(resp *remoting.Command, err error) {
		var out *remoting.Command
		if err != nil {
			// The request left: the leader may have performed it, so the outcome is unknown —
			// SYSTEM_ERROR, not SERVICE_NOT_AVAILABLE (which says it was not stored). A retried
			// send is deduplicated by the leader (replicated_state.go).
			f.refreshSoon()
			out = remoting.NewResponse(req, remoting.ResponseSystemError,
				fmt.Sprintf("mqstore: replica %s lost the leader's answer at %s (the outcome is unknown): %v", f.b.replica.self.Name, addr, err))
		} else {
			if half && resp.ResponseCode() == remoting.ResponseSuccess {
				f.noteHalf(c, halfGroup, resp.Ext(protocol.FieldMsgID))
			}
			out = remoting.NewResponse(req, resp.ResponseCode(), resp.Remark)
			out.ExtFields = append(out.ExtFields[:0], resp.ExtFields...)
			out.Body = resp.Body
			out.BodyRelease = resp.Release // the leader's body is written, then released
		}
		if werr := c.WriteResponse(out); werr != nil {
			out.Release()
		}
		req.Release()
	})
	if err != nil {
		f.refreshSoon()
		resp := remoting.NewResponse(req, remoting.ResponseServiceNotAvailable,
			fmt.Sprintf("mqstore: replica %s cannot reach the leader at %s: %v", f.b.replica.self.Name, addr, err))
		if werr := c.WriteResponse(resp); werr != nil {
			resp.Release()
		}
		req.Release()
	}
	return nil
}

// refreshSoon asks the refresh loop to look the group's addresses up now.
func (f *forwarder) refreshSoon() {
	select {
	case f.refresh <- struct{}{}:
	default:
	}
}

// refreshLoop looks the group's client addresses up at the name servers: at once when asked
// (role changes, a failed forward), every 200 ms while the leader's address is unknown, and
// every second otherwise (one small request to a name server); without a name server there is
// nothing to learn. After each look-up, and when a forwarded half was acknowledged, it
// announces the follower's producer groups to the leader (announceGroups).
func (f *forwarder) refreshLoop() {
	defer close(f.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		lookup := true
		select {
		case <-t.C:
		case <-f.refresh:
		case <-f.announce:
			lookup = false
		case <-f.quit:
			return
		}
		if lookup {
			if len(f.namesrvs) > 0 {
				f.lookup()
			}
			next := time.Second
			if r := f.b.replica.group.Role(); !r.Ready && r.Leader != 0 && !f.knows(r.Leader) {
				next = 200 * time.Millisecond
			}
			t.Reset(next)
		}
		f.announceGroups()
	}
}

// relayClientPrefix starts the client id of a replica's forwarding client.
const relayClientPrefix = "mqstore-relay@"

// relayClientID is the client id a replica's forwarding client declares at the leader.
func relayClientID(brokerName, self string) string {
	return relayClientPrefix + brokerName + "/" + self
}

// isRelayClient reports whether a producer client id is a replica's forwarding client (a
// follower declares and relays to real producers only, so a check never bounces between
// replicas).
func isRelayClient(clientID string) bool { return strings.HasPrefix(clientID, relayClientPrefix) }

// forwardedHalf returns the producer group of a SEND_MESSAGE or SEND_MESSAGE_V2 that carries a
// half message; ok is false for every other request.
func forwardedHalf(req *remoting.Command) (group string, ok bool) {
	var fields *sendFields
	switch req.RequestCode() {
	case remoting.RequestSendMessage:
		fields = &sendFieldsV1
	case remoting.RequestSendMessageV2:
		fields = &sendFieldsV2
	default:
		return "", false
	}
	h, err := parseSendHeader(req, fields)
	if err != nil {
		return "", false // the leader answers it
	}
	m := message.Message{Topic: h.topic, SysFlag: h.sysFlag, ReconsumeTimes: h.reconsumeTimes, Properties: message.Properties(h.properties)}
	if !isTransactional(&m) {
		return "", false
	}
	return transactionGroup(&h, &m), true
}

// noteHalf records a half message the leader acknowledged through this follower: its origin
// is the client connection c, which becomes a producer of group here (and so is announced).
func (f *forwarder) noteHalf(c *remoting.Conn, group, msgID string) {
	_, offset, err := message.ParseOffsetMsgID(msgID)
	if err != nil {
		f.b.log.Debug("broker: a forwarded half's answer without an offset msgId; its checks go to the group's producers", "msgId", msgID, "err", err)
	} else {
		f.b.origins.remember(offset, c, false)
	}
	f.b.noteTransactionProducer(group, c)
	select {
	case f.announce <- struct{}{}:
	default:
	}
}

// forwardingEnd forgets the origin of a transaction whose commit or rollback is being forwarded.
func (f *forwarder) forwardingEnd(req *remoting.Command) {
	if req.RequestCode() != remoting.RequestEndTransaction {
		return
	}
	h, err := parseEndTransactionHeader(req)
	if err == nil && h.commitOrRollback != message.TransactionNotType {
		f.b.origins.forget(h.commitLogOffset)
	}
}

// announceKeepalive is how often the follower repeats its declaration to the leader: well
// within the leader's channelExpiredTimeout, and at most every 10 s.
func (f *forwarder) announceKeepalive() time.Duration {
	return min(ms(f.b.cfg.ChannelExpiredTimeout)/3, 10*time.Second)
}

// announceGroups declares this follower to the leader as a producer of the producer groups
// connected to it (HEART_BEAT under relayID on the forwarding connection), when the
// connection or the groups changed or the keepalive is due, and withdraws the groups that left
// (UNREGISTER_CLIENT). The ready leader checks its producers itself and declares nothing.
func (f *forwarder) announceGroups() {
	if f.b.replica.group.Role().Ready {
		f.announced = announcement{}
		return
	}
	groups := f.b.clients.producerGroups()
	if len(groups) == 0 && len(f.announced.groups) == 0 {
		return
	}
	addr, _ := f.leader()
	if addr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := f.client.Conn(ctx, addr)
	if err != nil {
		f.b.log.Debug("broker: cannot reach the leader to announce the producer groups", "leader", addr, "err", err)
		return
	}
	now := time.Now()
	if conn == f.announced.conn && slices.Equal(groups, f.announced.groups) && (f.announced.refused || now.Sub(f.announced.at) < f.announceKeepalive()) {
		return
	}
	if conn == f.announced.conn {
		for _, g := range f.announced.groups {
			if _, found := slices.BinarySearch(groups, g); found {
				continue
			}
			req := remoting.NewRequest(remoting.RequestUnregisterClient)
			req.SetExt(protocol.FieldClientID, f.relayID)
			req.SetExt(protocol.FieldProducerGroup, g)
			f.creds.Sign(req)
			resp, err := conn.Invoke(ctx, req)
			if err != nil {
				f.b.log.Debug("broker: withdrawing a producer group at the leader failed", "leader", addr, "group", g, "err", err)
				return
			}
			resp.Release()
		}
	}
	refused := false
	if len(groups) > 0 {
		hb := protocol.HeartbeatData{ClientID: f.relayID, ProducerDataSet: make([]protocol.ProducerData, len(groups)), ConsumerDataSet: []protocol.ConsumerData{}}
		for i, g := range groups {
			hb.ProducerDataSet[i].GroupName = g
		}
		body, err := json.Marshal(&hb)
		if err != nil {
			f.b.log.Error("broker: encode the relay heartbeat", "err", err)
			return
		}
		req := remoting.NewRequest(remoting.RequestHeartBeat)
		req.Body = body
		f.creds.Sign(req)
		resp, err := conn.Invoke(ctx, req)
		if err != nil {
			f.b.log.Debug("broker: announcing the producer groups to the leader failed", "leader", addr, "err", err)
			return
		}
		code, remark := resp.ResponseCode(), resp.Remark
		resp.Release()
		if refused = code != remoting.ResponseSuccess; refused {
			// Not repeated on this connection until the groups change (an ACL denial is audited).
			f.b.log.Warn("broker: the leader refused this follower's producer groups; checks of halves forwarded here wait for a producer connected to the leader",
				"leader", addr, "code", code, "remark", remark)
		} else {
			f.b.log.Debug("broker: producer groups announced to the leader", "leader", addr, "groups", groups)
		}
	}
	f.announced = announcement{conn: conn, groups: groups, at: now, refused: refused}
}

// knows reports whether the client address of broker id is known.
func (f *forwarder) knows(id uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrs[id] != ""
}

// lookup asks the name servers, one after the other until one answers, for our brokerName's
// addresses.
func (f *forwarder) lookup() {
	for _, ns := range f.namesrvs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		brokers, err := f.clusterInfo(ctx, ns)
		cancel()
		if err != nil {
			f.b.log.Debug("broker: looking up the group's addresses failed", "namesrv", ns, "err", err)
			continue
		}
		bd := brokers[f.b.cfg.BrokerName]
		f.mu.Lock()
		f.zero = bd.BrokerAddrs[0]
		peers := uint64(f.b.replica.peers)
		for id, a := range bd.BrokerAddrs {
			if id > 0 && uint64(id) <= peers && a != "" {
				f.addrs[uint64(id)] = a
			}
		}
		f.mu.Unlock()
		return
	}
}

func (f *forwarder) clusterInfo(ctx context.Context, ns string) (map[string]namesrv.BrokerData, error) {
	resp, err := f.client.Invoke(ctx, ns, remoting.NewRequest(remoting.RequestGetBrokerClusterInfo))
	if err != nil {
		return nil, err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return nil, fmt.Errorf("%w: %s: %s", namesrv.ErrRejected, resp.ResponseCode(), strings.TrimSpace(resp.Remark))
	}
	brokers, _, err := namesrv.DecodeClusterInfo(resp.Body)
	return brokers, err
}

// close stops the refresh loop and the client (forwards in flight fail and are answered 14,
// or not at all once the server closed).
func (f *forwarder) close() error {
	close(f.quit)
	<-f.done
	if err := f.client.Close(); err != nil && !errors.Is(err, remoting.ErrClosed) {
		return err
	}
	return nil
}
