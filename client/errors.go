package client

import (
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/remoting"
)

// Lifecycle and configuration.
var (
	// ErrClosed: the producer, consumer or admin was closed.
	ErrClosed = errors.New("client: closed")
	// ErrNoNameServer: no name server address was configured.
	ErrNoNameServer = errors.New("client: no name server address")
	// ErrInvalidOption: an option is out of range or missing (group, window, ...).
	ErrInvalidOption = errors.New("client: invalid option")
)

// Routing.
var (
	// ErrNoRoute: the topic has no queue the call can use (no writable
	// queue for a send, no readable queue for a consumer, or no master
	// address for its broker).
	ErrNoRoute = errors.New("client: no route")
	// ErrInvalidMessage: the message cannot be sent as given (nil, no
	// topic, an empty batch, a batch spanning topics).
	ErrInvalidMessage = errors.New("client: invalid message")
	// ErrBadResponse: a response lacks a required header field or its body
	// does not decode.
	ErrBadResponse = errors.New("client: malformed response")
)

// Broker and name server answers. A response code other than the ones a
// call expects is returned as a *BrokerError, which wraps ErrRejected and,
// for the codes of the table below, the matching sentinel, so callers test
// errors.Is(err, client.ErrTopicNotExist).
var (
	// ErrRejected: the server answered with an error code (any code).
	ErrRejected = errors.New("client: request rejected")
	// ErrSystemError: SYSTEM_ERROR (1).
	ErrSystemError = errors.New("client: broker system error")
	// ErrSystemBusy: SYSTEM_BUSY (2), the broker's flow control.
	ErrSystemBusy = errors.New("client: broker busy")
	// ErrNotSupported: REQUEST_CODE_NOT_SUPPORTED (3).
	ErrNotSupported = errors.New("client: request not supported")
	// ErrMessageIllegal: MESSAGE_ILLEGAL (13).
	ErrMessageIllegal = errors.New("client: message illegal")
	// ErrServiceNotAvailable: SERVICE_NOT_AVAILABLE (14).
	ErrServiceNotAvailable = errors.New("client: service not available")
	// ErrNoPermission: NO_PERMISSION (16).
	ErrNoPermission = errors.New("client: no permission")
	// ErrTopicNotExist: TOPIC_NOT_EXIST (17).
	ErrTopicNotExist = errors.New("client: topic does not exist")
	// ErrNotFound: QUERY_NOT_FOUND (22): no stored offset, no message.
	ErrNotFound = errors.New("client: not found")
)

// codeErrors maps wire codes to sentinels: the one table.
var codeErrors = map[remoting.ResponseCode]error{
	remoting.ResponseSystemError:             ErrSystemError,
	remoting.ResponseSystemBusy:              ErrSystemBusy,
	remoting.ResponseRequestCodeNotSupported: ErrNotSupported,
	remoting.ResponseMessageIllegal:          ErrMessageIllegal,
	remoting.ResponseServiceNotAvailable:     ErrServiceNotAvailable,
	remoting.ResponseNoPermission:            ErrNoPermission,
	remoting.ResponseTopicNotExist:           ErrTopicNotExist,
	remoting.ResponseQueryNotFound:           ErrNotFound,
}

// BrokerError is an error code answered by a broker or name server.
type BrokerError struct {
	Code   remoting.ResponseCode
	Remark string
	Addr   string // the server that answered
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("client: %s answered %s (%d): %s", e.Addr, e.Code, int32(e.Code), e.Remark)
}

// Unwrap returns ErrRejected and the sentinel of the code, if any.
func (e *BrokerError) Unwrap() []error {
	if s, ok := codeErrors[e.Code]; ok {
		return []error{ErrRejected, s}
	}
	return []error{ErrRejected}
}

// brokerError makes the error for resp's code.
func brokerError(addr string, resp *remoting.Command) error {
	return &BrokerError{Code: resp.ResponseCode(), Remark: resp.Remark, Addr: addr}
}

// retryable reports whether a synchronous send should try another queue
// after err: transport errors and the codes rocketmq-client-go retries
// (1, 14, 16, 17; the Java client adds 2 as flow control).
func retryable(err error) bool {
	var be *BrokerError
	if !errors.As(err, &be) {
		return !errors.Is(err, ErrClosed) && !errors.Is(err, ErrInvalidMessage)
	}
	switch be.Code {
	case remoting.ResponseSystemError, remoting.ResponseSystemBusy, remoting.ResponseServiceNotAvailable,
		remoting.ResponseNoPermission, remoting.ResponseTopicNotExist:
		return true
	}
	return false
}
