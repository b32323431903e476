package acl

import "errors"

// Errors of loading an ACL file. A Checker that fails to reload keeps its previous rules.
var (
	// ErrBadFile: the file is not valid YAML of the plain_acl.yml shape, or an entry in it is
	// invalid (short keys, duplicate access keys, a topicPerms entry without '=').
	ErrBadFile = errors.New("acl: invalid ACL file")
	// ErrBadAddress: an address pattern does not parse.
	ErrBadAddress = errors.New("acl: invalid address pattern")
	// ErrBadCredentials: a server's own credentials (ParseCredentials) are not RocketMQ's
	// {"accessKey","secretKey"} JSON with keys long enough.
	ErrBadCredentials = errors.New("acl: invalid credentials")
)

// Errors of Checker.
var (
	// ErrClosed: the Checker was closed.
	ErrClosed = errors.New("acl: checker closed")
)
