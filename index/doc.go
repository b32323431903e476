// Package index is RocketMQ's hash index of message keys: the files under <root>/index/ that
// answer "which commitlog offsets hold messages with key K of topic T, stored between two times".
//
// Each file (format.go draws the bytes) is a fixed-size hash table with chaining: a 40-byte
// header, a table of hash slots, and an append-only array of 20-byte entries. An entry records
// the hash of "topic#key", the message's commitlog offset, its store time in seconds relative
// to the file's first message, and the previous entry of the same slot. Files are named by
// their creation time (yyyyMMddHHmmssSSS, local time); a new file starts when one is full.
//
// The index stores hashes, not keys, and times at one-second precision: Query returns
// candidates that the caller must confirm by decoding the message (key and store time).
//
// Concurrency: one writer (the store's dispatch goroutine calls Put and PutMessage; Flush,
// TruncateAfter and DeleteBelow may run on other goroutines and are serialised with it) and
// any number of concurrent Query callers. A Put writes the entry, then publishes it by an
// atomic store of the slot, then updates the header counters, so a reader that follows a slot
// only reaches complete entries. Readers hold a reference on each file they read, so a file
// deleted by retention is unmapped only after the last reader is done.
package index
