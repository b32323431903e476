package acl

import "strings"

// Perm is a set of permission bits, RocketMQ's Permission byte. The numbers are RocketMQ's.
type Perm uint8

// Permission bits.
const (
	PermDeny Perm = 1 << 0 // DENY: nothing, whatever else is set
	PermAny  Perm = 1 << 1 // needed only: PUB or SUB will do
	PermPub  Perm = 1 << 2 // PUB: produce
	PermSub  Perm = 1 << 3 // SUB: consume
)

// ParsePerm parses a permission as RocketMQ's Permission.parsePermFromString does: "PUB",
// "SUB", "PUB|SUB", "SUB|PUB" and "DENY"; anything else (and "") is DENY. Blanks around the
// value are ignored.
func ParsePerm(s string) Perm {
	switch strings.TrimSpace(s) {
	case "PUB":
		return PermPub
	case "SUB":
		return PermSub
	case "PUB|SUB", "SUB|PUB":
		return PermPub | PermSub
	}
	return PermDeny
}

// String returns the form ParsePerm reads.
func (p Perm) String() string {
	switch {
	case p&PermDeny != 0 || p == 0:
		return "DENY"
	case p&(PermPub|PermSub) == PermPub|PermSub:
		return "PUB|SUB"
	case p&PermPub != 0:
		return "PUB"
	case p&PermSub != 0:
		return "SUB"
	case p&PermAny != 0:
		return "ANY"
	}
	return "DENY"
}

// Allows reports whether owned grants needed (RocketMQ's Permission.checkPermission): DENY in
// owned refuses everything; needed ANY is met by PUB or SUB; otherwise owned must share a bit
// with needed.
func (owned Perm) Allows(needed Perm) bool {
	if owned&PermDeny != 0 {
		return false
	}
	if needed&PermAny != 0 {
		return owned&(PermPub|PermSub) != 0
	}
	return needed&owned != 0
}
