// Package consumequeue holds RocketMQ's consume queues: per topic and queue id, the ordered list of
// 20-byte units (commitlog offset, record size, tags hash code) through which consumers find their
// messages in the commitlog by queue offset.
//
// # Layout
//
// Each queue lives in <root>/<topic>/<queueId>/ as fixed-size files of UnitsPerFile units
// (300,000 by default, 6,000,000 bytes), named by the 20-digit byte offset of their first unit:
// queue offset × 20. The unit format is in unit.go.
//
// # Writers and readers
//
// One goroutine (the store's dispatcher) appends with Put. Recover, TruncateAbove,
// SetMinPhysicalOffset, Close and Destroy may come from other goroutines: they and Put are
// serialised by a per-queue mutex. Any number of readers call Get, Units, MinOffset, MaxOffset and
// OffsetByTime concurrently without locks: they read the published part of the mapped files and hold
// a file reference while they touch its bytes, so retention may delete a file under them safely.
//
// # Offsets
//
//   - MaxOffset is one past the last unit.
//   - MinOffset is the first unit that points at or above the commitlog's minimum offset
//     (SetMinPhysicalOffset, RocketMQ's correctMinOffset). Blank pre-fill units are always below it.
//   - MaxPhysicalOffset is the end (offset + size) of the last real unit's record: the point from
//     which dispatch restarts after recovery.
//
// # Pre-fill
//
// When the first unit ever written to a queue has queue offset n > 0 (the queue's units were lost
// or deleted while the queue-offset counter survived), the first file is created at the file
// boundary at or below n and the units from that boundary up to n are written as blank units
// (commitlog offset 0, size 0x7FFFFFFF, tags 0), as RocketMQ's fillPreBlank does. Only the file
// holding n is created. MinOffset becomes n. StartAt does the same without a unit at n (a replicated
// store restarting at a snapshot's queue offsets): its one file holds blanks only until the next Put.
//
// # Recovery
//
// Open (and so OpenTable, for every queue it loads) recovers the queue before returning: it finds
// the end of the valid units in the last three files and truncates after it; see Recover for the
// rules. The store then calls TruncateAbove with the recovered commitlog end and re-dispatches
// from MaxPhysicalOffset (or from its checkpoint after a crash: Put accepts units already there).
//
// Crash safety rests on three facts: files are preallocated and zero-filled, so an unwritten
// unit reads as zeros, which is never valid; a unit is published (its bytes written, then the
// write position advanced) before readers can see it; and the commitlog, not the consume queue,
// is the source of truth, so anything recovery drops or a torn write damages is rebuilt by
// re-dispatch, which rewrites a unit whose commitlog offset matches but whose size or tags differ.
package consumequeue
