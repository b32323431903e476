package broker

// registerOpsHandlers registers the handlers operators' tools use beyond what RocketMQ clients
// send: topic and consumer statistics and mqstore's private transaction codes (docs/PROTOCOL.md).
func (b *Broker) registerOpsHandlers() {
}
