package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
)

func setupClusterList(fs *flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		brokers, clusters, err := e.admin.ClusterInfo(ctx)
		if err != nil {
			return err
		}
		type broker struct {
			Cluster     string `json:"cluster"`
			BrokerName  string `json:"brokerName"`
			BrokerID    int64  `json:"brokerId"`
			Addr        string `json:"addr"`
			Version     string `json:"version"`
			PutToday    string `json:"msgPutTotalTodayNow"`
			GetToday    string `json:"msgGetTotalTodayNow"`
			Unreachable string `json:"unreachable,omitempty"`
		}
		var rows []broker
		names := make([]string, 0, len(clusters))
		for c := range clusters {
			names = append(names, c)
		}
		slices.Sort(names)
		for _, c := range names {
			members := slices.Sorted(slices.Values(clusters[c]))
			for _, name := range members {
				b := brokers[name]
				ids := make([]int64, 0, len(b.BrokerAddrs))
				for id := range b.BrokerAddrs {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				for _, id := range ids {
					r := broker{Cluster: c, BrokerName: name, BrokerID: id, Addr: b.BrokerAddrs[id], Version: "-", PutToday: "-", GetToday: "-"}
					if info, err := e.admin.BrokerRuntimeInfo(ctx, r.Addr); err != nil {
						r.Unreachable = reason(err)
					} else {
						r.Version, r.PutToday, r.GetToday = info["brokerVersionDesc"], info["msgPutTotalTodayNow"], info["msgGetTotalTodayNow"]
					}
					rows = append(rows, r)
				}
			}
		}
		if e.json {
			if rows == nil {
				rows = []broker{}
			}
			return e.printJSON(struct {
				Brokers []broker `json:"brokers"`
			}{rows})
		}
		t := newTable(e.stdout, "#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#Put Today", "#Get Today")
		for _, r := range rows {
			t.row(r.Cluster, r.BrokerName, r.BrokerID, r.Addr, r.Version, r.PutToday, r.GetToday)
		}
		return t.flush()
	}
}

func setupBrokerStatus(fs *flag.FlagSet) func(context.Context, *env) error {
	broker := fs.String("b", "", "broker address (default: every master broker, or those of -c)")
	cluster := fs.String("c", "", "cluster name")
	return func(ctx context.Context, e *env) error {
		addrs := []string{*broker}
		if *broker == "" {
			var err error
			if addrs, err = masterAddrs(ctx, e, *cluster); err != nil {
				return err
			}
		}
		all := make(map[string]map[string]string, len(addrs))
		for _, addr := range addrs {
			info, err := e.admin.BrokerRuntimeInfo(ctx, addr)
			if err != nil {
				return fmt.Errorf("broker %s: %w", addr, err)
			}
			all[addr] = info
		}
		if e.json {
			if *broker != "" {
				return e.printJSON(all[*broker])
			}
			return e.printJSON(all)
		}
		for i, addr := range addrs {
			if len(addrs) > 1 {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				fmt.Fprintf(e.stdout, "#Broker %s\n", addr)
			}
			info := all[addr]
			keys := make([]string, 0, len(info))
			for k := range info {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			t := newTable(e.stdout, "#Key", "#Value")
			for _, k := range keys {
				t.row(k, info[k])
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		return nil
	}
}
