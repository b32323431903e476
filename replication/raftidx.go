package replication

import (
	"encoding/binary"
	"hash/crc32"

	pb "go.etcd.io/raft/v3/raftpb"
)

// This file encodes the raftidx row: where Raft entry i lives in the commitlog. Rows are
// fixed-size and dense, row i at global byte offset i*RowSize of the raftidx file queue
// (files named by their 20-digit start offset, like consume-queue files), so Term(i) and
// Entries(lo, hi) are O(1) lookups. All integers are big-endian.
//
//	offset size field
//	     0    8 PHYSOFFSET  int64, commitlog offset of the entry's first record (for an entry
//	                        without records: the commitlog end when it was appended)
//	     8    8 TERM        uint64, the entry's Raft term (never 0 for a written row)
//	    16    4 SIZE        int32, bytes of records (0: an empty or configuration entry)
//	    20    1 TYPE        raftpb.EntryType (0 normal, 1 conf change, 2 conf change v2)
//	    21    3 reserved    zero
//	    24    4 DATACRC     CRC32-C of the entry's data as stored: the SIZE bytes of records at
//	                        PHYSOFFSET (patched), or a configuration entry's data (raftmeta);
//	                        0 for an empty entry
//	    28    4 CRC         CRC32-C of bytes 0..28
//
// A row of zeros is unwritten space; a row whose CRC does not match is a torn write. DATACRC
// covers every byte of the entry, where RocketMQ's record format checksums only each record's
// body: a flipped bit in a topic, QUEUEID or property is caught by it (at recovery, and whenever
// an entry is read to be applied or sent to a follower). Frozen: every replica's raftidx and
// recovery depend on this layout.

// RowSize is the size of one raftidx row.
const RowSize = 32

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// row is one decoded raftidx row.
type row struct {
	phys int64
	term uint64
	size int32
	typ  pb.EntryType
	crc  uint32 // DATACRC
}

// dataCRC is the DATACRC of an entry's data.
func dataCRC(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }

// end is the commitlog offset one past the entry's records.
func (r row) end() int64 { return r.phys + int64(r.size) }

// putRow encodes r into b[:RowSize].
func putRow(b []byte, r row) {
	be := binary.BigEndian
	_ = b[RowSize-1]
	be.PutUint64(b[0:], uint64(r.phys))
	be.PutUint64(b[8:], r.term)
	be.PutUint32(b[16:], uint32(r.size))
	b[20] = byte(r.typ)
	clear(b[21:24])
	be.PutUint32(b[24:], r.crc)
	be.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
}

// getRow decodes b[:RowSize]; ok is false for unwritten space or a torn row.
func getRow(b []byte) (r row, ok bool) {
	be := binary.BigEndian
	_ = b[RowSize-1]
	if be.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return row{}, false
	}
	r = row{
		phys: int64(be.Uint64(b[0:])),
		term: be.Uint64(b[8:]),
		size: int32(be.Uint32(b[16:])),
		typ:  pb.EntryType(b[20]),
		crc:  be.Uint32(b[24:]),
	}
	if r.term == 0 || r.phys < 0 || r.size < 0 || r.typ > pb.EntryType_EntryConfChangeV2 {
		return row{}, false
	}
	return r, true
}
