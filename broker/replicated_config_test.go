package broker

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/txn"
)

func TestOffsetConfigKey(t *testing.T) {
	for _, q := range []offsetQueue{
		{offsetKey{topic: "T", group: "g"}, 0},
		{offsetKey{topic: "%RETRY%g", group: "g"}, 7},
		{offsetKey{topic: "a_b-c", group: "CID-x"}, 1023},
	} {
		got, ok := parseOffsetConfigKey(q.configKey())
		if !ok || got != q {
			t.Errorf("%q parsed as %+v (%v), want %+v", q.configKey(), got, ok, q)
		}
	}
	for _, bad := range []string{"", "g", "g@T", "g@T@x", "g@T@99999999999"} {
		if _, ok := parseOffsetConfigKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// encode returns the stamped record of m.
func encode(t *testing.T, m *message.Message) []byte {
	t.Helper()
	rec, err := message.AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestEntryKeys(t *testing.T) {
	uniq := func(topic, key string, mutate ...func(*message.Message)) []byte {
		m := &message.Message{Topic: topic, Body: []byte("b")}
		if key != "" {
			m.SetProperty(message.PropertyUniqKey, key)
		}
		for _, f := range mutate {
			f(m)
		}
		return encode(t, m)
	}
	host := netip.MustParseAddrPort("127.0.0.1:10911")
	config, err := replication.EncodeConfigEntry([]replication.ConfigOp{{Kind: "topic", Key: "T"}}, host, 1)
	if err != nil {
		t.Fatal(err)
	}
	restored := uniq("T", "K1", func(m *message.Message) {
		m.SysFlag = message.SetTransactionType(0, message.TransactionCommitType)
		m.PreparedTransactionOffset = 4242
	})
	for _, tc := range []struct {
		name  string
		entry []byte
		keys  []string
		whole bool
	}{
		{"send", uniq("T", "K1"), []string{"T\x00K1"}, false},
		{"batch", append(uniq("T", "K1"), uniq("U", "K2")...), []string{"T\x00K1", "U\x00K2"}, false},
		{"no uniq key", uniq("T", ""), nil, false},
		{"one record without key", append(uniq("T", "K1"), uniq("T", "")...), nil, false},
		{"redelivery", uniq("T", "K1", func(m *message.Message) { m.ReconsumeTimes = 1 }), nil, false},
		{"retry topic", uniq("%RETRY%g", "K1"), nil, false},
		{"op marker", uniq(txn.OpTopic, "K1"), nil, false},
		{"config", config, nil, false},
		{"commit", append(restored, uniq(txn.OpTopic, "")...), []string{"\x00commit\x004242"}, true},
	} {
		keys, _, whole, ok := entryKeys(tc.entry)
		if ok != (tc.keys != nil) || whole != tc.whole || len(keys) != len(tc.keys) {
			t.Errorf("%s: %d keys whole %v ok %v, want %q whole %v", tc.name, len(keys), whole, ok, tc.keys, tc.whole)
			continue
		}
		for i := range keys {
			if keys[i] != dedupeIDOf([]byte(tc.keys[i])) {
				t.Errorf("%s: key %d is not the ID of %q", tc.name, i, tc.keys[i])
			}
		}
	}
}

// BenchmarkEntryKeys: what dedupe adds to a replicated send (the keys of a one-record entry).
func BenchmarkEntryKeys(b *testing.B) {
	m := &message.Message{Topic: "BenchTopic", Body: make([]byte, 1024)}
	m.SetProperty(message.PropertyUniqKey, "AC11000100002A9F0000000000000001")
	m.SetProperty(message.PropertyKeys, "k")
	m.SetProperty(message.PropertyTags, "TagA")
	rec, err := message.AppendRecord(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := entryKeys(rec); !ok {
			b.Fatal("no key")
		}
	}
}

// BenchmarkDedupeRemember: what an applied one-record entry costs the dedupe table on every
// replica (its keys decoded and entered into the full window, the oldest key dropped).
func BenchmarkDedupeRemember(b *testing.B) {
	const n = 1 << 17 // twice the window: every add evicts
	recs := make([][]byte, n)
	for i := range recs {
		m := &message.Message{Topic: "BenchTopic", Body: make([]byte, 16)}
		m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("AC11000100002A9F%016X", i))
		rec, err := message.AppendRecord(nil, m)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = rec
	}
	var d dedupeTable
	d.init(dedupeWindow)
	res := []commitlog.AppendResult{{PhysicalOffset: 1, Size: 100}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		keys, same, whole, ok := entryKeys(recs[i%n])
		if !ok {
			b.Fatal("no key")
		}
		d.add(keys, same, whole, res)
		i++
	}
}

// TestDedupeTableWindow: the table keeps the last window keys it was given, drops the oldest
// beyond that, and a key entered again (a copy that got in anyway) takes no second slot.
func TestDedupeTableWindow(t *testing.T) {
	var d dedupeTable
	d.init(3)
	id := func(i int) dedupeID { return dedupeIDOf([]byte(fmt.Sprintf("T\x00K%d", i))) }
	add := func(i int) {
		d.add([]dedupeID{id(i)}, []dedupeMatch{{bodyCRC: uint32(i)}}, false, []commitlog.AppendResult{{PhysicalOffset: int64(i)}})
	}
	for _, i := range []int{0, 1, 1, 2} {
		add(i)
	}
	if len(d.results) != 3 {
		t.Fatalf("after 0, 1, 1, 2: %d keys, want 3", len(d.results))
	}
	add(3)
	add(4)
	for i := range 5 {
		r, ok := d.results[id(i)]
		if want := i >= 2; ok != want {
			t.Fatalf("key %d remembered %v, want %v", i, ok, want)
		}
		if ok && (r.res[0].PhysicalOffset != int64(i) || r.same.bodyCRC != uint32(i)) {
			t.Fatalf("key %d: %+v", i, r)
		}
	}
}
