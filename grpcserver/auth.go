package grpcserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/remoting"
)

// Metadata of a signed RocketMQ 5 call. The client (rocketmq-clients' Sign) sends
//
//	x-mq-date-time: 20240102T150405Z
//	authorization:  MQv2-HMAC-SHA1 Credential=<accessKey>/<sessionToken?>/Rocketmq, SignedHeaders=x-mq-date-time, Signature=<hex>
//
// where Signature is the hex HMAC-SHA1 of the x-mq-date-time value keyed by the secret key.
// RocketMQ's proxy (PlainAccessValidator.parse(AuthenticationHeader, …)) takes the access key
// from the first '/'-separated part of Credential and checks the MAC of the date-time; it does
// not bound the clock skew, and neither does mqstore (a captured call can be replayed, as a
// remoting request can).
const (
	mdAuthorization = "authorization"
	mdDateTime      = "x-mq-date-time"
	authScheme      = "MQv2-HMAC-SHA1"
)

// errAuthorization: the authorization metadata does not parse.
var errAuthorization = errors.New("grpcserver: malformed authorization metadata")

// credential is what a call's metadata claims.
type credential struct {
	accessKey string
	signature []byte // the MAC, decoded from hex; nil if absent or not hex
	dateTime  string
}

// parseCredential reads the authorization metadata of ctx; a zero credential when there is
// none.
func parseCredential(ctx context.Context) (credential, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var c credential
	auth := first(md, mdAuthorization)
	if auth == "" {
		return c, nil
	}
	c.dateTime = first(md, mdDateTime)
	scheme, rest, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if scheme != authScheme {
		return c, fmt.Errorf("%w: scheme %q, want %s", errAuthorization, scheme, authScheme)
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return c, fmt.Errorf("%w: %q is not key=value", errAuthorization, strings.TrimSpace(kv))
		}
		switch k {
		case "Credential":
			c.accessKey, _, _ = strings.Cut(v, "/")
		case "Signature":
			c.signature, _ = hex.DecodeString(v)
		}
	}
	return c, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// verify reports whether the credential's signature is the MAC of its date-time under
// secretKey, in constant time.
func (c *credential) verify(secretKey []byte) bool {
	if len(c.signature) != sha1.Size || c.dateTime == "" {
		return false
	}
	mac := hmac.New(sha1.New, secretKey)
	mac.Write([]byte(c.dateTime))
	return hmac.Equal(mac.Sum(nil), c.signature)
}

// need is one permission a call needs: publish to a topic, or consume a topic and/or group.
type need struct {
	pubTopic string // PUB on this topic
	subTopic string // SUB on this topic
	group    string // SUB on this group
}

// authorize checks the call's credentials and the permissions it needs against the broker's
// ACL (the accounts and permissions remoting clients are checked against), and audits and
// counts a denial as remoting's are. nil when ACL is off, when every need passes, or when the
// client's address is white-listed. A refusal wraps *acl.Denial: statusOf answers
// UNAUTHORIZED for bad credentials and FORBIDDEN for a missing permission.
func (s *Server) authorize(ctx context.Context, method string, needs ...need) error {
	checker := s.b.ACL()
	if checker == nil || !checker.Enabled() {
		return nil
	}
	c, err := parseCredential(ctx)
	if err != nil {
		// Checked as a bad signature of that key (or no key): audited and counted.
		c.signature = nil
	}
	r := acl.Request{Code: remoting.RequestHeartBeat, Action: "grpc:" + method, Verify: c.verify}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteString = p.Addr.String()
	}
	r.Remote = peerAddr(ctx).Addr()
	fields := remoting.Fields{{Key: acl.FieldAccessKey, Value: c.accessKey}}
	if len(needs) == 0 {
		r.Fields = fields
		return authErr(checker.Check(&r))
	}
	for _, n := range needs {
		// Each need as the remoting request that needs the same: SEND_MESSAGE_V2 (b = topic)
		// needs PUB on the topic, PULL_MESSAGE SUB on the topic and on the group,
		// UNREGISTER_CLIENT SUB on the group.
		f := append(remoting.Fields(nil), fields...)
		switch {
		case n.pubTopic != "":
			r.Code = remoting.RequestSendMessageV2
			f = append(f, remoting.Field{Key: "b", Value: n.pubTopic})
		case n.subTopic != "":
			r.Code = remoting.RequestPullMessage
			f = append(f, remoting.Field{Key: "topic", Value: n.subTopic})
			if n.group != "" {
				f = append(f, remoting.Field{Key: "consumerGroup", Value: n.group})
			}
		case n.group != "":
			r.Code = remoting.RequestUnregisterClient
			f = append(f, remoting.Field{Key: "consumerGroup", Value: n.group})
		default:
			r.Code = remoting.RequestHeartBeat
		}
		r.Fields = f
		if err := checker.Check(&r); err != nil {
			return authErr(err)
		}
	}
	return nil
}

// Errors of authorize, mapped by statusOf; both wrap the *acl.Denial with its message.
var (
	// errUnauthorized: no, unknown or badly signed credentials.
	errUnauthorized = errors.New("unauthorized")
	// errForbidden: valid credentials without the permission the call needs.
	errForbidden = errors.New("forbidden")
)

func authErr(err error) error {
	var d *acl.Denial
	if !errors.As(err, &d) {
		return err
	}
	switch d.Reason {
	case acl.ReasonNotAdmin, acl.ReasonNoPermission:
		return fmt.Errorf("%w: %w", errForbidden, d)
	}
	return fmt.Errorf("%w: %w", errUnauthorized, d)
}
