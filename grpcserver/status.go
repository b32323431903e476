package grpcserver

import (
	"errors"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// okStatus is the status of a successful call.
func okStatus() *v2.Status { return &v2.Status{Code: v2.Code_OK, Message: "OK"} }

// newStatus is a status with a message.
func newStatus(code v2.Code, msg string) *v2.Status { return &v2.Status{Code: code, Message: msg} }

// statusOf maps an error to the protocol's status: the one table of error → code.
func statusOf(err error) *v2.Status {
	if err == nil {
		return okStatus()
	}
	code := v2.Code_INTERNAL_SERVER_ERROR
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, broker.ErrBadRequest):
		code = v2.Code_BAD_REQUEST
	case errors.Is(err, broker.ErrInvalidTopic):
		code = v2.Code_ILLEGAL_TOPIC
	case errors.Is(err, broker.ErrTopicNotExist):
		code = v2.Code_TOPIC_NOT_FOUND
	case errors.Is(err, errUnauthorized):
		code = v2.Code_UNAUTHORIZED
	case errors.Is(err, errForbidden), errors.Is(err, broker.ErrNoPermission):
		code = v2.Code_FORBIDDEN
	case errors.Is(err, broker.ErrGroupNotExist):
		code = v2.Code_CONSUMER_GROUP_NOT_FOUND
	case errors.Is(err, broker.ErrInvalidReceipt):
		code = v2.Code_INVALID_RECEIPT_HANDLE
	case errors.Is(err, errBodyTooLarge):
		code = v2.Code_MESSAGE_BODY_TOO_LARGE
	case errors.Is(err, store.ErrMessageIllegal), errors.Is(err, txn.ErrInvalidMessage), errors.Is(err, txn.ErrDelayedTransaction):
		code = v2.Code_BAD_REQUEST
	case errors.Is(err, store.ErrServiceNotAvailable):
		code = v2.Code_TOO_MANY_REQUESTS
	case errors.Is(err, store.ErrFlushTimeout):
		code = v2.Code_MASTER_PERSISTENCE_TIMEOUT
	case errors.Is(err, broker.ErrNoSuchTransaction), errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage),
		errors.Is(err, errBadTransactionID):
		code = v2.Code_INVALID_TRANSACTION_ID
	case errors.Is(err, txn.ErrAlreadyCommitted), errors.Is(err, txn.ErrAlreadyRolledBack), errors.Is(err, txn.ErrDiscarded),
		errors.Is(err, txn.ErrResumed):
		code = v2.Code_PRECONDITION_FAILED
	case errors.Is(err, broker.ErrPopClosed), errors.Is(err, store.ErrClosed), errors.Is(err, txn.ErrClosed), errors.Is(err, ErrClosed):
		code = v2.Code_HA_NOT_AVAILABLE
	}
	return &v2.Status{Code: code, Message: err.Error()}
}

// Errors of requests, mapped by statusOf.
var (
	// errBadRequest: a required field is missing or malformed.
	errBadRequest = errors.New("grpcserver: bad request")
	// errBodyTooLarge: a message body over maxMessageSize.
	errBodyTooLarge = errors.New("grpcserver: message body too large")
	// errBadTransactionID: a transaction id that does not name a half message.
	errBadTransactionID = errors.New("grpcserver: invalid transaction id")
)
