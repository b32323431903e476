package store

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
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

// deleteBatchMax is how many segments one clean pass deletes at most (RocketMQ's deleteFileBatchMax).
const deleteBatchMax = 10

// Clean runs one retention pass now and returns the number of commitlog segments deleted.
func (s *Store) Clean() int {
	if s.closed.Load() {
		return 0
	}
	s.measureDisk()
	deleted, _ := s.commitLog.DeleteExpired(s.opts.FileReservedTime, deleteBatchMax)
	if s.DiskUsage() > s.opts.DiskMaxUsedRatio {
		n, _ := s.commitLog.DeleteOldest(deleteBatchMax - deleted)
		deleted += n
	}
	if deleted > 0 {
		minOffset := s.commitLog.MinOffset()
		s.queues.SetMinPhysicalOffset(minOffset)
		if s.index != nil {
			s.index.DeleteBelow(minOffset)
		}
		s.measureDisk()
	}
	return deleted
}

// measureDisk refreshes the disk usage and the disk-full flag.
func (s *Store) measureDisk() {
	ratio, err := s.opts.DiskUsage(s.dir)
	if err != nil {
		return
	}
	s.diskRatio.Store(math.Float64bits(ratio))
	s.diskFull.Store(ratio > s.opts.DiskFullRatio)
}

// DiskUsage is the used fraction of the store's disk at the last measurement.
func (s *Store) DiskUsage() float64 { return math.Float64frombits(s.diskRatio.Load()) }

// diskUsage measures the used fraction of the file system holding dir.
func diskUsage(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return 1 - float64(st.Bavail)/float64(st.Blocks), nil
}
