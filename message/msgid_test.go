package message

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOffsetMsgID(t *testing.T) {
	for _, c := range []struct {
		host   netip.AddrPort
		offset int64
		want   string
	}{
		{netip.MustParseAddrPort("10.0.0.1:10911"), 0x1234, "0A000001" + "00002A9F" + "0000000000001234"},
		{netip.MustParseAddrPort("192.168.1.20:10911"), 1 << 40, "C0A80114" + "00002A9F" + "0000010000000000"},
		{netip.MustParseAddrPort("[::ffff:1.2.3.4]:1"), 1, "01020304" + "00000001" + "0000000000000001"},
		{netip.MustParseAddrPort("[2001:db8::1]:10911"), 255, "20010DB8000000000000000000000001" + "00002A9F" + "00000000000000FF"},
		{netip.AddrPort{}, -1, "00000000" + "00000000" + "FFFFFFFFFFFFFFFF"},
	} {
		got := OffsetMsgID(c.host, c.offset)
		if got != c.want {
			t.Errorf("OffsetMsgID(%v, %d) = %s, want %s", c.host, c.offset, got, c.want)
			continue
		}
		if b := AppendOffsetMsgID([]byte("x"), c.host, c.offset); string(b) != "x"+c.want {
			t.Errorf("AppendOffsetMsgID = %s", b)
		}
		host, off, err := ParseOffsetMsgID(got)
		wantHost := c.host
		switch a := c.host.Addr(); {
		case !a.IsValid():
			wantHost = netip.MustParseAddrPort("0.0.0.0:0")
		case a.Is4In6():
			wantHost = netip.AddrPortFrom(a.Unmap(), c.host.Port())
		}
		if err != nil || host != wantHost || off != c.offset {
			t.Errorf("Parse(%s) = %v %d %v", got, host, off, err)
		}
		// Lower case is accepted.
		if h2, o2, err := ParseOffsetMsgID(strings.ToLower(got)); err != nil || h2 != host || o2 != off {
			t.Errorf("lower case: %v %d %v", h2, o2, err)
		}
	}
}

func TestParseOffsetMsgIDErrors(t *testing.T) {
	for _, id := range []string{
		"",
		"0A000001",
		"0A00000100002A9F000000000000123",   // 31
		"0A00000100002A9F00000000000012345", // 33
		"0A00000100002A9F000000000000123G",
		"0A00000100012A9F0000000000001234", // port 0x12A9F > 65535
	} {
		if _, _, err := ParseOffsetMsgID(id); !errors.Is(err, ErrBadMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) = %v", id, err)
		}
	}
}

func TestOffsetMsgIDAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	h := netip.MustParseAddrPort("[2001:db8::1]:10911")
	if n := testing.AllocsPerRun(100, func() { AppendOffsetMsgID(buf[:0], h, 99) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestUniqIDFormat(t *testing.T) {
	at := time.Date(2025, time.March, 2, 3, 4, 5, 6_000_000, time.UTC)
	g := newUniqIDGenerator(netip.MustParseAddr("192.168.1.20"), 0x12345, 0xCAFEBABE, func() time.Time { return at })
	ms := (24+3)*3600_000 + 4*60_000 + 5_000 + 6 // since 2025-03-01 00:00 UTC
	want := "C0A80114" + "2345" + "CAFEBABE" + hex32(uint32(ms)) + "0000"
	if got := g.Next(); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := g.Next(); got != want[:28]+"0001" {
		t.Fatalf("counter: %s", got)
	}
	ip, when, err := parseUniqID(want, at.Add(time.Hour))
	if err != nil || ip != netip.MustParseAddr("192.168.1.20") || when != at.UnixMilli() {
		t.Fatalf("parse: %v %v %v", ip, time.UnixMilli(when).UTC(), err)
	}

	g6 := newUniqIDGenerator(netip.MustParseAddr("2001:db8::1"), 1, 2, func() time.Time { return at })
	id6 := g6.Next()
	if len(id6) != UniqIDLenV6 || !strings.HasPrefix(id6, "20010DB8000000000000000000000001"+"0001"+"00000002") {
		t.Fatalf("v6: %s", id6)
	}
	if ip, _, err := parseUniqID(id6, at.Add(time.Hour)); err != nil || ip != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("v6 parse: %v %v", ip, err)
	}
}

func hex32(v uint32) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

func TestUniqIDMonthRoll(t *testing.T) {
	var now time.Time
	g := newUniqIDGenerator(netip.MustParseAddr("1.2.3.4"), 1, 1, func() time.Time { return now })
	// Late in a 31-day month the ms count passes 2^31 and wraps; it must
	// still parse back.
	now = time.Date(2025, time.January, 31, 23, 0, 0, 0, time.UTC)
	late := g.Next()
	if _, when, err := parseUniqID(late, now.Add(time.Minute)); err != nil || when != now.UnixMilli() {
		t.Fatalf("late: %v %v", time.UnixMilli(when).UTC(), err)
	}
	// The next month starts counting from 0 again.
	now = time.Date(2025, time.February, 1, 0, 0, 1, 0, time.UTC)
	if id := g.Next(); id[20:28] != hex32(1000) {
		t.Fatalf("after roll: %s", id)
	}
	// Parsed early in a month, a late id belongs to the previous month.
	if _, when, err := parseUniqID(late, now); err != nil || when != time.Date(2025, time.January, 31, 23, 0, 0, 0, time.UTC).UnixMilli() {
		t.Fatalf("previous month: %v %v", time.UnixMilli(when).UTC(), err)
	}
}

func TestUniqIDConcurrent(t *testing.T) {
	ip := netip.MustParseAddr("10.1.2.3")
	g := NewUniqIDGenerator(ip)
	const workers, per = 8, 2000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				ids[w] = append(ids[w], g.Next())
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if len(id) != UniqIDLenV4 || seen[id] {
				t.Fatalf("bad or duplicate id %s", id)
			}
			seen[id] = true
		}
	}
	gotIP, when, err := ParseUniqID(ids[0][0])
	if err != nil || gotIP != ip {
		t.Fatal(gotIP, err)
	}
	if d := time.Since(time.UnixMilli(when)); d < 0 || d > time.Minute {
		t.Fatalf("time off by %v", d)
	}
}

func TestUniqIDAllocs(t *testing.T) {
	g := NewUniqIDGenerator(netip.MustParseAddr("10.1.2.3"))
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { g.AppendNext(buf[:0]) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestParseUniqIDErrors(t *testing.T) {
	for _, id := range []string{"", "ABC", strings.Repeat("0", 31), strings.Repeat("Z", 32), strings.Repeat("0", 40)} {
		if _, _, err := ParseUniqID(id); !errors.Is(err, ErrBadMsgID) {
			t.Errorf("ParseUniqID(%q) = %v", id, err)
		}
	}
	// The Go client writes the time and counter in lower case.
	if _, _, err := ParseUniqID("C0A801140001000000000a1b2c3d0e0f"); err != nil {
		t.Error(err)
	}
}
