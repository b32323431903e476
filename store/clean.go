package store

import (
	"fmt"
	"math"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
)

// cleanLoop is the retention service (RocketMQ's CleanCommitLogService and
// CleanConsumeQueueService): every CleanInterval it deletes commitlog segments older than
// FileReservedTime, or the oldest ones whatever their age while the disk is above
// DiskMaxUsedRatio, then the queue and index files wholly below the new minimum offset. Consumer
// positions do not hold data back, as in RocketMQ.
func (s *Store) cleanLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.CleanInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
			s.Clean()
		}
	}
}

// cleanShared is retention of a commitlog that is a replicated group's Raft log (LogOwner): the
// expired segments (by FileReservedTime, or the oldest ones while the disk is above
// DiskMaxUsedRatio: forced) go through the owner, which compacts its log up to the entries they
// hold, as far as those are applied, covered by the store's last checkpoint (a restart resumes
// applying after it) and, unless forced, stored on every replica. It returns the number of
// segments deleted.
func (s *Store) cleanShared(owner LogOwner) int {
	force := s.DiskUsage() > s.opts.DiskMaxUsedRatio
	below := min(s.commitLog.ExpiredBelow(s.opts.FileReservedTime, deleteBatchMax, force), s.checkpointed.Load())
	if below <= s.commitLog.MinOffset() {
		return 0
	}
	before := s.commitLog.Segments()
	if err := owner.ReleaseSegments(below, force); err != nil {
		s.backgroundError(fmt.Errorf("store: retention: %w", err))
	}
	return max(before-s.commitLog.Segments(), 0)
}

// deleteBatchMax is how many segments one clean pass deletes at most (RocketMQ's deleteFileBatchMax).
const deleteBatchMax = 10

// Clean runs one retention pass now and returns the number of commitlog segments deleted.
func (s *Store) Clean() int {
	if s.closed.Load() {
		return 0
	}
	s.measureDisk()
	var deleted int
	var err error
	owner, shared := s.opts.Replicator.(LogOwner)
	if shared {
		deleted = s.cleanShared(owner)
	} else if deleted, err = s.commitLog.DeleteExpired(s.opts.FileReservedTime, deleteBatchMax); err != nil {
		s.backgroundError(fmt.Errorf("store: retention: %w", err))
	}
	if !shared && s.DiskUsage() > s.opts.DiskMaxUsedRatio {
		n, err := s.commitLog.DeleteOldest(deleteBatchMax - deleted)
		if err != nil {
			s.backgroundError(fmt.Errorf("store: retention: %w", err))
		}
		deleted += n
	}
	if deleted > 0 {
		minOffset := s.commitLog.MinOffset()
		if err := s.queues.SetMinPhysicalOffset(minOffset); err != nil {
			s.backgroundError(fmt.Errorf("store: retention of consume queues: %w", err))
		}
		if s.index != nil {
			if _, err := s.index.DeleteBelow(minOffset); err != nil {
				s.backgroundError(fmt.Errorf("store: retention of the index: %w", err))
			}
		}
		s.measureDisk()
	}
	return deleted
}

// measureDisk refreshes the disk usage and the disk-full flag.
func (s *Store) measureDisk() {
	ratio, err := s.opts.DiskUsage(s.dir)
	if err != nil {
		s.backgroundError(fmt.Errorf("store: disk usage: %w", err))
		return
	}
	s.diskRatio.Store(math.Float64bits(ratio))
	s.diskFull.Store(ratio > s.opts.DiskFullRatio)
}

// DiskUsage is the used fraction of the store's disk at the last measurement.
func (s *Store) DiskUsage() float64 { return math.Float64frombits(s.diskRatio.Load()) }

// diskUsage returns a function measuring the used fraction of the file system holding dir.
func diskUsage(fs vfs.FS) func(dir string) (float64, error) {
	fs = vfs.Default(fs)
	return func(dir string) (float64, error) {
		u, err := fs.Statfs(dir)
		if err != nil {
			return 0, err
		}
		if u.Total <= 0 {
			return 0, nil
		}
		return 1 - float64(u.Free)/float64(u.Total), nil
	}
}
