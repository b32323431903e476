package acl

import "unsafe"

// stringBytes returns the bytes of s without copying; they must not be modified.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
