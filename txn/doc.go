// Package txn implements RocketMQ's transactional messages over a store:
// half messages, op markers, commit restore and check-back, with the
// behaviour of Apache RocketMQ (../shared/spec/rocketmq.md §6) and the
// improvements of docs/TRANSACTIONS.md.
//
// A producer first stores a half message ([Service.Prepare]): the message
// goes to [HalfTopic] queue 0 with its destination in REAL_TOPIC/REAL_QID,
// where no consumer of the real topic sees it. It then commits
// ([Service.Commit]: the message is restored to its real queue, then an op
// marker closes the half message) or rolls back ([Service.Rollback]: only
// the op marker). Op markers are messages in [OpTopic] with tag "d" whose
// body lists half-queue offsets; the half log is never modified.
//
// When a producer falls silent, the check service ([Service.Start]) asks it
// through a [Checker] every CheckInterval, for half messages older than
// TransactionTimeout (or their CHECK_IMMUNITY_TIME_IN_SECONDS), and after
// CheckMax delivered checks or FileReservedTime discards them to
// [DiscardTopic]; [Service.Resume] puts one back.
//
// Beyond RocketMQ: the open transactions are kept in memory (rebuilt by
// [New] from the half and op queues, from a persisted progress on), so a
// check round costs O(open transactions); the check count is kept in a
// small record file instead of re-appending the half message per check;
// ending a transaction twice is answered with [ErrAlreadyCommitted] /
// [ErrAlreadyRolledBack] (both wrap [ErrAlreadyEnded]) and never delivers
// twice, also after a crash between the restored append and the op marker;
// [Service.Open] lists the open transactions for operators.
//
// txn does not import the store: it talks to it through [Store].
package txn
