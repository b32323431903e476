// Package e2e holds mqstore's end-to-end tests: a name server and a broker started in-process
// on free loopback ports, driven by the unmodified RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2). It has no exported API; run it with go test.
package e2e
