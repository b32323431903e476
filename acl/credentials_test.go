package acl

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestParseCredentials(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Credentials
		err  bool
	}{
		{in: "", want: Credentials{}},
		{in: "  ", want: Credentials{}},
		{in: `{"accessKey":"mqbroker","secretKey":"broker-secret"}`, want: Credentials{"mqbroker", "broker-secret"}},
		{in: `{"accessKey":"short","secretKey":"broker-secret"}`, err: true},
		{in: `{"accessKey":"mqbroker"}`, err: true},
		{in: `mqbroker:broker-secret`, err: true},
	} {
		got, err := ParseCredentials(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadCredentials) {
				t.Errorf("ParseCredentials(%q) = %v, %v; want ErrBadCredentials", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCredentials(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestCredentialsSign: a request signed with Credentials passes a Checker whose file has the
// account; empty Credentials leave it unsigned.
func TestCredentialsSign(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte("accounts:\n  - accessKey: mqbroker\n    secretKey: broker-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checker, err := New(Options{Path: path, Scope: ScopeBroker})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	c, err := ParseCredentials(`{"accessKey":"mqbroker","secretKey":"broker-secret"}`)
	if err != nil {
		t.Fatal(err)
	}
	req := remoting.NewRequest(remoting.RequestHeartBeat)
	req.Body = []byte(`{"clientID":"mqstore-relay@b/n1","producerDataSet":[{"groupName":"g"}],"consumerDataSet":[]}`)
	c.Sign(req)
	if err := checker.Check(&Request{Code: req.RequestCode(), Fields: req.ExtFields, Body: req.Body}); err != nil {
		t.Fatalf("a request signed with the credentials: %v", err)
	}
	unsigned := remoting.NewRequest(remoting.RequestHeartBeat)
	Credentials{}.Sign(unsigned)
	if err := checker.Check(&Request{Code: unsigned.RequestCode(), Fields: unsigned.ExtFields}); !errors.Is(err, ErrDenied) {
		t.Fatalf("a request left unsigned by empty credentials: %v, want a denial", err)
	}
}
