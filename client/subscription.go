package client

import (
	"strconv"
	"strings"

	"github.com/mqstore/mqstore/message"
)

// parseTags splits a TAG expression ("a || b", "*" or "") into its tags; nil
// for "*" and "".
func parseTags(expression string) []string {
	expression = strings.TrimSpace(expression)
	if expression == "" || expression == subscribeAll {
		return nil
	}
	var tags []string
	for _, t := range strings.Split(expression, "||") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// javaHashString is the decimal Java String.hashCode of tag, a codeSet entry.
func javaHashString(tag string) string {
	return strconv.Itoa(int(message.JavaHashCode(tag)))
}
