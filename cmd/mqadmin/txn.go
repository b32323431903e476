package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

func setupTxnList(fs *flag.FlagSet) func(context.Context, *env) error {
	broker := fs.String("b", "", "broker address (default: every master broker)")
	maxNum := fs.Int("c", 1000, "at most this many transactions per broker")
	discarded := fs.Bool("discarded", false, "list the transactions discarded unresolved (TRANS_CHECK_MAX_TIME_TOPIC) instead")
	return func(ctx context.Context, e *env) error {
		if *maxNum <= 0 {
			return usagef("-c must be positive")
		}
		if *discarded {
			return listDiscarded(ctx, e, *maxNum)
		}
		addrs := []string{*broker}
		if *broker == "" {
			var err error
			if addrs, err = masterAddrs(ctx, e, ""); err != nil {
				return err
			}
		}
		var txs []client.OpenTransaction
		total := 0
		for _, addr := range addrs {
			open, n, err := e.admin.OpenTransactions(ctx, addr, *maxNum)
			if err != nil {
				return fmt.Errorf("broker %s: %w", addr, err)
			}
			txs = append(txs, open...)
			total += n
		}
		if e.json {
			type tx struct {
				BrokerAddr         string `json:"brokerAddr"`
				HalfOffset         int64  `json:"halfOffset"`
				QueueOffset        int64  `json:"queueOffset"`
				OffsetMsgID        string `json:"offsetMsgId"`
				ProducerGroup      string `json:"producerGroup"`
				Topic              string `json:"topic"`
				QueueID            int32  `json:"queueId"`
				TransactionID      string `json:"transactionId"`
				StoreTimestamp     int64  `json:"storeTimestamp"`
				AgeMillis          int64  `json:"ageMillis"`
				CheckTimes         int    `json:"checkTimes"`
				LastCheckTimestamp int64  `json:"lastCheckTimestamp"`
				LastCheckResult    string `json:"lastCheckResult"`
				ResumedFrom        int64  `json:"resumedFrom"`
			}
			out := struct {
				Total        int  `json:"total"`
				Transactions []tx `json:"transactions"`
			}{total, []tx{}}
			for _, t := range txs {
				out.Transactions = append(out.Transactions, tx{t.BrokerAddr, t.HalfOffset, t.QueueOffset, t.OffsetMsgID,
					t.ProducerGroup, t.Topic, t.QueueID, t.TransactionID, millis(t.StoreTime), t.Age.Milliseconds(),
					t.CheckTimes, millis(t.LastCheck), t.LastCheckResult, t.ResumedFrom})
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Broker Addr", "#Half Offset", "#Producer Group", "#Topic", "#QID", "#Age", "#Checks", "#Last Check", "#Transaction ID")
		for _, tx := range txs {
			last := tx.LastCheckResult
			if !tx.LastCheck.IsZero() {
				last += " at " + fmtTime(tx.LastCheck)
			}
			t.row(tx.BrokerAddr, tx.HalfOffset, tx.ProducerGroup, tx.Topic, tx.QueueID, fmtAge(tx.Age), tx.CheckTimes, last, tx.TransactionID)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(txs) < total {
			_, err := fmt.Fprintf(e.stdout, "\nOpen: %d (%d shown)\n", total, len(txs))
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "\nOpen: %d\n", total)
		return err
	}
}

// halfMessageFlags are the flags naming one half message: -o offset with -b broker (or the
// only master), or -i its offset message id.
type halfMessageFlags struct {
	broker *string
	offset *int64
	id     *string
}

func newHalfMessageFlags(fs *flag.FlagSet) halfMessageFlags {
	return halfMessageFlags{
		broker: fs.String("b", "", "broker address (default: the only master broker)"),
		offset: fs.Int64("o", -1, "commitlog offset of the half message (txnList's #Half Offset)"),
		id:     fs.String("i", "", "the half message's offset message id, or the transaction id txnList prints (UNIQ_KEY) (instead of -o and -b)"),
	}
}

// resolve returns the broker address and half offset the flags name.
func (f halfMessageFlags) resolve(ctx context.Context, e *env) (string, int64, error) {
	if *f.id != "" {
		if *f.offset >= 0 || *f.broker != "" {
			return "", 0, usagef("-i names the broker and the offset: no -o or -b with it")
		}
		return f.resolveID(ctx, e, *f.id)
	}
	if *f.offset < 0 {
		return "", 0, usagef("-o (or -i) is required")
	}
	if *f.broker != "" {
		return *f.broker, *f.offset, nil
	}
	addrs, err := masterAddrs(ctx, e, "")
	if err != nil {
		return "", 0, err
	}
	if len(addrs) > 1 {
		return "", 0, usagef("%d master brokers: name one with -b", len(addrs))
	}
	return addrs[0], *f.offset, nil
}

// resolveID finds the half message id names: an offset message id of a master broker, or the
// transaction id (UNIQ_KEY) of an open transaction on any master broker.
func (f halfMessageFlags) resolveID(ctx context.Context, e *env, id string) (string, int64, error) {
	if err := checkIDShape(id); err != nil {
		return "", 0, err
	}
	addr, offset, ok, err := offsetIDBroker(ctx, e, id)
	if err != nil {
		return "", 0, err
	}
	if ok {
		noteForm(e, id, formOffsetMsgID)
		return addr, offset, nil
	}
	masters, err := masterAddrs(ctx, e, "")
	if err != nil {
		return "", 0, err
	}
	for _, addr := range masters {
		open, _, err := e.admin.OpenTransactions(ctx, addr, 1<<20)
		if err != nil {
			return "", 0, fmt.Errorf("broker %s: %w", addr, err)
		}
		for _, tx := range open {
			if tx.TransactionID == id {
				noteForm(e, id, "a transaction id (UNIQ_KEY)")
				return addr, tx.HalfOffset, nil
			}
		}
	}
	return "", 0, fmt.Errorf("%s is neither an offset message id of a known broker nor the transaction id of an open transaction", id)
}

func setupTxnCommit(fs *flag.FlagSet) func(context.Context, *env) error {
	return setupResolve(fs, true)
}

func setupTxnRollback(fs *flag.FlagSet) func(context.Context, *env) error {
	return setupResolve(fs, false)
}

func setupResolve(fs *flag.FlagSet, commit bool) func(context.Context, *env) error {
	half := newHalfMessageFlags(fs)
	return func(ctx context.Context, e *env) error {
		addr, offset, err := half.resolve(ctx, e)
		if err != nil {
			return err
		}
		var res client.Resolution
		if commit {
			res, err = e.admin.CommitTransaction(ctx, addr, offset)
		} else {
			res, err = e.admin.RollbackTransaction(ctx, addr, offset)
		}
		if err != nil {
			if errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("no half message at offset %d on %s", offset, addr)
			}
			return fmt.Errorf("half message %d on %s: %w", offset, addr, err)
		}
		if e.json {
			return e.printJSON(struct {
				BrokerAddr  string `json:"brokerAddr"`
				HalfOffset  int64  `json:"halfOffset"`
				Changed     bool   `json:"changed"`
				Remark      string `json:"remark"`
				Topic       string `json:"topic,omitempty"`
				QueueID     int32  `json:"queueId,omitempty"`
				QueueOffset int64  `json:"queueOffset,omitempty"`
				MsgID       string `json:"msgId,omitempty"`
			}{addr, offset, res.Changed, res.Remark, res.Topic, res.QueueID, res.QueueOffset, res.MsgID})
		}
		switch {
		case !res.Changed:
			_, err = fmt.Fprintf(e.stdout, "half message %d on %s: %s\n", offset, addr, res.Remark)
		case commit:
			_, err = fmt.Fprintf(e.stdout, "half message %d on %s: committed; delivered to %s queue %d offset %d, msgId %s\n",
				offset, addr, res.Topic, res.QueueID, res.QueueOffset, res.MsgID)
		default:
			_, err = fmt.Fprintf(e.stdout, "half message %d on %s: rolled back\n", offset, addr)
		}
		return err
	}
}

func setupTxnResume(fs *flag.FlagSet) func(context.Context, *env) error {
	id := fs.String("i", "", "the discarded half message: its offset message id, that of its copy in TRANS_CHECK_MAX_TIME_TOPIC, or its transaction id (UNIQ_KEY) (required)")
	return func(ctx context.Context, e *env) error {
		if *id == "" {
			return usagef("-i is required")
		}
		if err := checkIDShape(*id); err != nil {
			return err
		}
		offsetID := *id
		if _, _, ok, err := offsetIDBroker(ctx, e, *id); err != nil {
			return err
		} else if ok {
			noteForm(e, *id, formOffsetMsgID)
		} else {
			m, _, err := findMessage(ctx, e, *id, txn.DiscardTopic)
			if err != nil {
				return fmt.Errorf("discarded transaction %s: %w", *id, err)
			}
			noteForm(e, *id, "a transaction id (UNIQ_KEY)")
			offsetID = m.OffsetMsgID()
		}
		remark, err := e.admin.ResumeCheckHalfMessage(ctx, offsetID)
		if err != nil {
			return fmt.Errorf("half message %s: %w", *id, err)
		}
		if e.json {
			return e.printJSON(struct {
				MsgID  string `json:"msgId"`
				Remark string `json:"remark"`
			}{offsetID, remark})
		}
		_, err = fmt.Fprintf(e.stdout, "half message %s: %s\n", offsetID, remark)
		return err
	}
}

// listDiscarded prints the transactions discarded after transactionCheckMax checks or
// fileReservedTime (their copies in TRANS_CHECK_MAX_TIME_TOPIC), at most maxNum, oldest first.
// txnResume -i with the offset message id or transaction id puts one back.
func listDiscarded(ctx context.Context, e *env, maxNum int) error {
	c, err := client.NewPullConsumer(client.WithNameServer(strings.Split(e.nameServer, ";")...),
		client.WithGroup(client.ToolsConsumerGroup), client.WithCallTimeout(e.timeout), client.WithSuspendTimeout(0),
		client.WithLogger(quietLogger()))
	if err != nil {
		return err
	}
	defer c.Close()
	queues, err := c.Queues(ctx, txn.DiscardTopic)
	if err != nil {
		return fmt.Errorf("%s: %w", txn.DiscardTopic, err)
	}
	var msgs []client.MessageExt
	for _, mq := range queues {
		next, err := e.admin.MinOffset(ctx, mq)
		if err != nil {
			return err
		}
		end, err := e.admin.MaxOffset(ctx, mq)
		if err != nil {
			return err
		}
		for len(msgs) < maxNum && next < end { // a pull at the end would wait for new messages
			res, err := c.Pull(ctx, mq, next, min(maxNum-len(msgs), 32))
			if err != nil {
				return fmt.Errorf("pull %s: %w", txn.DiscardTopic, err)
			}
			if res.Status != client.PullFound {
				break
			}
			msgs = append(msgs, res.Messages...)
			next = res.NextBeginOffset
		}
	}
	type discardedTx struct {
		BrokerName     string `json:"brokerName"`
		OffsetMsgID    string `json:"offsetMsgId"`
		TransactionID  string `json:"transactionId"`
		ProducerGroup  string `json:"producerGroup"`
		Topic          string `json:"topic"`
		CheckTimes     string `json:"checkTimes"`
		HalfOffset     string `json:"halfOffset"`
		StoreTimestamp int64  `json:"storeTimestamp"`
	}
	out := []discardedTx{}
	for _, m := range msgs {
		prop := func(name string) string { v, _ := m.Property(name); return v }
		out = append(out, discardedTx{m.BrokerName, m.OffsetMsgID(), m.UniqKey(), prop(message.PropertyProducerGroup),
			prop(message.PropertyRealTopic), prop(message.PropertyTransactionCheckTimes), prop(txn.PropertyOrigin), m.StoreTimestamp})
	}
	if e.json {
		return e.printJSON(struct {
			Total        int           `json:"total"`
			Transactions []discardedTx `json:"transactions"`
		}{len(out), out})
	}
	t := newTable(e.stdout, "#Broker Name", "#Discarded At", "#Producer Group", "#Topic", "#Checks", "#Half Offset", "#Transaction ID", "#Offset Msg ID")
	for _, d := range out {
		t.row(d.BrokerName, fmtTime(time.UnixMilli(d.StoreTimestamp)), d.ProducerGroup, d.Topic, d.CheckTimes, d.HalfOffset, d.TransactionID, d.OffsetMsgID)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "\nDiscarded: %d\n", len(out))
	return err
}
