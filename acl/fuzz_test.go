package acl

import (
	"net/netip"
	"os"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// FuzzParse feeds arbitrary files to Parse: it must not panic, and rules it accepts must
// answer checks without panicking. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/plain_acl.yml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		for ak := range r.accounts {
			req := signed(remoting.RequestPullMessage, ak, "whatever", "topic", "t", "consumerGroup", "g")
			req.Remote = netip.MustParseAddr("10.1.2.3")
			r.validate(req)
		}
	})
}
