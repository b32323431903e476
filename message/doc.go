// Package message holds mqstore's message model and RocketMQ's byte formats
// for it:
//
//   - [Message], what a producer hands to the store, with its tags, keys and
//     properties;
//   - [Properties], RocketMQ's encoded properties string (name 0x01 value 0x02 …),
//     kept as raw bytes so it passes through the store unchanged;
//   - the commitlog record codec ([AppendRecord], [PatchRecord], [DecodeRecord],
//     [AppendBlankRecord]), whose layout is drawn in record.go;
//   - the SEND_BATCH_MESSAGE body codec ([DecodeBatch], [AppendBatchEntry]),
//     drawn in batch.go;
//   - message ids: the offset message id ([AppendOffsetMsgID],
//     [ParseOffsetMsgID]) and the client unique id, UNIQ_KEY
//     ([UniqIDGenerator], [ParseUniqID]);
//   - Java's String.hashCode ([JavaHashCode], [TagsHashCode]), which the
//     consume queue and the index store.
//
// All integers are big-endian, as Java writes them. Every byte layout here
// follows Apache RocketMQ exactly (see ../shared/spec/rocketmq.md §1.2-1.7)
// and is frozen: records written by this package are read by RocketMQ tools
// and clients, and the other way round.
//
// The hot paths do not allocate: [AppendRecord] writes into the caller's
// buffer, [DecodeRecord] fills a caller-supplied [Record] whose byte slices
// alias the input, and [Properties.Lookup] returns a slice of the encoded
// properties.
package message
