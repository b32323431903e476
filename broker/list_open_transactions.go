package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// MQSTORE_LIST_OPEN_TRANSACTIONS (9000, private; docs/PROTOCOL.md): the open transactions of
// this broker, oldest first, for mqadmin txnList. Header: maxNum (optional, default
// defaultListOpenTransactions, capped at maxListOpenTransactions). The body is JSON:
//
//	{"total":2,"transactions":[
//	  {"commitLogOffset":1024,"tranStateTableOffset":3,"offsetMsgId":"7F00000100002A9F0000000000000400",
//	   "producerGroup":"pg","topic":"Orders","queueId":1,"transactionId":"7F00...","storeTimestamp":1700000000000,
//	   "ageMillis":61000,"checkTimes":2,"lastCheckTimestamp":1700000060000,"lastCheckResult":"unknown",
//	   "resumedFrom":-1}, ...]}
//
// total counts every open transaction, transactions holds the first maxNum. commitLogOffset is
// the half message's (what MQSTORE_COMMIT_HALF_MESSAGE and MQSTORE_ROLLBACK_HALF_MESSAGE take),
// lastCheckTimestamp is 0 when never checked, lastCheckResult one of none, unknown, commit,
// rollback, failed (txn.CheckResult), resumedFrom the commitlog offset of the discarded half
// message this one resumes, or -1.

const (
	defaultListOpenTransactions = 1000
	maxListOpenTransactions     = 100_000
)

// The answer's body, shared with the client (package protocol).
type (
	openTransactionsBody = protocol.OpenTransactions
	openTransactionJSON  = protocol.OpenTransaction
)

func (b *Broker) handleListOpenTransactions(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	limit := defaultListOpenTransactions
	if req.Ext(protocol.FieldMaxNum) != "" {
		n, err := req.GetInt32(protocol.FieldMaxNum)
		if err != nil || n <= 0 {
			return errorResponse(req, fmt.Errorf("%w: field %s %q is not a positive number", ErrBadRequest, protocol.FieldMaxNum, req.Ext(protocol.FieldMaxNum)))
		}
		limit = min(int(n), maxListOpenTransactions)
	}
	open := b.store.Transactions().Open()
	body := openTransactionsBody{Total: len(open), Transactions: make([]openTransactionJSON, 0, min(len(open), limit))}
	for _, o := range open[:min(len(open), limit)] {
		t := openTransactionJSON{
			CommitLogOffset:      o.HalfOffset,
			TranStateTableOffset: o.QueueOffset,
			OffsetMsgID:          message.OffsetMsgID(b.storeHost(), o.HalfOffset),
			ProducerGroup:        o.ProducerGroup,
			Topic:                o.Topic,
			QueueID:              o.QueueID,
			TransactionID:        o.TransactionID,
			StoreTimestamp:       o.StoreTimestamp,
			AgeMillis:            o.Age.Milliseconds(),
			CheckTimes:           o.CheckTimes,
			LastCheckResult:      o.LastResult.String(),
			ResumedFrom:          o.ResumedFrom,
		}
		if !o.LastCheck.IsZero() {
			t.LastCheckTimestamp = o.LastCheck.UnixMilli()
		}
		body.Transactions = append(body.Transactions, t)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = data
	return resp
}
