// Package mapped provides fixed-size memory-mapped files and ordered queues of them, the storage
// primitive under the commitlog, the consume queues and the index.
//
// A File is preallocated to its full size with fallocate (never sparse: a store into an mmap'd hole
// on a full disk raises SIGBUS instead of returning an error), mapped once read-write and shared,
// and tracks two positions: the write position (bytes published to readers) and the flushed
// position (bytes known durable because msync(MS_SYNC) returned). Readers that keep slices of the
// mapping hold a reference (Retain/Release); a file is unmapped, and for Destroy deleted, only when
// the last reference goes.
//
// A Queue is a directory of contiguous files named by the 20-digit global offset of their first
// byte. It finds the file for an offset, rolls to the next file (created ahead of time by a
// background allocator so a roll does not stall the writer), truncates to an offset, and deletes
// files from the front by age or offset. Readers load the file list as an immutable snapshot.
package mapped
