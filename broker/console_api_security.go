package broker

import (
	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/tlsconfig"
)

// ACL returns the broker's ACL checker: it checks requests when aclEnable is on (Enabled) and
// audits admin actions either way. The web console checks its writes with it.
func (b *Broker) ACL() *acl.Checker { return b.security.ACL }

// TLS returns the broker's TLS state (tls.server.mode and the certificate): the metrics and
// console port serves TLS with it as the remoting port does.
func (b *Broker) TLS() *tlsconfig.Server { return b.security.TLS }
