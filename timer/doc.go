// Package timer holds the on-disk structures of timer messages (RocketMQ 5's timing wheel): a
// timer log of fixed-size entries that point into the commitlog, and a wheel file of slots that
// chain the entries due in the same tick. The store (store/timer.go) feeds it from the consume
// queues of its timer topics and delivers what it fires; this package knows nothing of messages.
//
// Both files are derived data. The timer log is rebuilt from the consume queues when it is
// damaged; the wheel is rebuilt from the timer log at every Open. What must survive a crash is
// the checkpoint (checkpoint.go): how far each source queue was moved into the log, how much of
// the log is durable, and up to which time every timer was fired. docs/FORMAT.md, "Timer
// messages", argues crash safety.
//
// Cost: Add is O(1) (one append, one slot update); firing a slot is O(its entries); memory is
// O(1) in the number of pending timers (both files are mmap'd; only per-segment summaries are on
// the heap). Open is O(entries in the retained log).
package timer
