package remoting

import "errors"

// Errors from decoding frames and headers. A connection that reads one of
// them is closed.
var (
	// ErrFrameTooLarge: a frame's length exceeds the configured maximum, or
	// a command to be written would exceed it.
	ErrFrameTooLarge = errors.New("remoting: frame too large")
	// ErrMalformedFrame: a frame's lengths are inconsistent (header longer
	// than the frame, negative or too small lengths).
	ErrMalformedFrame = errors.New("remoting: malformed frame")
	// ErrMalformedHeader: the header could not be decoded.
	ErrMalformedHeader = errors.New("remoting: malformed header")
	// ErrUnknownSerializeType: the serialization type byte is neither JSON
	// (0) nor ROCKETMQ (1).
	ErrUnknownSerializeType = errors.New("remoting: unknown serialize type")
)

// Errors from encoding a command.
var (
	// ErrFieldTooLong: a value does not fit its field in the chosen header
	// serialization (a code or version beyond int16 in the ROCKETMQ header,
	// a key longer than 32767 bytes).
	ErrFieldTooLong = errors.New("remoting: field does not fit the header")
)

// Errors from typed extension-field getters.
var (
	// ErrMissingField: the extension field is absent.
	ErrMissingField = errors.New("remoting: missing ext field")
	// ErrBadField: the extension field does not parse as the requested type.
	ErrBadField = errors.New("remoting: bad ext field")
)

// Errors from calls and connections.
var (
	// ErrClosed: the Server or Client is closed.
	ErrClosed = errors.New("remoting: closed")
	// ErrConnClosed: the connection closed before the call completed or
	// the frame was written.
	ErrConnClosed = errors.New("remoting: connection closed")
	// ErrTimeout: no response arrived within the call's timeout.
	ErrTimeout = errors.New("remoting: call timed out")
	// ErrNotRequest: Invoke was given a command with the response flag set,
	// or WriteResponse a command without it.
	ErrNotRequest = errors.New("remoting: wrong command direction")
)
