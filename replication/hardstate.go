package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	pb "go.etcd.io/raft/v3/raftpb"
)

// This file keeps the Raft HardState (term, vote, commit) in a file of two 64-byte slots written
// alternately, so a torn write of one slot leaves the other intact and no rename is needed per
// change. A slot, big-endian:
//
//	offset size field
//	     0    8 SEQ      uint64, increases with every write; the valid slot with the larger wins
//	     8    8 TERM     uint64
//	    16    8 VOTE     uint64
//	    24    8 COMMIT   uint64
//	    32    8 ACKED    uint64, the acknowledged watermark: the highest index this replica has
//	                     told a leader it holds (a MsgAppResp's index; a leader's whole log)
//	    40    8 ACKTERM  uint64, the term in which ACKED was acknowledged
//	    48   12 reserved zero
//	    60    4 CRC      CRC32-C of bytes 0..60
//
// Frozen. A write that changes term or vote is fdatasynced before SetHardState returns (Raft's
// safety depends on it); a write that only moves the commit index is not (raft.MustSync): a
// commit index lost in a crash is learnt again from the leader.
//
// ACKED is written (not synced) after the entries it covers are synced and before the response
// that acknowledges them leaves. A leader counts an acknowledged entry toward its quorum and
// later tells the replica to commit it, which etcd raft cannot survive if the replica's log no
// longer holds it; recovery therefore refuses a log that ends below ACKED (log.go). The write is
// not synced: a process crash keeps it (page cache), a power loss may return an older, lower
// watermark, which only weakens that check. Lowering it (a truncated uncommitted suffix, an
// installed snapshot) is synced before the log is cut, so the file never claims more than the
// log can hold.

const hardStateSlot = 64

type hardStateFile struct {
	f    *os.File
	seq  uint64
	prev *pb.HardState
	// acked, ackTerm: the watermark (ACKED, ACKTERM) as last written.
	acked, ackTerm uint64
}

func openHardState(path string) (*hardStateFile, *pb.HardState, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	h := &hardStateFile{f: f}
	var buf [2 * hardStateSlot]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, nil, fmt.Errorf("%w: read hard state: %w", ErrStorage, err)
	}
	best := &pb.HardState{}
	for i := range 2 {
		s := buf[i*hardStateSlot : (i+1)*hardStateSlot]
		if n < (i+1)*hardStateSlot {
			break
		}
		be := binary.BigEndian
		if be.Uint32(s[60:]) != crc32.Checksum(s[:60], castagnoli) {
			continue
		}
		if seq := be.Uint64(s[0:]); seq > h.seq {
			h.seq = seq
			best = &pb.HardState{Term: new(be.Uint64(s[8:])), Vote: new(be.Uint64(s[16:])), Commit: new(be.Uint64(s[24:]))}
			h.acked, h.ackTerm = be.Uint64(s[32:]), be.Uint64(s[40:])
		}
	}
	h.prev = best
	return h, best, nil
}

func (h *hardStateFile) set(st *pb.HardState) error {
	sync := st.GetTerm() != h.prev.GetTerm() || st.GetVote() != h.prev.GetVote()
	if !sync && st.GetCommit() == h.prev.GetCommit() {
		return nil
	}
	if err := h.write(st, h.acked, h.ackTerm, sync); err != nil {
		return err
	}
	h.prev = &pb.HardState{Term: new(st.GetTerm()), Vote: new(st.GetVote()), Commit: new(st.GetCommit())}
	return nil
}

// setAcked records the acknowledged watermark, synced when sync is set (lowering it).
func (h *hardStateFile) setAcked(index, term uint64, sync bool) error {
	if index == h.acked && term == h.ackTerm {
		return nil
	}
	if err := h.write(h.prev, index, term, sync); err != nil {
		return err
	}
	h.acked, h.ackTerm = index, term
	return nil
}

// write writes the next slot.
func (h *hardStateFile) write(st *pb.HardState, acked, ackTerm uint64, sync bool) error {
	h.seq++
	var s [hardStateSlot]byte
	be := binary.BigEndian
	be.PutUint64(s[0:], h.seq)
	be.PutUint64(s[8:], st.GetTerm())
	be.PutUint64(s[16:], st.GetVote())
	be.PutUint64(s[24:], st.GetCommit())
	be.PutUint64(s[32:], acked)
	be.PutUint64(s[40:], ackTerm)
	be.PutUint32(s[60:], crc32.Checksum(s[:60], castagnoli))
	if _, err := h.f.WriteAt(s[:], int64(h.seq%2)*hardStateSlot); err != nil {
		return fmt.Errorf("write hard state: %w", err)
	}
	if sync {
		if err := h.f.Sync(); err != nil {
			return fmt.Errorf("sync hard state: %w", err)
		}
	}
	return nil
}

func (h *hardStateFile) close() error { return h.f.Close() }
