package broker

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A RocketMQ broker.conf holds keys of BrokerConfig, MessageStoreConfig, NettyServerConfig and
// AuthConfig; RocketMQ silently ignores any other key. mqstore sorts every key it reads into one of:
//
//   - implemented (configKeys): the value takes effect;
//   - known but not implemented (rocketmqKeys): accepted with one notice naming the key and what
//     mqstore does instead, except values that would be unsafe or surprising to ignore, which are
//     refused with the reason (refusal below);
//   - unknown: refused, with the nearest known key as a suggestion (a typo RocketMQ would have
//     ignored silently).

// keyCategory groups RocketMQ keys by what mqstore does instead of their feature.
type keyCategory int

const (
	catOther keyCategory = iota
	catAuth
	catReplication
	catPop
	catTimer
	catThreads
	catMetrics
	catCompaction
	catAlternateStore
	catFlush
	catNetwork
	catFilter
	catTrace
	catTransaction
)

// instead says what mqstore does in place of a category's feature.
var instead = map[keyCategory]string{
	catOther:          "mqstore has no such setting; the key has no effect",
	catAuth:           "mqstore has no ACL or authentication yet: every client that reaches a port is served (ports bind bindAddress, loopback by default)",
	catReplication:    "mqstore is a single master without replication: nothing is replicated and no HA port is opened",
	catPop:            "mqstore has no POP consumption; push and pull consumers are served",
	catTimer:          "mqstore's timing wheel is configured by timerWheelEnable, timerMaxDelaySec, timerPrecisionMs and timerRollWindowSlot only; this tuning knob of RocketMQ's has no counterpart",
	catThreads:        "mqstore sizes its worker pools itself (separate send, pull, query and admin pools)",
	catMetrics:        "mqstore serves Prometheus metrics on -metrics-addr; there is no other exporter or statistics log",
	catCompaction:     "mqstore has no compacted topics",
	catAlternateStore: "mqstore keeps consume queues, index and offsets in RocketMQ's file layout under storePathRootDir (no RocksDB, tiered storage or light message queues)",
	catFlush:          "mqstore's store manages this itself: the commitlog is flushed every flushIntervalCommitLog (ASYNC_FLUSH) or by group commit (SYNC_FLUSH), records are CRC-checked on recovery, and there is no transient store pool",
	catNetwork:        "mqstore's TCP server has no such setting (Go's net package, OS socket defaults)",
	catFilter:         "mqstore filters by tag on the broker; there is no SQL92 filter or filter server",
	catTrace:          "mqstore does not manage a trace topic: client traces are stored like any message in the topic they name, created on first use when autoCreateTopicEnable is on",
	catTransaction:    "mqstore writes one op message per commit or rollback and tracks open transactions in memory",
}

// refusal returns why key=value is refused, or "" when the value may be ignored. These are the
// values that would make mqstore behave differently from what the file asks in a way that loses
// data or exposes it.
func refusal(key, value string, c *Config) string {
	isTrue := func() bool { b, err := strconv.ParseBool(value); return err == nil && b }
	switch key {
	case "brokerRole":
		switch strings.ToUpper(value) {
		case "ASYNC_MASTER", "SYNC_MASTER":
			return ""
		case "SLAVE":
			return "mqstore runs only as a master and cannot replicate from one: started from a slave's file it would accept writes of its own"
		}
		return "want ASYNC_MASTER or SYNC_MASTER (mqstore is a single master)"
	case "enableControllerMode":
		if isTrue() {
			return "mqstore has no controller-managed replication: the broker would run unreplicated, without the failover this file asks for"
		}
	case "authenticationEnabled", "authorizationEnabled":
		if isTrue() {
			return "mqstore implements ACL 1.0 (aclEnable=true with plain_acl.yml), not ACL 2.0's users and policies: every client would be served without the checks this file asks for"
		}
	case "storePathCommitLog":
		if want := filepath.Join(c.StorePathRootDir, "commitlog"); filepath.Clean(value) != want {
			return fmt.Sprintf("mqstore keeps the commitlog in storePathRootDir/commitlog (%s); set storePathRootDir instead", want)
		}
	case "storePathConsumerQueue":
		if want := filepath.Join(c.StorePathRootDir, "consumequeue"); filepath.Clean(value) != want {
			return fmt.Sprintf("mqstore keeps consume queues in storePathRootDir/consumequeue (%s); set storePathRootDir instead", want)
		}
	}
	return ""
}

// quietValue lists values of known keys that mean what mqstore does anyway: no notice for them.
func quietValue(key, value string) bool {
	isFalse := func() bool { b, err := strconv.ParseBool(value); return err == nil && !b }
	switch key {
	case "brokerRole":
		return strings.EqualFold(value, "ASYNC_MASTER")
	case "enableControllerMode", "authenticationEnabled", "authorizationEnabled",
		"slaveReadEnable", "transientStorePoolEnable", "enableCompaction",
		"duplicationEnable":
		return isFalse()
	case "storePathCommitLog", "storePathConsumerQueue":
		return true // refusal checked the path
	}
	return false
}

// specific notices of keys whose category text is not precise enough.
var specificNotice = map[string]string{
	"brokerRole":             "mqstore is a single master with no slave to wait for: a send is acknowledged after the local write (flushed first under SYNC_FLUSH)",
	"storePathConsumerQueue": "not a RocketMQ key either (RocketMQ's docs list it; RocketMQ ignores it)",
	"haListenPort":           "mqstore is a single master without replication: no HA port is opened",
	"brokerConfigPaths":      "mqstore runs one broker per process (no broker container): start one mqstore per broker file",
	"brokerIP2":              "mqstore is a single master without replication: brokerIP1 is its only address",
}

// LateKeys are keys whose check depends on other keys (storePathRootDir): apply them after all
// others.
var LateKeys = []string{"storePathCommitLog", "storePathConsumerQueue"}

// Apply sets a broker.conf key as RocketMQ's broker reads it. Keys mqstore implements take
// effect (as Set). Other keys of RocketMQ's broker configuration are accepted with a notice
// naming the key and what mqstore does instead ("" when the value is what mqstore does anyway),
// or refused with ErrRefusedKey and the reason where ignoring them would be unsafe or surprising
// (brokerRole=SLAVE, enableControllerMode=true, ...). A key RocketMQ does not
// have either fails with ErrUnknownKey and the nearest known key.
func (c *Config) Apply(key, value string) (notice string, err error) {
	value = strings.TrimSpace(value)
	if _, ok := configKeys[key]; ok {
		if err := c.Set(key, value); err != nil {
			return "", err
		}
		if key == "deleteWhen" {
			return "mqstore removes expired files at any hour, every cleanResourceInterval, not only at deleteWhen", nil
		}
		return "", nil
	}
	cat, ok := rocketmqKeys[key]
	if !ok {
		return "", fmt.Errorf("%w: %q%s", ErrUnknownKey, key, Suggest(key))
	}
	if why := refusal(key, value, c); why != "" {
		return "", fmt.Errorf("%w: %s=%s: %s", ErrRefusedKey, key, value, why)
	}
	if quietValue(key, value) {
		return "", nil
	}
	if n, ok := specificNotice[key]; ok {
		return n, nil
	}
	return instead[cat], nil
}

// Known reports whether key is a broker.conf key Apply accepts in some form.
func Known(key string) bool {
	if _, ok := configKeys[key]; ok {
		return true
	}
	_, ok := rocketmqKeys[key]
	return ok
}

// IsBool reports whether key is a boolean key mqstore implements.
func IsBool(key string) bool { return configKeys[key].isBool }

// Suggest returns ` (did you mean "x"?)` for the known key nearest to key, or "" when none is
// close (edit distance at most a third of the key's length, at least 1; case differences count
// as half an edit).
func Suggest(key string) string {
	if s := Nearest(key, allKnownKeys()); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Nearest returns the candidate nearest to word by edit distance, or "" when none is close.
func Nearest(word string, candidates []string) string {
	best, bestDist := "", 1<<30
	limit := max(2, len(word)/3)
	for _, k := range candidates {
		d := editDistance(word, k)
		if strings.EqualFold(word, k) {
			d = 1 // only letter case differs
		}
		if d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if bestDist > limit {
		return ""
	}
	return best
}

func allKnownKeys() []string {
	keys := make([]string, 0, len(configKeys)+len(rocketmqKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	for k := range rocketmqKeys {
		if _, dup := configKeys[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// editDistance is the Damerau (optimal string alignment) distance: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
