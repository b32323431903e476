package main

import (
	"net/http"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/console"
	"github.com/mqstore/mqstore/metrics"
)

// consoleHandlers returns the web console's handlers for the metrics port, or nil when the
// console is off (-consoleEnable=false) or there is no metrics port.
// listenAddr is the metrics address (bindAddress applied); nameServers are where the broker
// registers.
func consoleHandlers(s *settings, b *broker.Broker, m *metrics.Metrics, listenAddr string, nameServers []string) (map[string]http.Handler, error) {
	if !s.consoleEnable || m == nil {
		return nil, nil
	}
	c, err := console.New(console.Options{Broker: b, Gatherer: m.Registry(), ListenAddr: listenAddr, NameServers: nameServers})
	if err != nil {
		return nil, err
	}
	return map[string]http.Handler{console.Prefix: c.Handler()}, nil
}
