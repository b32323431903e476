package grpcserver

import (
	"context"
	"fmt"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/message"
)

// EndTransaction commits or rolls back a half message, after the producer's local transaction
// (source CLIENT) or answering a check (SERVER_CHECK). transaction_id is the half record's
// offset message id from SendMessage (or from RecoverOrphanedTransactionCommand). Repeating
// the same end is OK; the opposite end of an ended transaction is PRECONDITION_FAILED. An
// unspecified resolution (the producer does not know yet) leaves the transaction open: it is
// checked back later.
func (s *Server) EndTransaction(ctx context.Context, req *v2.EndTransactionRequest) (*v2.EndTransactionResponse, error) {
	if err := s.authorize(ctx, "EndTransaction", need{pubTopic: req.GetTopic().GetName()}); err != nil {
		return &v2.EndTransactionResponse{Status: statusOf(err)}, nil
	}
	_, halfOffset, err := message.ParseOffsetMsgID(req.GetTransactionId())
	if err != nil {
		return &v2.EndTransactionResponse{Status: statusOf(fmt.Errorf("%w: %q: %v", errBadTransactionID, req.GetTransactionId(), err))}, nil
	}
	var commit bool
	switch req.GetResolution() {
	case v2.TransactionResolution_COMMIT:
		commit = true
	case v2.TransactionResolution_ROLLBACK:
	default:
		s.log.Info("grpcserver: transaction state unknown; it will be checked", "transactionId", req.GetTransactionId(),
			"messageId", req.GetMessageId(), "source", req.GetSource().String())
		return &v2.EndTransactionResponse{Status: okStatus()}, nil
	}
	if err := s.b.EndTransactionAt(halfOffset, commit); err != nil {
		s.log.Warn("grpcserver: end transaction refused", "transactionId", req.GetTransactionId(), "commit", commit, "err", err)
		return &v2.EndTransactionResponse{Status: statusOf(err)}, nil
	}
	return &v2.EndTransactionResponse{Status: okStatus()}, nil
}
