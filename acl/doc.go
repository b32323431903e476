// Package acl is RocketMQ's ACL 1.0 for mqstore: accounts and permissions read from a
// plain_acl.yml file, requests signed with HMAC-SHA1 by the client and checked by the server.
//
// # The file
//
// The format is RocketMQ's (distribution/conf/plain_acl.yml, 4.4 to 5.3.2):
//
//	globalWhiteRemoteAddresses:        # these client IPs pass with no credentials at all
//	  - 10.10.103.*
//	  - 192.168.0.*
//	accounts:
//	  - accessKey: RocketMQ            # longer than 6 characters
//	    secretKey: 12345678            # longer than 6 characters
//	    whiteRemoteAddress:            # matching IPs skip the signature and permission checks
//	    admin: false
//	    defaultTopicPerm: DENY         # DENY, PUB, SUB, PUB|SUB; absent or unknown = DENY
//	    defaultGroupPerm: SUB
//	    topicPerms: [topicA=DENY, topicB=PUB|SUB, topicC=SUB]
//	    groupPerms: [groupA=DENY, groupB=PUB|SUB, groupC=SUB]
//
// Address patterns are RocketMQ's: a single IPv4 or IPv6 address; "*" (or "*.*.*.*") for all;
// a range or wildcard in one IPv4 segment with "*" after it ("192.168.1.1-100",
// "192.168.1.*", "10.1-3.*.*"); a list in the last segment ("192.168.1.{1,2,3}"); a
// comma-separated list of addresses ("10.0.0.1,10.0.0.2"). A blank pattern matches nothing.
// A pattern that does not parse makes the whole file invalid.
//
// # The signature
//
// The client puts AccessKey in the request's extension fields, sorts all of them except
// Signature by key, concatenates the values (no keys, no separators), appends the body, and
// signs that with HMAC-SHA1 keyed by the secret key; the standard base64 of the MAC goes in the
// Signature field (RocketMQ's AclClientRPCHook). Code, opaque, flag, version and remark are
// not signed, nor is there a timestamp: a captured request can be replayed. The server
// recomputes the MAC from the fields it received minus Signature (and minus _UNIQUE_KEY_QUERY,
// which RocketMQ's admin tools add after signing) and compares in constant time.
// rocketmq-client-go sends SecurityToken but leaves it out of what it signs; a signature with or
// without it is accepted.
//
// # The checks
//
// Checker applies RocketMQ's order (PlainPermissionManager.validate): global white list; then
// AccessKey present and known; the account's white list (skips the rest); signature; then the
// permissions. Beyond RocketMQ, every code in AdminCodes needs an admin account (RocketMQ
// requires admin for only five codes, so a plain account could reset offsets or read the ACL
// config: apache/rocketmq#5970). Denials are answered NO_PERMISSION (16) with RocketMQ's
// message as the remark, on a connection that stays open.
package acl
