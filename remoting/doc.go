// Package remoting speaks RocketMQ's remoting protocol: the binary TCP
// framing, the JSON and ROCKETMQ header serializations, the request and
// response codes, and a TCP server and client built on them.
//
// # Frames
//
// Every message on the wire is one frame (see frame.go for the layout):
// a 4-byte big-endian length, a 4-byte word holding the header's
// serialization type and length, the header, then the body. Lengths read
// from the network are checked against Options.MaxFrameSize before
// anything is allocated.
//
// # Commands
//
// A Command is one request or response. Flag bit 0 marks a response, bit 1
// a oneway request. Responses echo the request's Opaque and use the
// request's header serialization (NewResponse does both).
//
// # Ownership
//
// Commands are pooled. The rules are:
//   - A Command passed to Conn.WriteResponse, Conn.Invoke*, or Client.Invoke*
//     belongs to the connection from then on; the caller must not touch it
//     again. After its frame is written (or dropped) its BodyRelease callback
//     runs and, if it came from NewRequest/NewResponse, it returns to the pool.
//   - A request handed to a Handler stays valid until the response the
//     Handler returns has been written, then it is released. If the Handler
//     returns nil (it will answer later, or the request is oneway) the
//     request belongs to the Handler, which may keep it and should Release
//     it when done (or leave it to the garbage collector).
//   - A response returned by Invoke belongs to the caller, who may call
//     Release when done with it (its Body, Remark and ExtFields must not be
//     used afterwards) or leave it to the garbage collector.
//
// # Server and client
//
// Server serves connections with one reader and one writer goroutine each.
// The reader decodes frames and hands requests to the worker pool of the
// handler's Kind, so a slow kind (pull) cannot starve another (send); a full
// pool answers SYSTEM_BUSY instead of blocking the connection. The writer
// gathers every queued frame into one vectored write. Client keeps a pool
// of connections per address and matches responses by opaque; the same Conn
// type carries server-to-client requests in either direction.
package remoting
