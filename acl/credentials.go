package acl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mqstore/mqstore/remoting"
)

// Credentials are the keys of an ACL account a server signs its own requests with, written as
// RocketMQ writes them (its SessionCredentials as JSON): {"accessKey":"…","secretKey":"…"},
// the broker key innerClientAuthenticationCredentials (RocketMQ 5's AuthConfig; its
// BrokerOuterAPI signs the broker's requests to other brokers with them, AclClientRPCHook).
type Credentials struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// ParseCredentials parses s; a blank s gives empty Credentials (nothing to sign with). Both
// keys must be set and longer than MinKeyLength, as in an ACL file.
func ParseCredentials(s string) (Credentials, error) {
	if strings.TrimSpace(s) == "" {
		return Credentials{}, nil
	}
	var c Credentials
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return Credentials{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	if len(c.AccessKey) <= MinKeyLength || len(c.SecretKey) <= MinKeyLength {
		return Credentials{}, fmt.Errorf("%w: accessKey and secretKey must be longer than %d characters", ErrBadCredentials, MinKeyLength)
	}
	return c, nil
}

// Empty reports whether there is nothing to sign with.
func (c Credentials) Empty() bool { return c.AccessKey == "" || c.SecretKey == "" }

// Sign sets AccessKey and Signature on cmd (SignCommand); nothing when c is empty.
func (c Credentials) Sign(cmd *remoting.Command) {
	if !c.Empty() {
		SignCommand(cmd, c.AccessKey, c.SecretKey, "")
	}
}
