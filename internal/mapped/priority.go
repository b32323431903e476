package mapped

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Background priority. On a machine with few cores the in-kernel work of a queue's background
// goroutines (MADV_POPULATE_WRITE page allocation and zeroing in the warmer, fallocate and fsync in
// the allocator, write-back submission in an async flusher's msync) competes for a core with the
// appending goroutine, and the kernel's fair scheduler time-slices the writer's thread out for
// 5-65 ms at a time (measured: docs/BENCHMARKS.md, "append stalls"). Running those goroutines on
// threads with a higher nice value makes the scheduler prefer the writer's (and the network's)
// threads whenever both are runnable, while the background work still runs on idle cycles.
//
// It is off by default (QueueOptions.BackgroundNice 0): a lowered thread that holds one of Go's
// Ps is scheduled late by the kernel while that P's goroutines wait, and a writer that catches up
// with a lowered warmer waits for the folio it is faulting in. In the store, on a loaded 2-core
// machine, that cost more than it saved.

// LowerPriority locks the calling goroutine to its OS thread and raises that thread's nice value
// to nice (1-19). The goroutine must stay on it until it exits: the thread then exits with it and
// is never reused for other goroutines. nice <= 0 does nothing. Errors are ignored: the priority
// is an optimisation, and failing to lower it leaves the old behaviour.
func LowerPriority(nice int) {
	if nice <= 0 {
		return
	}
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), min(nice, 19))
}
