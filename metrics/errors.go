package metrics

import "errors"

// Errors returned by Serve and Server.
var (
	// ErrClosed is returned by Server.Close after the first call.
	ErrClosed = errors.New("metrics: server closed")
	// ErrInvalidOptions wraps a refused Options or HTTPOptions field.
	ErrInvalidOptions = errors.New("metrics: invalid options")
)
