package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is the server side of a wire run: a name server address, and the
// embedded server when the run started one.
type env struct {
	nsAddr string
	admin  *client.Admin
	broker *broker.Broker // nil with -addr
	// consumerGroup is the run's consumer group; its heartbeats make the
	// broker create the group's retry topic.
	consumerGroup string
	close         []func()
}

func (e *env) shutdown() {
	for i := len(e.close) - 1; i >= 0; i-- {
		e.close[i]()
	}
}

// startEmbedded starts a name server and a broker in this process, on
// loopback ports, with the data in a fresh directory.
func startEmbedded(cfg *Config, e *env) error {
	dir, cleanup, err := dataDir(cfg, "broker")
	if err != nil {
		return err
	}
	e.close = append(e.close, cleanup)

	ns, err := namesrv.Listen("127.0.0.1:0", namesrv.Options{Logger: quiet})
	if err != nil {
		return err
	}
	e.close = append(e.close, func() { ns.Close() })
	e.nsAddr = ns.Addr()

	bc := broker.DefaultConfig()
	bc.StorePathRootDir = dir
	bc.ListenPort = 0
	bc.MappedFileSizeCommitLog = cfg.SegmentSize
	bc.CommitLogResidentBytes = cfg.ResidentBytes
	bc.FlushDiskType = broker.AsyncFlush
	if cfg.Flush == FlushSync {
		bc.FlushDiskType = broker.SyncFlush
	}
	// Check-backs soon after an unknown outcome, so txn runs resolve them.
	bc.TransactionTimeOut = 1000
	bc.TransactionCheckInterval = 1000
	// MQBENCH_BROKER_SET="key=value;key=value" (issue 19 diagnostics) sets broker.conf keys
	// of the embedded broker, e.g. flushIntervalCommitLog=10000 to take the periodic flushes
	// out of a run.
	if set := os.Getenv("MQBENCH_BROKER_SET"); set != "" {
		for _, kv := range strings.Split(set, ";") {
			key, value, _ := strings.Cut(kv, "=")
			if err := bc.Set(strings.TrimSpace(key), strings.TrimSpace(value)); err != nil {
				return fmt.Errorf("MQBENCH_BROKER_SET: %w", err)
			}
		}
	}
	ro := remoting.Options{Logger: quiet}
	if cfg.Flush == FlushSync {
		// A send holds its worker until the group commit covers it: as many
		// workers as sends in flight, or the pool caps the commit batch.
		ro.Pools = map[remoting.Kind]remoting.PoolOptions{
			remoting.KindSend: {Workers: max(16, min(cfg.Producers*cfg.Window, 1024))},
		}
	}
	b, err := broker.New(bc, broker.Options{
		Registrar: broker.EmbeddedRegistrar(ns.Registry()),
		Logger:    quiet,
		Remoting:  ro,
	})
	if err != nil {
		return err
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		return err
	}
	if err := b.Start(bl); err != nil {
		return err
	}
	e.close = append(e.close, func() { b.Close() })
	e.broker = b
	return nil
}

// setupTopics creates the run's topics on every master of the cluster and
// returns the names of those it created (on at least one broker), also when
// it fails part way.
func setupTopics(ctx context.Context, cfg *Config, e *env) ([]string, error) {
	brokers, _, err := e.admin.ClusterInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster info: %w", err)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("bench: no broker registered with the name server %s", e.nsAddr)
	}
	var created []string
	for t := 0; t < cfg.Topics; t++ {
		name := cfg.topicName(t)
		for _, b := range brokers {
			addr, ok := b.BrokerAddrs[0]
			if !ok {
				continue
			}
			tc := namesrv.TopicConfig{TopicName: name, ReadQueueNums: cfg.Queues, WriteQueueNums: cfg.Queues}
			if err := e.admin.CreateTopic(ctx, addr, tc); err != nil {
				return created, fmt.Errorf("create topic %s on %s: %w", name, addr, err)
			}
			if len(created) == 0 || created[len(created)-1] != name {
				created = append(created, name)
			}
		}
	}
	return created, nil
}

// wireMode is the body of a wire mode.
type wireMode func(ctx context.Context, cfg *Config, e *env, progress io.Writer) (*report.Report, error)

// ErrCleanup: a run against a running server could not delete its topics.
// Run still prints the report, then returns the error.
var ErrCleanup = errors.New("bench: topics left on the server")

// runWire prepares the server side (embedded or -addr) and the topics, and
// runs mode. Against a running server (-addr) the run's topics get fresh
// names and are deleted at the end unless -keep.
func runWire(ctx context.Context, cfg *Config, progress io.Writer, mode wireMode) (*report.Report, error) {
	e := &env{consumerGroup: fmt.Sprintf("mqbench_consumer_%d", instanceSeq.Add(1))}
	defer e.shutdown()
	if cfg.Addr == "" {
		if err := startEmbedded(cfg, e); err != nil {
			return nil, fmt.Errorf("embedded server: %w", err)
		}
	} else {
		e.nsAddr = cfg.Addr
		// A running server keeps its topics: use fresh names.
		cfg.Topic = fmt.Sprintf("%s-%d-%d", cfg.Topic, os.Getpid(), time.Now().Unix())
	}
	admin, err := client.NewAdmin(append([]client.Option{client.WithNameServer(e.nsAddr), client.WithLogger(quiet)}, clientOptions(cfg)...)...)
	if err != nil {
		return nil, err
	}
	e.admin = admin
	e.close = append(e.close, func() { admin.Close() })
	created, err := setupTopics(ctx, cfg, e)
	var rep *report.Report
	if err == nil {
		rep, err = mode(ctx, cfg, e, progress)
	}
	if cfg.Addr == "" {
		return rep, err
	}
	if rep != nil {
		rep.Flush = "server's"
	}
	if cfg.Keep {
		if rep != nil && len(created) > 0 {
			rep.Cleanup = "kept topics " + strings.Join(created, ", ")
		}
		return rep, err
	}
	deleted, cleanupErr := deleteTopics(ctx, e, created)
	if rep != nil && len(created) > 0 {
		rep.Cleanup = fmt.Sprintf("deleted %d of %d topics from the server (-keep keeps them)", deleted, len(created))
	}
	// The retry topic the consumers' heartbeats made the broker create goes
	// too (deleting it is harmless when no consumer ran).
	if _, err := deleteTopics(ctx, e, []string{broker.RetryTopicPrefix + e.consumerGroup}); err != nil {
		cleanupErr = errors.Join(cleanupErr, err)
	}
	if err == nil && cleanupErr != nil {
		err = fmt.Errorf("%w: %w", ErrCleanup, cleanupErr)
	}
	return rep, err
}

// deleteTopics deletes the run's topics from the server, even when the run
// was interrupted, and returns how many it deleted.
func deleteTopics(ctx context.Context, e *env, topics []string) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	deleted := 0
	for _, t := range topics {
		if err := e.admin.DeleteTopic(ctx, t); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}

// storedCount sums the max offsets of the run's queues, waiting up to
// timeout for them to reach want (dispatch trails the acknowledgements).
func storedCount(ctx context.Context, cfg *Config, e *env, want int64, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		var total int64
		for t := 0; t < cfg.Topics; t++ {
			qs, err := e.admin.Queues(ctx, cfg.topicName(t))
			if err != nil {
				return 0, err
			}
			for _, q := range qs {
				n, err := e.admin.MaxOffset(ctx, q)
				if err != nil {
					return 0, err
				}
				total += n
			}
		}
		if total >= want || time.Now().After(deadline) {
			return total, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
