// Package store is mqstore's embeddable message storage engine: it wires the commitlog, the
// consume queues and the hash index under RocketMQ's directory layout, dispatches appended records
// into queue units and index entries, serves reads by queue offset, key and message id, keeps a
// checkpoint, recovers after a crash and enforces retention.
//
// Open a store with Open(dir, Options), Put messages, read them with GetMessages (zero copy:
// the records are slices of the mapped commitlog, valid until GetResult.Release), and Close it.
//
//	s, err := store.Open("/var/lib/mqstore", store.Options{})
//	res, err := s.Put(message.New("OrderTopic", body))
//	got, err := s.GetMessages("OrderTopic", res.QueueID, 0, 32, 1<<20, nil)
//	defer got.Release()
//
// Directory layout (RocketMQ's):
//
//	<root>/commitlog/<20-digit offset>               commitlog segments
//	<root>/consumequeue/<topic>/<queueId>/<offset>   consume-queue files
//	<root>/index/<yyyyMMddHHmmssSSS>                 hash index files
//	<root>/checkpoint                                flushed offsets and times (checkpoint.go)
//	<root>/abort                                     present while open: found at Open = crash
//	<root>/lock                                      held (flock) while open
//
// A message becomes visible to GetMessages once the dispatcher has written its consume-queue unit,
// normally within microseconds of Put; WaitDispatched waits for it.
package store
