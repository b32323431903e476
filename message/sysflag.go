package message

// SYSFLAG bits (RocketMQ common/sysflag/MessageSysFlag.java, identical in 4.9
// and 5.x). Frozen: they are stored in every record.
//
//	bit   0     COMPRESSED            0x1   (bodies compressed by the producer)
//	bit   1     MULTI_TAGS            0x2
//	bits  2-3   transaction type      0xC   NOT=0 PREPARED=0x4 COMMIT=0x8 ROLLBACK=0xC
//	bit   4     BORNHOST_V6           0x10  BORNHOST is 16+4 bytes
//	bit   5     STOREHOSTADDRESS_V6   0x20  STOREHOST is 16+4 bytes
//	bit   6     NEED_UNWRAP           0x40  (batch)
//	bit   7     INNER_BATCH           0x80
//	bits  8-10  compression type      0x700 LZ4=0x100 ZSTD=0x200 ZLIB=0x300 (0 reads as ZLIB)
const (
	SysFlagCompressed  int32 = 0x1
	SysFlagMultiTags   int32 = 0x2
	SysFlagBornHostV6  int32 = 0x10
	SysFlagStoreHostV6 int32 = 0x20
	SysFlagNeedUnwrap  int32 = 0x40
	SysFlagInnerBatch  int32 = 0x80

	TransactionNotType      int32 = 0x0
	TransactionPreparedType int32 = 0x4
	TransactionCommitType   int32 = 0x8
	TransactionRollbackType int32 = 0xC
	TransactionTypeMask     int32 = 0xC

	CompressionLZ4      int32 = 0x100
	CompressionZSTD     int32 = 0x200
	CompressionZLIB     int32 = 0x300
	CompressionTypeMask int32 = 0x700
)

// TransactionType returns the transaction type bits of sysFlag, one of
// TransactionNotType, TransactionPreparedType, TransactionCommitType and
// TransactionRollbackType (Java getTransactionValue).
func TransactionType(sysFlag int32) int32 { return sysFlag & TransactionTypeMask }

// SetTransactionType returns sysFlag with its transaction type replaced by t
// (Java resetTransactionValue: clear the mask, then OR in t).
func SetTransactionType(sysFlag, t int32) int32 {
	return sysFlag&^TransactionTypeMask | t&TransactionTypeMask
}

// CompressionType returns the compression type bits of sysFlag. The value 0
// means ZLIB for bodies with SysFlagCompressed set (old clients write no type).
func CompressionType(sysFlag int32) int32 {
	t := sysFlag & CompressionTypeMask
	if t == 0 {
		return CompressionZLIB
	}
	return t
}
