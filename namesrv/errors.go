package namesrv

import "errors"

// Errors from decoding JSON bodies received from the network.
var (
	// ErrMalformedRoute: a TopicRouteData body (GET_ROUTEINFO_BY_TOPIC's
	// answer) does not decode, even tolerantly.
	ErrMalformedRoute = errors.New("namesrv: malformed route")
	// ErrMalformedRegistration: a REGISTER_BROKER body or header does not
	// decode, or its bodyCrc32 does not match the body.
	ErrMalformedRegistration = errors.New("namesrv: malformed broker registration")
)

// Errors from calls to a remote name server.
var (
	// ErrRejected: the name server answered with a code other than SUCCESS;
	// the wrapping error carries the code and remark.
	ErrRejected = errors.New("namesrv: request rejected")
)

// Errors from the Server's lifecycle.
var (
	// ErrClosed: the Server is closed (a second Close, or Start after Close).
	ErrClosed = errors.New("namesrv: closed")
)
