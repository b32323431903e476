package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// dataDir returns cfg.Dir, or a new temporary directory and its removal.
func dataDir(cfg *Config, name string) (string, func(), error) {
	if cfg.Dir != "" {
		dir, err := os.MkdirTemp(cfg.Dir, name+"-")
		return dir, func() { os.RemoveAll(dir) }, err
	}
	dir, err := os.MkdirTemp("", "mqbench-"+name+"-")
	return dir, func() { os.RemoveAll(dir) }, err
}

// storeGroup is the producer group of store-mode transactions.
const storeGroup = "mqbench_store"

// runStore puts messages straight into a store: Put, PutBatch (-batch), or
// Prepare+Commit (-txn). Each producer goroutine puts one message (or batch)
// at a time; the latency is that of the call, which under sync flush
// includes the group commit.
func runStore(ctx context.Context, cfg *Config, progress io.Writer) (*report.Report, error) {
	dir, cleanup, err := dataDir(cfg, "store")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	opts := store.Options{CommitLogSegmentSize: cfg.SegmentSize}
	if cfg.Flush == FlushSync {
		opts.FlushMode = commitlog.SyncFlush
	}
	s, err := store.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()

	mode := ModeStore
	if cfg.Txn {
		mode = "store-txn"
	}
	b := newBudget(cfg)
	rec := report.NewRecorder()
	rec.StartProgress(progress, mode, cfg.Size, cfg.Progress)
	payload := body(cfg.Size)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		rec.Error()
		errOnce.Do(func() { firstErr = err })
	}
	for p := 0; p < cfg.Producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			msgs := make([]*message.Message, cfg.Batch)
			for i := range msgs {
				msgs[i] = message.New("", payload)
				msgs[i].SetKeys(fmt.Sprintf("p%d-%d", p, i))
			}
			seq := p
			for ctx.Err() == nil {
				k := b.take(cfg.Batch)
				if k == 0 {
					return
				}
				batch := msgs[:k]
				for _, m := range batch {
					m.Topic = cfg.topicName(seq % cfg.Topics)
					m.QueueID = int32((seq / cfg.Topics) % cfg.Queues)
					seq++
				}
				start := time.Now()
				var err error
				switch {
				case cfg.Txn:
					for _, m := range batch {
						var res txnPrepared
						if res, err = prepare(s, m); err == nil {
							_, err = s.Transactions().Commit(res.halfOffset, storeGroup, res.queueOffset)
						}
						if err != nil {
							break
						}
					}
				case k == 1:
					_, err = s.Put(batch[0])
				default:
					_, err = s.PutBatch(batch)
				}
				if err != nil {
					fail(err)
					continue
				}
				rec.Record(time.Since(start), k, k*cfg.Size)
			}
		}(p)
	}
	wg.Wait()
	rep := rec.Finish(mode)
	if err := s.Sync(ctx); err != nil {
		return rep, err
	}
	rep.Sent = rep.Messages
	for t := 0; t < cfg.Topics; t++ {
		for q := 0; q < cfg.Queues; q++ {
			rep.Stored += s.MaxOffset(cfg.topicName(t), int32(q))
		}
	}
	if rep.Stored != rep.Sent && firstErr == nil {
		firstErr = fmt.Errorf("bench: %d messages acknowledged but %d in the queues", rep.Sent, rep.Stored)
	}
	if cfg.Txn {
		rep.Committed = rep.Messages
	}
	return rep, firstErr
}

type txnPrepared struct{ halfOffset, queueOffset int64 }

func prepare(s *store.Store, m *message.Message) (txnPrepared, error) {
	res, err := s.Transactions().Prepare(m, storeGroup)
	return txnPrepared{res.HalfOffset, res.QueueOffset}, err
}
