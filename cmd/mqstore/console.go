package main

import (
	"net/http"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/console"
	"github.com/mqstore/mqstore/metrics"
)

// consoleHandlers returns the web console's handlers for the metrics port, or nil when the
// console is off (-consoleEnable=false) or there is no metrics port.
func consoleHandlers(s *settings, b *broker.Broker, m *metrics.Metrics, namesrvAddr string) (map[string]http.Handler, error) {
	if !s.consoleEnable || m == nil {
		return nil, nil
	}
	var ns []string
	if namesrvAddr != "" {
		ns = []string{namesrvAddr + " (embedded)"}
	} else if s.broker.NamesrvAddr != "" {
		ns = []string{s.broker.NamesrvAddr}
	}
	c, err := console.New(console.Options{Broker: b, Gatherer: m.Registry(), ListenAddr: s.metricsAddr, NameServers: ns})
	if err != nil {
		return nil, err
	}
	return map[string]http.Handler{console.Prefix: c.Handler()}, nil
}
