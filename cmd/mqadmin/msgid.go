package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// A message has two ids, both 32 hex digits: the offset message id the broker makes (store
// host and commitlog offset; SendResult.OffsetMsgID) and the client's message id, UNIQ_KEY
// (SendResult.MsgID, the transaction id txnList prints). Every -i flag takes either: an id that
// decodes to the address of a master broker is tried as an offset message id first; otherwise
// (or when that broker has no such message) it is looked up as a UNIQ_KEY. The command says on
// stderr which form matched.
const (
	formOffsetMsgID = "an offset message id"
	formUniqKey     = "a client message id (UNIQ_KEY)"
)

// noteForm records which form an id matched; run prints it on stderr when the command
// succeeded (a failure's reason stays one line).
func noteForm(e *env, id, form string) {
	e.notes = append(e.notes, fmt.Sprintf("%s is %s", id, form))
}

// checkIDShape refuses a -i value that is no message id in either form: a UNIQ_KEY is 32 hex
// digits, an offset message id 32 (IPv4) or 56 (IPv6).
func checkIDShape(id string) error {
	if _, _, err := message.ParseOffsetMsgID(id); err == nil {
		return nil
	}
	if len(id) == 32 {
		if _, err := hex.DecodeString(id); err == nil {
			return nil
		}
	}
	return usagef("-i %s: not a message id (an offset message id or a UNIQ_KEY, 32 hex digits)", id)
}

// offsetIDBroker returns the broker address and commitlog offset id names when it is an offset
// message id of a master broker the name server knows.
func offsetIDBroker(ctx context.Context, e *env, id string) (string, int64, bool, error) {
	host, offset, err := message.ParseOffsetMsgID(id)
	if err != nil {
		return "", 0, false, nil
	}
	masters, err := masterAddrs(ctx, e, "")
	if err != nil {
		return "", 0, false, err
	}
	addr := host.String()
	return addr, offset, slices.Contains(masters, addr), nil
}

// findMessage finds the message id names in either form. A UNIQ_KEY is looked up in topic, or
// in every topic when topic is "".
func findMessage(ctx context.Context, e *env, id, topic string) (client.MessageExt, string, error) {
	if err := checkIDShape(id); err != nil {
		return client.MessageExt{}, "", err
	}
	_, _, ok, err := offsetIDBroker(ctx, e, id)
	if err != nil {
		return client.MessageExt{}, "", err
	}
	var byOffset error // the broker's answer to id as an offset message id
	if ok {
		m, err := e.admin.QueryMessageByID(ctx, id)
		if err == nil {
			return m, formOffsetMsgID, nil
		}
		var be *client.BrokerError
		if !errors.As(err, &be) && !errors.Is(err, client.ErrNotFound) {
			return client.MessageExt{}, "", err
		}
		byOffset = err
	}
	topics := []string{topic}
	if topic == "" {
		if topics, err = e.admin.TopicList(ctx); err != nil {
			return client.MessageExt{}, "", err
		}
	}
	for _, t := range topics {
		found, err := e.admin.QueryMessageByKey(ctx, t, id, 16, time.Time{}, time.Time{})
		if err != nil {
			continue // a topic without a route or on an unreachable broker: look on
		}
		for _, m := range found {
			if m.UniqKey() == id {
				return m, formUniqKey, nil
			}
		}
	}
	where := "any topic"
	if topic != "" {
		where = "topic " + topic
	}
	if byOffset != nil {
		return client.MessageExt{}, "", fmt.Errorf("as an offset message id: %w; as a UNIQ_KEY: none in %s", byOffset, where)
	}
	return client.MessageExt{}, "", fmt.Errorf("no message has the id %s: not an offset message id of a known broker, nor a UNIQ_KEY in %s", id, where)
}
