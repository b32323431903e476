package acl

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestParsePerm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Perm
	}{
		{"PUB", PermPub}, {"SUB", PermSub}, {"PUB|SUB", PermPub | PermSub}, {"SUB|PUB", PermPub | PermSub},
		{" SUB ", PermSub}, {"DENY", PermDeny}, {"", PermDeny}, {"pub", PermDeny}, {"PUB|SUBB", PermDeny},
	} {
		if got := ParsePerm(tc.in); got != tc.want {
			t.Errorf("ParsePerm(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		owned, needed Perm
		want          bool
	}{
		{PermPub, PermPub, true}, {PermSub, PermPub, false}, {PermPub | PermSub, PermSub, true},
		{PermDeny, PermPub, false}, {PermDeny | PermPub, PermPub, false},
		{PermPub, PermAny, true}, {PermSub, PermAny, true}, {PermDeny, PermAny, false},
	} {
		if got := tc.owned.Allows(tc.needed); got != tc.want {
			t.Errorf("%v.Allows(%v) = %v, want %v", tc.owned, tc.needed, got, tc.want)
		}
	}
}

func TestAddressPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"", nil, []string{"127.0.0.1", "::1"}},
		{"*", []string{"127.0.0.1", "::1"}, nil},
		{"*.*.*.*", []string{"10.1.2.3"}, nil},
		{"192.168.1.5", []string{"192.168.1.5"}, []string{"192.168.1.6"}},
		{"192.168.1.*", []string{"192.168.1.0", "192.168.1.255"}, []string{"192.168.2.1"}},
		{"192.168.1.1-100", []string{"192.168.1.1", "192.168.1.100"}, []string{"192.168.1.0", "192.168.1.101"}},
		{"10.1-3.*.*", []string{"10.1.0.0", "10.3.255.9"}, []string{"10.4.0.0", "11.1.0.0"}},
		{"192.168.1.{1,2, 3}", []string{"192.168.1.1", "192.168.1.3"}, []string{"192.168.1.4"}},
		{"10.0.0.1,10.0.0.2", []string{"10.0.0.2"}, []string{"10.0.0.3"}},
		{"::1", []string{"::1"}, []string{"127.0.0.1"}},
		{"fe80::{1,2}", []string{"fe80::2"}, []string{"fe80::3"}},
		{"::ffff:127.0.0.1", []string{"127.0.0.1"}, nil},
	} {
		p, err := parseAddressPattern(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		for _, a := range tc.match {
			if !p.match(netip.MustParseAddr(a).Unmap()) {
				t.Errorf("%q does not match %s", tc.pattern, a)
			}
		}
		for _, a := range tc.miss {
			if p.match(netip.MustParseAddr(a).Unmap()) {
				t.Errorf("%q matches %s", tc.pattern, a)
			}
		}
	}
	for _, bad := range []string{"192.168.1", "192.168.*.1", "192.168.1.300", "192.168.1.5-2", "1.2.3.{4,x}", "a,b", "{1}", "host", "1.2.3.4-"} {
		if _, err := parseAddressPattern(bad); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%q: err = %v, want ErrBadAddress", bad, err)
		}
	}
}

func TestParseFile(t *testing.T) {
	data, err := os.ReadFile("testdata/plain_acl.yml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.NumAccounts() != 2 {
		t.Fatalf("accounts = %d", r.NumAccounts())
	}
	a := r.accounts["RocketMQ"]
	if a.admin || a.defaultTopic != PermDeny || a.defaultGroup != PermSub ||
		a.perms["topicB"] != PermPub|PermSub || a.perms["%RETRY%groupA"] != PermDeny || a.perms["topicC"] != PermSub {
		t.Errorf("account RocketMQ = %+v", a)
	}
	if !r.accounts["rocketmq2"].admin || r.accounts["rocketmq2"].perms != nil {
		t.Errorf("account rocketmq2 = %+v", r.accounts["rocketmq2"])
	}
	for name, bad := range map[string]string{
		"short access key": "accounts:\n  - accessKey: abc\n    secretKey: 12345678\n",
		"short secret key": "accounts:\n  - accessKey: abcdefgh\n    secretKey: 123\n",
		"duplicate":        "accounts:\n  - {accessKey: abcdefgh, secretKey: 12345678}\n  - {accessKey: abcdefgh, secretKey: 87654321}\n",
		"perm without =":   "accounts:\n  - {accessKey: abcdefgh, secretKey: 12345678, topicPerms: [topicA]}\n",
		"bad address":      "accounts:\n  - {accessKey: abcdefgh, secretKey: 12345678, whiteRemoteAddress: 1.2.3}\n",
		"bad global":       "globalWhiteRemoteAddresses: [300.1.1.1]\n",
		"not yaml":         "accounts: [\n",
		"wrong shape":      "accounts: 7\n",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrBadFile) {
			t.Errorf("%s: err = %v, want ErrBadFile", name, err)
		}
	}
	if r, err := Parse(nil); err != nil || r.NumAccounts() != 0 {
		t.Errorf("empty file: %v, %v", r, err)
	}
}

// TestSignGolden pins the signature to a vector computed independently (Python's hmac):
// values sorted by key (AccessKey < a < topic), then the body.
func TestSignGolden(t *testing.T) {
	fields := remoting.Fields{{Key: "topic", Value: "T"}, {Key: "a", Value: "pg"}, {Key: FieldAccessKey, Value: "RocketMQ"}, {Key: FieldSignature, Value: "ignored"}}
	if got, want := Sign("12345678", fields, []byte("body")), "NH8l3qgUMLYHKViCV5e/qeu7vBs="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func newChecker(t *testing.T, yml string) (*Checker, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Path: path, Logger: quiet, ReloadInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func signed(code remoting.RequestCode, ak, sk string, kv ...string) *Request {
	cmd := &remoting.Command{Code: int32(code)}
	for i := 0; i < len(kv); i += 2 {
		cmd.SetExt(kv[i], kv[i+1])
	}
	if ak != "" {
		SignCommand(cmd, ak, sk, "")
	}
	return &Request{Code: code, Fields: cmd.ExtFields, Remote: netip.MustParseAddr("127.0.0.1"), RemoteString: "127.0.0.1:5000"}
}

func TestValidate(t *testing.T) {
	data, _ := os.ReadFile("testdata/plain_acl.yml")
	c, _ := newChecker(t, string(data))
	const ak, sk = "RocketMQ", "12345678"
	for _, tc := range []struct {
		name   string
		req    *Request
		reason Reason
		remark string
	}{
		{"pub allowed", signed(remoting.RequestSendMessageV2, ak, sk, "a", "pg", "b", "topicB"), 0, ""},
		{"no access key", signed(remoting.RequestSendMessageV2, "", "", "b", "topicB"), ReasonNoAccessKey, "No accessKey is configured"},
		{"unknown key", signed(remoting.RequestSendMessageV2, "nobody00", sk, "b", "topicB"), ReasonUnknownAccessKey, "No acl config for nobody00"},
		{"wrong secret", signed(remoting.RequestSendMessageV2, ak, "wrong-secret", "b", "topicB"), ReasonBadSignature, "Check signature failed for accessKey=RocketMQ"},
		{"explicit deny", signed(remoting.RequestSendMessageV2, ak, sk, "b", "topicA"), ReasonNoPermission, "No permission for topic:topicA"},
		{"default deny", signed(remoting.RequestSendMessage, ak, sk, "topic", "other"), ReasonNoPermission, "No default permission for topic:other"},
		{"sub-only topic", signed(remoting.RequestSendMessage, ak, sk, "topic", "topicC"), ReasonNoPermission, "No permission for topic:topicC"},
		{"pull", signed(remoting.RequestPullMessage, ak, sk, "topic", "topicC", "consumerGroup", "groupC"), 0, ""},
		{"pull denied group", signed(remoting.RequestPullMessage, ak, sk, "topic", "topicC", "consumerGroup", "groupA"), ReasonNoPermission, "group:groupA"},
		{"retry send by group", signed(remoting.RequestSendMessageV2, ak, sk, "a", "groupB", "b", "%RETRY%groupB"), 0, ""},
		{"trace topic", signed(remoting.RequestSendMessageV2, ak, sk, "b", TraceTopic), 0, ""},
		{"admin code", signed(remoting.RequestUpdateAndCreateTopic, ak, sk, "topic", "x"), ReasonNotAdmin, "Need admin permission for request code=17"},
		{"private commit", signed(remoting.RequestCommitHalfMessage, ak, sk), ReasonNotAdmin, "code=9001"},
		{"reset offset", signed(codeInvokeBrokerToResetOffset, ak, sk, "topic", "topicB"), ReasonNotAdmin, "code=222"},
		{"admin account", signed(remoting.RequestCommitHalfMessage, "rocketmq2", sk), 0, ""},
		{"signature only code", signed(remoting.RequestQueryConsumerOffset, ak, sk, "topic", "zzz"), 0, ""},
	} {
		err := c.Check(tc.req)
		if tc.reason == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var d *Denial
		if !errors.As(err, &d) || !errors.Is(err, ErrDenied) || d.Reason != tc.reason || !strings.Contains(d.Message, tc.remark) {
			t.Errorf("%s: err = %v (%+v), want %v containing %q", tc.name, err, d, tc.reason, tc.remark)
		}
	}
	if c.Denials(ReasonNotAdmin) != 3 {
		t.Errorf("not_admin denials = %d, want 3", c.Denials(ReasonNotAdmin))
	}

	// White lists: the global one passes without credentials, the account's skips the signature.
	r := signed(remoting.RequestUpdateAndCreateTopic, "", "")
	r.Remote = netip.MustParseAddr("192.168.0.7")
	if err := c.Check(r); err != nil {
		t.Errorf("global white list: %v", err)
	}
	r = signed(remoting.RequestSendMessage, "rocketmq2", "not-the-secret", "topic", "x")
	r.Remote = netip.MustParseAddr("192.168.1.9")
	if err := c.Check(r); err != nil {
		t.Errorf("account white list: %v", err)
	}

	// Signature variants: SecurityToken sent but not signed (rocketmq-client-go), and
	// _UNIQUE_KEY_QUERY added after signing (RocketMQ's admin tools).
	r = signed(remoting.RequestQueryMessage, ak, sk, "topic", "topicC")
	r.Fields.Set(FieldSecurityToken, "tok")
	r.Fields.Set(fieldUniqueKeyQuery, "true")
	if err := c.Check(r); err != nil {
		t.Errorf("unsigned SecurityToken and _UNIQUE_KEY_QUERY: %v", err)
	}
	r.Fields.Set("topic", "topicB")
	if err := c.Check(r); err == nil {
		t.Error("a changed field still passes")
	}
}

func TestReload(t *testing.T) {
	yml := "accounts:\n  - {accessKey: account1, secretKey: secret11, defaultTopicPerm: PUB}\n"
	c, path := newChecker(t, yml)
	req := func() error {
		return c.Check(signed(remoting.RequestSendMessage, "account1", "secret11", "topic", "t"))
	}
	if err := req(); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	write(strings.Replace(yml, "PUB", "SUB", 1))
	waitFor("the new rules", func() bool { return errors.Is(req(), ErrDenied) })

	// A bad file keeps the rules in force.
	rules := c.Rules()
	write("accounts: [\n")
	if _, err := c.Reload(); !errors.Is(err, ErrBadFile) {
		t.Fatalf("Reload of a bad file: %v", err)
	}
	if c.Rules() != rules || !errors.Is(req(), ErrDenied) {
		t.Fatal("a bad file changed the rules")
	}
	write(yml)
	waitFor("the fixed file", func() bool { return req() == nil })

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewRefusesBadFile(t *testing.T) {
	if _, err := New(Options{Path: filepath.Join(t.TempDir(), "missing.yml"), Logger: quiet}); err == nil {
		t.Fatal("missing file accepted")
	}
	path := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(path, []byte("accounts: 7"), 0o600)
	if _, err := New(Options{Path: path, Logger: quiet}); !errors.Is(err, ErrBadFile) {
		t.Fatalf("bad file: %v", err)
	}
}

func TestIsAdminCode(t *testing.T) {
	for _, code := range []remoting.RequestCode{17, 25, 200, 207, 215, 216, 222, 323, 9000, 9001, 9002, 50, 3001, 3010} {
		if !IsAdminCode(code) {
			t.Errorf("code %d is not admin", code)
		}
	}
	for _, code := range []remoting.RequestCode{10, 11, 14, 15, 34, 37, 105, 201, 310, 320, 3000, 3011, 9010} {
		if IsAdminCode(code) {
			t.Errorf("code %d is admin", code)
		}
	}
}
