package message

import "errors"

// Corruption. Every error that says a record's bytes are not a valid record
// wraps ErrCorrupt, so callers (recovery, readers) can test one marker with
// errors.Is. DecodeRecord returns these values unwrapped (it never allocates).
var (
	// ErrCorrupt marks every decoding error caused by the bytes themselves.
	ErrCorrupt = errors.New("message: corrupt record")

	// ErrShortBuffer: the input is shorter than the 8-byte header or than the
	// record's TOTALSIZE, as at a torn tail.
	ErrShortBuffer = wrapCorrupt("message: short buffer")

	// ErrBadMagic: MAGICCODE is none of MagicV1, MagicV2 and MagicBlank.
	ErrBadMagic = wrapCorrupt("message: bad magic code")

	// ErrEmpty: the record starts with 8 zero bytes, the unwritten space of a
	// preallocated file. It is a kind of ErrBadMagic (errors.Is(ErrEmpty,
	// ErrBadMagic) holds), told apart so recovery can report a clean end.
	ErrEmpty = &wrapped{msg: "message: empty space (zero header)", parent: ErrBadMagic}

	// ErrSizeMismatch: a length is out of range, or the record's parts do
	// not add up to TOTALSIZE.
	ErrSizeMismatch = wrapCorrupt("message: record size mismatch")

	// ErrBodyCRC: BODYCRC is not the masked CRC32 of BODY.
	ErrBodyCRC = wrapCorrupt("message: body crc mismatch")
)

// ErrBlank is returned by DecodeRecord for the end-of-file blank record. It
// is not corruption: the reader continues at the next file.
var ErrBlank = errors.New("message: blank end-of-file record")

// Encoding errors, returned by AppendRecord and AppendBatchEntry.
var (
	// ErrTopicTooLong: the topic is longer than MaxTopicLength bytes.
	ErrTopicTooLong = errors.New("message: topic too long")

	// ErrPropertiesTooLong: the encoded properties are longer than
	// MaxPropertiesLength bytes (RocketMQ's PROPERTIES_SIZE_EXCEEDED).
	ErrPropertiesTooLong = errors.New("message: properties too long")

	// ErrRecordTooLarge: the record would not fit TOTALSIZE, a signed int32.
	ErrRecordTooLarge = errors.New("message: record too large")
)

// ErrBadBatch is returned by DecodeBatch when a SEND_BATCH_MESSAGE body is
// malformed (a length out of range, or a TOTALSIZE that does not match the
// entry's parts). It comes from the network, so it is not ErrCorrupt.
var ErrBadBatch = errors.New("message: malformed batch body")

// ErrBadMsgID is returned by ParseOffsetMsgID and ParseUniqID for an id of
// the wrong length or with non-hex characters.
var ErrBadMsgID = errors.New("message: malformed message id")

// wrapped is an error with a parent it unwraps to; it lets the sentinels form
// a tree without fmt (and without allocating when they are returned).
type wrapped struct {
	msg    string
	parent error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.parent }

func wrapCorrupt(msg string) error { return &wrapped{msg: msg, parent: ErrCorrupt} }
