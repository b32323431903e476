package security

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/message"
)

// BenchmarkProduceSecurity measures produce throughput (1 KiB synchronous sends from parallel
// goroutines, mqstore's client) with ACL off and on (every request signed and checked), and
// over plaintext and TLS, in one run so the four are comparable.
func BenchmarkProduceSecurity(b *testing.B) {
	body := make([]byte, 1024)
	for _, bc := range []struct {
		name     string
		acl, tls bool
	}{{"plain", false, false}, {"acl", true, false}, {"tls", false, true}, {"acl+tls", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "plain_acl.yml")
			if err := os.WriteFile(path, []byte(aclFile), 0o600); err != nil {
				b.Fatal(err)
			}
			ns, _ := startServers(b, func(c *broker.Config) {
				c.Security.AclEnable = bc.acl
				c.Security.AclFile = path
				if bc.tls {
					c.Security.TLSServerMode = "enforcing"
				}
			})
			opts := []client.Option{client.WithNameServer(ns), client.WithLogger(testserver.Quiet)}
			if bc.acl {
				opts = append(opts, client.WithCredentials("producer1", "producer-secret"))
			}
			if bc.tls {
				opts = append(opts, client.WithTLSEnabled(true))
			}
			p, err := client.NewProducer(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ctx := context.Background()
			if _, err := p.Send(ctx, message.New("AclTopic", body)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Send(ctx, message.New("AclTopic", body)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
