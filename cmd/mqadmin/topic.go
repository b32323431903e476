package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/namesrv"
)

// topicError names the topic when the name server does not know it.
func topicError(topic string, err error) error {
	if errors.Is(err, client.ErrTopicNotExist) {
		return fmt.Errorf("topic %s does not exist", topic)
	}
	return err
}

// permString is RocketMQ's PermName.perm2String: R, W and X (inherit) or '-'.
func permString(perm int) string {
	b := []byte("---")
	if perm&namesrv.PermRead != 0 {
		b[0] = 'R'
	}
	if perm&namesrv.PermWrite != 0 {
		b[1] = 'W'
	}
	if perm&namesrv.PermInherit != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// masterAddrs returns the master address of every broker of cluster ("" for every cluster), by
// broker name.
func masterAddrs(ctx context.Context, e *env, cluster string) ([]string, error) {
	brokers, clusters, err := e.admin.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	if cluster != "" {
		var ok bool
		if names, ok = clusters[cluster]; !ok {
			return nil, fmt.Errorf("cluster %s does not exist", cluster)
		}
	} else {
		for name := range brokers {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []string
	for _, name := range names {
		if addr, ok := brokers[name].BrokerAddrs[0]; ok {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no broker master is registered with the name server")
	}
	return out, nil
}

func setupUpdateTopic(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	read := fs.Int("r", 8, "read queue count")
	write := fs.Int("w", 8, "write queue count")
	perm := fs.Int("p", namesrv.PermRW, "permission: 2 write, 4 read, 6 read+write")
	broker := fs.String("b", "", "broker address (host:port)")
	cluster := fs.String("c", "", "cluster name: every master broker of it")
	order := fs.Bool("o", false, "ordered topic")
	attrs := fs.String("a", "", "attributes to set, RocketMQ 5's +key=value,... (e.g. +message.type=FIFO: NORMAL, FIFO, DELAY, TRANSACTION or MIXED)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" || (*broker == "") == (*cluster == "") {
			return usagef("-t and one of -b or -c are required")
		}
		attributes, err := namesrv.AlterAttributes(nil, *attrs, true)
		if err != nil {
			return usagef("-a: %v", err)
		}
		if *read <= 0 || *write <= 0 || *read > 1024 || *write > 1024 || *perm&^(namesrv.PermRW|namesrv.PermInherit) != 0 {
			return usagef("queue counts must be 1..1024 and -p a combination of 2, 4 (and 1)")
		}
		addrs := []string{*broker}
		if *cluster != "" {
			var err error
			if addrs, err = masterAddrs(ctx, e, *cluster); err != nil {
				return err
			}
		}
		cfg := namesrv.TopicConfig{TopicName: *topic, ReadQueueNums: *read, WriteQueueNums: *write, Perm: *perm,
			TopicFilterType: "SINGLE_TAG", Order: *order, Attributes: attributes}
		for _, addr := range addrs {
			if err := e.admin.CreateTopic(ctx, addr, cfg); err != nil {
				return fmt.Errorf("topic %s on %s: %w", *topic, addr, err)
			}
		}
		if e.json {
			return e.printJSON(struct {
				Topic          string            `json:"topic"`
				Brokers        []string          `json:"brokers"`
				ReadQueueNums  int               `json:"readQueueNums"`
				WriteQueueNums int               `json:"writeQueueNums"`
				Perm           int               `json:"perm"`
				Order          bool              `json:"order"`
				Attributes     map[string]string `json:"attributes,omitempty"`
			}{*topic, addrs, *read, *write, *perm, *order, attributes})
		}
		t := newTable(e.stdout, "#Broker Addr", "#Topic", "#Read Queues", "#Write Queues", "#Perm", "#Order", "#Attributes")
		for _, addr := range addrs {
			t.row(addr, *topic, *read, *write, permString(*perm), *order, namesrv.FormatAttributes(attributes))
		}
		return t.flush()
	}
}

func setupTopicList(fs *flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		topics, err := e.admin.TopicList(ctx)
		if err != nil {
			return err
		}
		if e.json {
			if topics == nil {
				topics = []string{}
			}
			return e.printJSON(struct {
				TopicList []string `json:"topicList"`
			}{topics})
		}
		for _, t := range topics {
			fmt.Fprintln(e.stdout, t)
		}
		return nil
	}
}

func setupTopicRoute(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" {
			return usagef("-t is required")
		}
		route, err := e.admin.TopicRoute(ctx, *topic)
		if err != nil {
			return topicError(*topic, err)
		}
		slices.SortFunc(route.BrokerDatas, func(x, y namesrv.BrokerData) int { return strings.Compare(x.BrokerName, y.BrokerName) })
		slices.SortFunc(route.QueueDatas, func(x, y namesrv.QueueData) int { return strings.Compare(x.BrokerName, y.BrokerName) })
		if e.json {
			type brokerData struct {
				Cluster     string            `json:"cluster"`
				BrokerName  string            `json:"brokerName"`
				BrokerAddrs map[string]string `json:"brokerAddrs"`
			}
			type queueData struct {
				BrokerName     string `json:"brokerName"`
				ReadQueueNums  int    `json:"readQueueNums"`
				WriteQueueNums int    `json:"writeQueueNums"`
				Perm           int    `json:"perm"`
				TopicSysFlag   int    `json:"topicSysFlag"`
			}
			out := struct {
				BrokerDatas []brokerData `json:"brokerDatas"`
				QueueDatas  []queueData  `json:"queueDatas"`
			}{[]brokerData{}, []queueData{}}
			for _, b := range route.BrokerDatas {
				addrs := map[string]string{}
				for id, a := range b.BrokerAddrs {
					addrs[strconv.FormatInt(id, 10)] = a
				}
				out.BrokerDatas = append(out.BrokerDatas, brokerData{b.Cluster, b.BrokerName, addrs})
			}
			for _, q := range route.QueueDatas {
				out.QueueDatas = append(out.QueueDatas, queueData{q.BrokerName, q.ReadQueueNums, q.WriteQueueNums, q.Perm, q.TopicSysFlag})
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Cluster", "#Broker Name", "#Broker Id", "#Addr", "#Read Queues", "#Write Queues", "#Perm")
		for _, b := range route.BrokerDatas {
			ids := make([]int64, 0, len(b.BrokerAddrs))
			for id := range b.BrokerAddrs {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				read, write, perm := "-", "-", "-"
				for _, q := range route.QueueDatas {
					if q.BrokerName == b.BrokerName {
						read, write, perm = strconv.Itoa(q.ReadQueueNums), strconv.Itoa(q.WriteQueueNums), permString(q.Perm)
					}
				}
				t.row(b.Cluster, b.BrokerName, id, b.BrokerAddrs[id], read, write, perm)
			}
		}
		return t.flush()
	}
}

func setupTopicStatus(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" {
			return usagef("-t is required")
		}
		stats, err := e.admin.TopicStats(ctx, *topic)
		if err != nil {
			return topicError(*topic, err)
		}
		if e.json {
			type queue struct {
				BrokerName          string `json:"brokerName"`
				QueueID             int32  `json:"queueId"`
				MinOffset           int64  `json:"minOffset"`
				MaxOffset           int64  `json:"maxOffset"`
				LastUpdateTimestamp int64  `json:"lastUpdateTimestamp"`
			}
			out := struct {
				Topic  string  `json:"topic"`
				Queues []queue `json:"queues"`
			}{*topic, []queue{}}
			for _, q := range stats {
				out.Queues = append(out.Queues, queue{q.BrokerName, q.QueueID, q.MinOffset, q.MaxOffset, millis(q.LastUpdate)})
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated")
		for _, q := range stats {
			t.row(q.BrokerName, q.QueueID, q.MinOffset, q.MaxOffset, fmtTime(q.LastUpdate))
		}
		return t.flush()
	}
}
