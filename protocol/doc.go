// Package protocol holds the JSON bodies of RocketMQ requests that both sides of the wire build
// or read: the broker decodes them and the client encodes them, from one definition (the frames,
// headers and codes themselves are package remoting's).
package protocol
