package acl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// addressPattern matches client IP addresses; see the package comment for the syntax.
type addressPattern struct {
	text  string
	all   bool         // "*": every address
	exact []netip.Addr // any of these
	// ranges is an IPv4 pattern: each of the 4 segments accepts [lo, hi].
	ranges *[4][2]uint8
}

// parseAddressPattern parses one pattern as RocketMQ's RemoteAddressStrategyFactory does.
// A blank pattern matches nothing.
func parseAddressPattern(s string) (addressPattern, error) {
	s = strings.TrimSpace(s)
	p := addressPattern{text: s}
	switch {
	case s == "":
		return p, nil
	case s == "*" || s == "*.*.*.*" || s == "*:*:*:*:*:*:*:*":
		p.all = true
		return p, nil
	case strings.HasSuffix(s, "}"):
		open := strings.LastIndexByte(s, '{')
		if open < 0 {
			return p, fmt.Errorf("%w: %q: '}' without '{'", ErrBadAddress, s)
		}
		prefix := s[:open]
		if !strings.HasSuffix(prefix, ".") && !strings.HasSuffix(prefix, ":") {
			return p, fmt.Errorf("%w: %q: the list must be the last segment", ErrBadAddress, s)
		}
		for _, item := range strings.Split(s[open+1:len(s)-1], ",") {
			a, err := netip.ParseAddr(prefix + strings.TrimSpace(item))
			if err != nil {
				return p, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
			}
			p.exact = append(p.exact, a.Unmap())
		}
		return p, nil
	case strings.Contains(s, ","):
		for _, item := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return p, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
			}
			p.exact = append(p.exact, a.Unmap())
		}
		return p, nil
	case strings.ContainsAny(s, "*-"):
		r, err := parseIPv4Range(s)
		if err != nil {
			return p, err
		}
		p.ranges = r
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return p, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
	}
	p.exact = []netip.Addr{a.Unmap()}
	return p, nil
}

// parseIPv4Range parses "a.b.c.d" where segments are numbers, "*" or "lo-hi", and every segment
// after the first non-number is "*" (RocketMQ's RangeRemoteAddressStrategy).
func parseIPv4Range(s string) (*[4][2]uint8, error) {
	segs := strings.Split(s, ".")
	if len(segs) != 4 {
		return nil, fmt.Errorf("%w: %q: a range needs 4 IPv4 segments", ErrBadAddress, s)
	}
	var r [4][2]uint8
	wild := false
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		if wild && seg != "*" {
			return nil, fmt.Errorf("%w: %q: only '*' may follow a range", ErrBadAddress, s)
		}
		switch {
		case seg == "*":
			r[i] = [2]uint8{0, 255}
			wild = true
		case strings.Contains(seg, "-"):
			lo, hi, _ := strings.Cut(seg, "-")
			l, err1 := parseOctet(lo)
			h, err2 := parseOctet(hi)
			if err1 != nil || err2 != nil || l > h {
				return nil, fmt.Errorf("%w: %q: bad range %q", ErrBadAddress, s, seg)
			}
			r[i] = [2]uint8{l, h}
			wild = true
		default:
			v, err := parseOctet(seg)
			if err != nil {
				return nil, fmt.Errorf("%w: %q: bad segment %q", ErrBadAddress, s, seg)
			}
			r[i] = [2]uint8{v, v}
		}
	}
	return &r, nil
}

func parseOctet(s string) (uint8, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 3 {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, 10, 8)
	return uint8(v), err
}

// match reports whether a (already unmapped) matches the pattern.
func (p *addressPattern) match(a netip.Addr) bool {
	if p.all {
		return true
	}
	for _, e := range p.exact {
		if e == a {
			return true
		}
	}
	if p.ranges != nil && a.Is4() {
		b := a.As4()
		for i := range 4 {
			if b[i] < p.ranges[i][0] || b[i] > p.ranges[i][1] {
				return false
			}
		}
		return true
	}
	return false
}
