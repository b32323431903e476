package console

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// The JSON endpoints. docs/CONSOLE.md documents each answer; the field names are those below.

// Overview is GET /console/api/overview.
type Overview struct {
	Broker       BrokerStatus `json:"broker"`
	NameServers  []string     `json:"nameServers"`
	Writable     bool         `json:"writable"`
	ACL          bool         `json:"acl"` // writes must be signed by an admin account
	WriteRefusal string       `json:"writeRefusal,omitempty"`
}

// BrokerStatus is broker.Status in JSON.
type BrokerStatus struct {
	ClusterName        string  `json:"clusterName"`
	BrokerName         string  `json:"brokerName"`
	BrokerID           int64   `json:"brokerId"`
	Role               string  `json:"role"`
	Addr               string  `json:"addr"`
	Version            string  `json:"version"`
	StartTime          int64   `json:"startTime"`
	UptimeSeconds      int64   `json:"uptimeSeconds"`
	Permission         int     `json:"permission"`
	FlushDiskType      string  `json:"flushDiskType"`
	StorePath          string  `json:"storePath"`
	DiskUsage          float64 `json:"diskUsage"`
	DiskFullRatio      float64 `json:"diskFullRatio"`
	CommitLogMinOffset int64   `json:"commitLogMinOffset"`
	CommitLogMaxOffset int64   `json:"commitLogMaxOffset"`
	DispatchBehind     int64   `json:"dispatchBehindBytes"`
	FlushBehind        int64   `json:"flushBehindBytes"`
	MessagesPut        int64   `json:"messagesPut"`
	MessagesGot        int64   `json:"messagesGot"`
	Connections        int     `json:"connections"`
	Topics             int     `json:"topics"`
	ConsumerGroups     int     `json:"consumerGroups"`
	ProducerGroups     int     `json:"producerGroups"`
	OpenTransactions   int     `json:"openTransactions"`
}

func (c *Console) overview(*http.Request) (any, error) {
	st := c.b.Status()
	role := "MASTER"
	if st.BrokerID != 0 {
		role = "SLAVE"
	}
	ns := c.opts.NameServers
	if ns == nil {
		ns = []string{}
	}
	ok, why := c.writable()
	return Overview{
		Broker: BrokerStatus{
			ClusterName: st.ClusterName, BrokerName: st.BrokerName, BrokerID: st.BrokerID, Role: role,
			Addr: st.Addr, Version: st.Version, StartTime: st.StartTime.UnixMilli(),
			UptimeSeconds: int64(c.opts.Now().Sub(st.StartTime).Seconds()), Permission: st.Permission,
			FlushDiskType: st.FlushDiskType, StorePath: st.StorePath, DiskUsage: st.DiskUsage,
			DiskFullRatio: st.DiskFullRatio, CommitLogMinOffset: st.CommitLogMinOffset,
			CommitLogMaxOffset: st.CommitLogMaxOffset, DispatchBehind: st.DispatchBehind,
			FlushBehind: st.FlushBehind, MessagesPut: st.MessagesPut, MessagesGot: st.MessagesGot,
			Connections: st.Connections, Topics: st.Topics, ConsumerGroups: st.ConsumerGroups,
			ProducerGroups: st.ProducerGroups, OpenTransactions: st.OpenTransactions,
		},
		NameServers: ns, Writable: ok, WriteRefusal: why, ACL: c.opts.Authorize == nil && c.aclOn(),
	}, nil
}

// TopicSummary is one row of GET /console/api/topics.
type TopicSummary struct {
	Topic          string `json:"topic"`
	Kind           string `json:"kind"` // normal, retry, dlq, system
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	Order          bool   `json:"order"`
	Messages       int64  `json:"messages"`     // sum over queues of max - min offset
	MaxOffsetSum   int64  `json:"maxOffsetSum"` // sum over queues of the max offset
	LastUpdate     int64  `json:"lastUpdate"`   // store time of the newest message, ms (0: none)
}

// QueueInfo is one queue of GET /console/api/topics/{topic}.
type QueueInfo struct {
	QueueID    int32 `json:"queueId"`
	MinOffset  int64 `json:"minOffset"`
	MaxOffset  int64 `json:"maxOffset"`
	LastUpdate int64 `json:"lastUpdate"`
}

// TopicDetail is GET /console/api/topics/{topic}.
type TopicDetail struct {
	TopicSummary
	Queues []QueueInfo `json:"queues"`
	Groups []string    `json:"groups"` // groups with committed offsets or subscriptions on it
}

// topicKind classifies a topic as the dashboard's filters do.
func topicKind(topic string) string {
	switch {
	case strings.HasPrefix(topic, "%RETRY%"):
		return "retry"
	case strings.HasPrefix(topic, "%DLQ%"):
		return "dlq"
	case strings.HasPrefix(topic, "RMQ_SYS_") || topic == "TBW102" || topic == "SCHEDULE_TOPIC_XXXX" ||
		topic == txn.DiscardTopic || topic == "SELF_TEST_TOPIC" || topic == "OFFSET_MOVED_EVENT":
		return "system"
	}
	return "normal"
}

func summarize(tc namesrv.TopicConfig, queues []store.QueueStat) TopicSummary {
	s := TopicSummary{Topic: tc.TopicName, Kind: topicKind(tc.TopicName), ReadQueueNums: tc.ReadQueueNums,
		WriteQueueNums: tc.WriteQueueNums, Perm: tc.Perm, Order: tc.Order}
	for _, q := range queues {
		s.Messages += max(q.MaxOffset-q.MinOffset, 0)
		s.MaxOffsetSum += q.MaxOffset
		s.LastUpdate = max(s.LastUpdate, q.LastUpdateTime)
	}
	return s
}

// queuesByTopic groups the store's queue stats by topic.
func (c *Console) queuesByTopic() map[string][]store.QueueStat {
	out := map[string][]store.QueueStat{}
	for _, q := range c.b.Store().Queues() {
		out[q.Topic] = append(out[q.Topic], q)
	}
	return out
}

// Topics is GET /console/api/topics: one page of the topics that match the filters, sorted by
// name.
type Topics struct {
	Total   int            `json:"total"`   // topics on the broker
	Matched int            `json:"matched"` // topics that pass kind and q
	Offset  int            `json:"offset"`  // of the first topic below among the matched
	Topics  []TopicSummary `json:"topics"`
}

// topicKinds are the values of the kind parameter ("" and "all" filter nothing).
var topicKinds = []string{"", "all", "normal", "retry", "dlq", "system"}

// topics answers GET /console/api/topics?kind=K&q=S&offset=N&limit=M: kind one of topicKinds,
// q a case-insensitive substring of the name; without limit every matched topic is returned.
func (c *Console) topics(r *http.Request) (any, error) {
	q := r.URL.Query()
	kind, search := q.Get("kind"), strings.ToLower(q.Get("q"))
	if !slices.Contains(topicKinds, kind) {
		return nil, fmt.Errorf("%w: kind %q is not one of all, normal, retry, dlq, system", ErrBadRequest, kind)
	}
	offset, err := intParam(r, "offset", 0, 0, maxOffsetParam)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", math.MaxInt, 1, math.MaxInt)
	if err != nil {
		return nil, err
	}
	configs := c.b.TopicConfigs()
	out := Topics{Total: len(configs), Offset: offset, Topics: []TopicSummary{}}
	var page []namesrv.TopicConfig
	for _, tc := range configs {
		if kind != "" && kind != "all" && topicKind(tc.TopicName) != kind {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(tc.TopicName), search) {
			continue
		}
		if out.Matched >= offset && len(page) < limit {
			page = append(page, tc)
		}
		out.Matched++
	}
	if len(page) == 0 {
		return out, nil
	}
	queues := c.queuesByTopic()
	for _, tc := range page {
		out.Topics = append(out.Topics, summarize(tc, queues[tc.TopicName]))
	}
	return out, nil
}

// intParam reads an integer query parameter in [lo, hi]; def when absent.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s %q is not a number in [%d, %d]", ErrBadRequest, name, v, lo, hi)
	}
	return n, nil
}

func (c *Console) topic(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	tc, ok, err := c.b.TopicConfig(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Errorf("console: no topic %q", name)}
	}
	var stats []store.QueueStat
	d := TopicDetail{Queues: []QueueInfo{}, Groups: []string{}}
	for i := range int32(max(tc.ReadQueueNums, tc.WriteQueueNums)) {
		q, _ := c.b.Store().QueueStat(name, i)
		q.MinOffset, q.MaxOffset = max(q.MinOffset, 0), max(q.MaxOffset, 0)
		stats = append(stats, q)
		d.Queues = append(d.Queues, QueueInfo{QueueID: i, MinOffset: q.MinOffset, MaxOffset: q.MaxOffset, LastUpdate: q.LastUpdateTime})
	}
	d.TopicSummary = summarize(tc, stats)
	for _, g := range c.b.ConsumerGroups() {
		if slices.Contains(g.Topics, name) || slices.ContainsFunc(g.Subscriptions, func(s broker.Subscription) bool { return s.Topic == name }) {
			d.Groups = append(d.Groups, g.Name)
		}
	}
	return d, nil
}

// GroupSummary is one row of GET /console/api/groups.
type GroupSummary struct {
	Group            string         `json:"group"`
	Online           bool           `json:"online"`
	ConsumeType      string         `json:"consumeType"`
	MessageModel     string         `json:"messageModel"`
	ConsumeFromWhere string         `json:"consumeFromWhere"`
	Clients          []ClientInfo   `json:"clients"`
	Subscriptions    []Subscription `json:"subscriptions"`
	Lag              int64          `json:"lag"`             // messages not consumed, over every queue
	LagAgeMillis     int64          `json:"lagAgeMillis"`    // now - store time of the oldest unconsumed message
	LastConsumed     int64          `json:"lastConsumed"`    // store time of the newest consumed message, ms
	QueueCount       int            `json:"queueCount"`      // queues in the progress table
	TopicCount       int            `json:"topicCount"`      // topics in the progress table
	ConsumerOffsets  int64          `json:"consumerOffsets"` // sum of committed offsets
}

// ClientInfo is one online client of a group.
type ClientInfo struct {
	ClientID      string `json:"clientId"`
	Addr          string `json:"addr"`
	LastHeartbeat int64  `json:"lastHeartbeat"`
}

// Subscription is one topic a group subscribes to.
type Subscription struct {
	Topic      string `json:"topic"`
	Expression string `json:"expression"`
}

// QueueLag is one queue of GET /console/api/groups/{group}.
type QueueLag struct {
	Topic            string `json:"topic"`
	QueueID          int32  `json:"queueId"`
	BrokerOffset     int64  `json:"brokerOffset"`
	ConsumerOffset   int64  `json:"consumerOffset"`
	Lag              int64  `json:"lag"`
	LastTimestamp    int64  `json:"lastTimestamp"`
	OldestUnconsumed int64  `json:"oldestUnconsumed"`
}

// GroupDetail is GET /console/api/groups/{group}.
type GroupDetail struct {
	GroupSummary
	Queues []QueueLag `json:"queues"`
}

func (c *Console) groupDetail(g broker.ConsumerGroup) GroupDetail {
	d := GroupDetail{GroupSummary: GroupSummary{Group: g.Name, Online: g.Online, ConsumeType: g.ConsumeType,
		MessageModel: g.MessageModel, ConsumeFromWhere: g.ConsumeFromWhere,
		Clients: []ClientInfo{}, Subscriptions: []Subscription{}}, Queues: []QueueLag{}}
	for _, cl := range g.Clients {
		d.Clients = append(d.Clients, ClientInfo{ClientID: cl.ClientID, Addr: cl.Addr, LastHeartbeat: cl.LastHeartbeat.UnixMilli()})
	}
	for _, s := range g.Subscriptions {
		d.Subscriptions = append(d.Subscriptions, Subscription{Topic: s.Topic, Expression: s.Expression})
	}
	now := c.opts.Now().UnixMilli()
	topics := map[string]bool{}
	for _, p := range c.b.GroupProgress(g.Name) {
		q := QueueLag{Topic: p.Topic, QueueID: p.QueueID, BrokerOffset: p.BrokerOffset, ConsumerOffset: p.ConsumerOffset,
			Lag: p.Lag(), LastTimestamp: p.LastTimestamp, OldestUnconsumed: p.OldestUnconsumed}
		d.Queues = append(d.Queues, q)
		topics[p.Topic] = true
		d.Lag += q.Lag
		d.ConsumerOffsets += q.ConsumerOffset
		d.LastConsumed = max(d.LastConsumed, q.LastTimestamp)
		if q.Lag > 0 && q.OldestUnconsumed > 0 {
			d.LagAgeMillis = max(d.LagAgeMillis, now-q.OldestUnconsumed)
		}
	}
	d.QueueCount, d.TopicCount = len(d.Queues), len(topics)
	return d
}

func (c *Console) groups(*http.Request) (any, error) {
	groups := c.b.ConsumerGroups()
	out := make([]GroupSummary, 0, len(groups))
	for _, g := range groups {
		out = append(out, c.groupDetail(g).GroupSummary)
	}
	return map[string]any{"groups": out}, nil
}

func (c *Console) group(r *http.Request) (any, error) {
	name := r.PathValue("group")
	for _, g := range c.b.ConsumerGroups() {
		if g.Name == name {
			return c.groupDetail(g), nil
		}
	}
	return nil, &httpError{http.StatusNotFound, fmt.Errorf("console: no group %q", name)}
}

// Transactions is GET /console/api/transactions: the open transactions, oldest first, in the
// JSON of MQSTORE_LIST_OPEN_TRANSACTIONS.
type Transactions struct {
	Total           int                        `json:"total"`
	Offset          int                        `json:"offset"` // of the first entry below, oldest first
	OldestAgeMillis int64                      `json:"oldestAgeMillis"`
	Transactions    []protocol.OpenTransaction `json:"transactions"`
}

const (
	maxOffsetParam   = 1 << 40 // keeps offset+limit from overflowing
	defaultListLimit = 500
	maxListLimit     = 100_000
)

// limitOf reads the limit parameter.
func limitOf(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: limit %q is not a positive number", ErrBadRequest, v)
	}
	return min(n, maxListLimit), nil
}

func (c *Console) transactions(r *http.Request) (any, error) {
	limit, err := limitOf(r)
	if err != nil {
		return nil, err
	}
	offset, err := intParam(r, "offset", 0, 0, maxOffsetParam)
	if err != nil {
		return nil, err
	}
	open := c.b.Store().Transactions().Open()
	out := Transactions{Total: len(open), Offset: offset,
		Transactions: make([]protocol.OpenTransaction, 0, max(min(limit, len(open)-offset), 0))}
	for i, o := range open {
		out.OldestAgeMillis = max(out.OldestAgeMillis, o.Age.Milliseconds())
		if i < offset || i >= offset+limit {
			continue
		}
		t := protocol.OpenTransaction{
			CommitLogOffset: o.HalfOffset, TranStateTableOffset: o.QueueOffset, OffsetMsgID: c.b.OffsetMsgID(o.HalfOffset),
			ProducerGroup: o.ProducerGroup, Topic: o.Topic, QueueID: o.QueueID, TransactionID: o.TransactionID,
			StoreTimestamp: o.StoreTimestamp, AgeMillis: o.Age.Milliseconds(), CheckTimes: o.CheckTimes,
			LastCheckResult: o.LastResult.String(), ResumedFrom: o.ResumedFrom,
		}
		if !o.LastCheck.IsZero() {
			t.LastCheckTimestamp = o.LastCheck.UnixMilli()
		}
		out.Transactions = append(out.Transactions, t)
	}
	return out, nil
}

// Discarded is GET /console/api/transactions/discarded: copies of half messages discarded
// unresolved (in TRANS_CHECK_MAX_TIME_TOPIC), newest first.
type Discarded struct {
	Total    int                `json:"total"`
	Messages []DiscardedMessage `json:"messages"`
}

// DiscardedMessage is one discarded half message.
type DiscardedMessage struct {
	CommitLogOffset int64  `json:"commitLogOffset"` // of the copy: what resume takes
	OffsetMsgID     string `json:"offsetMsgId"`
	ProducerGroup   string `json:"producerGroup"`
	Topic           string `json:"topic"` // REAL_TOPIC
	TransactionID   string `json:"transactionId"`
	StoreTimestamp  int64  `json:"storeTimestamp"`
	CheckTimes      string `json:"checkTimes"`
}

func (c *Console) discarded(r *http.Request) (any, error) {
	limit, err := limitOf(r)
	if err != nil {
		return nil, err
	}
	st := c.b.Store()
	out := Discarded{Messages: []DiscardedMessage{}}
	for _, q := range st.Queues() {
		if q.Topic != txn.DiscardTopic {
			continue
		}
		out.Total += int(max(q.MaxOffset-q.MinOffset, 0))
		for off := q.MaxOffset - 1; off >= q.MinOffset && len(out.Messages) < limit; off-- {
			u, ok := st.QueueUnit(q.Topic, q.QueueID, off)
			if !ok || u.IsBlank() {
				continue
			}
			m, err := st.ReadAt(u.CommitLogOffset)
			if err != nil {
				continue
			}
			d := DiscardedMessage{CommitLogOffset: u.CommitLogOffset, OffsetMsgID: m.MsgID, TransactionID: m.UniqKey(),
				StoreTimestamp: m.StoreTimestamp}
			d.ProducerGroup, _ = m.Property("PGROUP")
			d.Topic, _ = m.Property("REAL_TOPIC")
			d.CheckTimes, _ = m.Property("TRANSACTION_CHECK_TIMES")
			out.Messages = append(out.Messages, d)
		}
	}
	slices.SortFunc(out.Messages, func(x, y DiscardedMessage) int { return cmp.Compare(y.CommitLogOffset, x.CommitLogOffset) })
	return out, nil
}

// decode reads a write's JSON body into v.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// TopicUpdate is the body of POST /console/api/topics/update.
type TopicUpdate struct {
	Topic          string `json:"topic"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"` // 0 means 6 (read + write)
	Order          bool   `json:"order"`
}

func (c *Console) updateTopic(r *http.Request, body []byte) (any, []any, error) {
	var u TopicUpdate
	if err := decode(body, &u); err != nil {
		return nil, nil, err
	}
	if u.Perm == 0 {
		u.Perm = namesrv.PermRW
	}
	attrs := []any{"topic", u.Topic, "read", u.ReadQueueNums, "write", u.WriteQueueNums, "perm", u.Perm}
	tc := namesrv.TopicConfig{TopicName: u.Topic, ReadQueueNums: u.ReadQueueNums, WriteQueueNums: u.WriteQueueNums,
		Perm: u.Perm, Order: u.Order}
	if old, ok, _ := c.b.TopicConfig(u.Topic); ok {
		tc.TopicFilterType, tc.TopicSysFlag = old.TopicFilterType, old.TopicSysFlag
	}
	if err := c.b.UpdateTopic(tc, r.RemoteAddr); err != nil {
		if errors.Is(err, broker.ErrBadRequest) {
			err = fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		return nil, attrs, err
	}
	return map[string]any{"ok": true, "topic": u.Topic}, attrs, nil
}

// TopicDelete is the body of POST /console/api/topics/delete.
type TopicDelete struct {
	Topic string `json:"topic"`
}

func (c *Console) deleteTopic(r *http.Request, body []byte) (any, []any, error) {
	var d TopicDelete
	if err := decode(body, &d); err != nil {
		return nil, nil, err
	}
	attrs := []any{"topic", d.Topic}
	if _, ok, _ := c.b.TopicConfig(d.Topic); !ok {
		return nil, attrs, &httpError{http.StatusNotFound, fmt.Errorf("console: no topic %q", d.Topic)}
	}
	if err := c.b.DeleteTopic(d.Topic, r.RemoteAddr); err != nil {
		return nil, attrs, err
	}
	return map[string]any{"ok": true, "topic": d.Topic}, attrs, nil
}

// TransactionAction is the body of POST /console/api/transactions/{commit,rollback,resume}.
type TransactionAction struct {
	CommitLogOffset int64 `json:"commitLogOffset"`
}

// Resolved is the answer of a commit or rollback.
type Resolved struct {
	Changed     bool   `json:"changed"`
	Reason      string `json:"reason,omitempty"`
	Topic       string `json:"topic"`
	QueueID     string `json:"queueId"`
	QueueOffset int64  `json:"queueOffset,omitempty"`
	MsgID       string `json:"msgId,omitempty"`
}

func (c *Console) resolve(r *http.Request, body []byte, commit bool) (any, []any, error) {
	var a TransactionAction
	if err := decode(body, &a); err != nil {
		return nil, nil, err
	}
	attrs := []any{"commitLogOffset", a.CommitLogOffset}
	out, err := c.b.ResolveTransaction(a.CommitLogOffset, commit, "", r.RemoteAddr)
	attrs = append(attrs, "topic", out.Topic, "changed", out.Changed)
	switch {
	case err == nil:
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return nil, attrs, &httpError{http.StatusNotFound, err}
	case errors.Is(err, txn.ErrAlreadyEnded), errors.Is(err, broker.ErrNotMaster):
		return nil, attrs, &httpError{http.StatusConflict, err}
	default:
		return nil, attrs, err
	}
	return Resolved{Changed: out.Changed, Reason: out.Reason, Topic: out.Topic, QueueID: out.QueueID,
		QueueOffset: out.QueueOffset, MsgID: out.MsgID}, attrs, nil
}

func (c *Console) resume(r *http.Request, body []byte) (any, []any, error) {
	var a TransactionAction
	if err := decode(body, &a); err != nil {
		return nil, nil, err
	}
	attrs := []any{"commitLogOffset", a.CommitLogOffset}
	open, err := c.b.ResumeTransaction(a.CommitLogOffset, r.RemoteAddr)
	switch {
	case err == nil:
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return nil, attrs, &httpError{http.StatusNotFound, err}
	case errors.Is(err, txn.ErrNotDiscarded):
		return nil, attrs, &httpError{http.StatusConflict, err}
	default:
		return nil, attrs, err
	}
	return map[string]any{"ok": true, "commitLogOffset": open.HalfOffset, "offsetMsgId": c.b.OffsetMsgID(open.HalfOffset)},
		append(attrs, "resumedAs", open.HalfOffset), nil
}
