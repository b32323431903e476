package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Modes.
const (
	ModeStore    = "store"
	ModeProduce  = "produce"
	ModeConsume  = "consume"
	ModeTxn      = "txn"
	ModeE2E      = "e2e"
	ModePeer     = "peer"
	ModeCeilings = "ceilings"
)

// Header forms (-header): the serialization of the clients' request headers.
const (
	HeaderJSON     = "json"
	HeaderRocketMQ = "rocketmq"
)

// Flush modes.
const (
	FlushAsync = "async"
	FlushSync  = "sync"
)

// Errors of ParseArgs and Validate.
var (
	// ErrUsage: the arguments do not make a valid run.
	ErrUsage = errors.New("bench: bad arguments")
	// ErrUnknownMode: the first argument is not a mode (it wraps ErrUsage).
	ErrUnknownMode = fmt.Errorf("%w: unknown mode", ErrUsage)
)

// Config is one run. The zero value is not valid; Defaults gives mqbench's
// defaults.
type Config struct {
	Mode      string
	Size      int           // -size: message body bytes
	Messages  int64         // -n: messages to send (0: run for Duration)
	Duration  time.Duration // -duration
	Producers int           // -producers: producer goroutines, each with its own connection
	Consumers int           // -consumers: consumer connections (pull goroutines: one per queue)
	Window    int           // -window: sends in flight per producer (1: synchronous sends)
	Batch     int           // -batch: messages per batch send (1: single sends)
	Topics    int           // -topics
	Queues    int           // -queues per topic
	Flush     string        // -flush: async or sync (store mode and embedded servers)
	Addr      string        // -addr: name server of a running mqstore ("" = embedded)
	Keep      bool          // -keep: with -addr, leave the run's topics on the server
	Dir       string        // -dir: data directory ("" = a temporary one, removed after)
	Topic     string        // -topic: topic name prefix
	Rate      int           // -rate: e2e target msgs/s over all producers (0 = unlimited)
	Txn       bool          // -txn: store mode does Prepare+Commit
	// Transaction outcomes (txn), in percent of messages; the rest is
	// unknown, which the check-back answers with CheckAnswer.
	CommitPct, RollbackPct int
	CheckAnswer            string // -check: commit or rollback
	SegmentSize            int64  // -segment: commitlog segment bytes of the store / embedded broker
	ResidentBytes          int64  // -resident: commitLogResidentBytes of the embedded broker (0: off)
	Ceilings               bool   // -ceilings: measure the machine's ceilings too
	JSON                   bool   // -json: stdout gets only the report as one JSON object
	Plot                   string // -plot: write an SVG chart to this file
	PeerDir                string // -peer-dir: the bench/peer module ("" = find it)
	PeerBin                string // -peer-bin: a built peer binary (instead of go run)
	Quiet                  bool   // -quiet: no progress lines
	CPUProfile             string // -cpuprofile: write a CPU profile of the run to this file
	Header                 string // -header: json or rocketmq, the header form of the clients' requests
	AccessKey, SecretKey   string // -ak, -sk: ACL account the clients sign every request with (brokers with aclEnable)
	TLS                    bool   // -tls: the clients dial the name server and brokers with TLS
	Progress               time.Duration
}

// minSegmentSize is the smallest -segment: the broker wants a commitlog
// segment to hold two of the largest (4 MiB) messages.
const minSegmentSize = 8 << 20

// Defaults returns mqbench's defaults for mode.
func Defaults(mode string) Config {
	return Config{
		Mode:        mode,
		Size:        1024,
		Duration:    10 * time.Second,
		Producers:   1,
		Consumers:   1,
		Window:      256,
		Batch:       1,
		Topics:      1,
		Queues:      8,
		Flush:       FlushAsync,
		Topic:       "BenchTopic",
		CommitPct:   100,
		CheckAnswer: "commit",
		SegmentSize: 1 << 30,
		Progress:    time.Second,
		Header:      HeaderRocketMQ,
		AccessKey:   os.Getenv("MQSTORE_ACCESS_KEY"),
		SecretKey:   os.Getenv("MQSTORE_SECRET_KEY"),
	}
}

// ParseArgs parses a run's command line: a mode, then that mode's flags
// (ModeFlags). "-h" among the flags is flag.ErrHelp (print ModeUsage); an
// unknown mode is ErrUnknownMode; other problems are ErrUsage.
func ParseArgs(args []string) (Config, error) {
	if len(args) == 0 {
		return Config{}, fmt.Errorf("%w: no mode", ErrUsage)
	}
	if _, ok := modeByName(args[0]); !ok {
		return Config{}, fmt.Errorf("%w %q", ErrUnknownMode, args[0])
	}
	cfg := Defaults(args[0])
	fs := cfg.flagSet()
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

// registerAll defines every flag of every mode on fs, bound to c's fields.
// Each flag is defined here once; a mode's flag set takes the ones it reads.
func (c *Config) registerAll(fs *flag.FlagSet) {
	fs.IntVar(&c.Size, "size", c.Size, "message body bytes")
	fs.Int64Var(&c.Messages, "n", c.Messages, "messages to send (0: run for -duration)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "run time when -n is 0")
	fs.IntVar(&c.Producers, "producers", c.Producers, "producer goroutines (each with its own connection)")
	fs.IntVar(&c.Consumers, "consumers", c.Consumers, "consumer connections (one pull goroutine per queue)")
	fs.IntVar(&c.Window, "window", c.Window, "sends in flight per producer (1: synchronous sends)")
	fs.IntVar(&c.Batch, "batch", c.Batch, "messages per batch send")
	fs.IntVar(&c.Topics, "topics", c.Topics, "topics")
	fs.IntVar(&c.Queues, "queues", c.Queues, "queues per topic")
	fs.StringVar(&c.Flush, "flush", c.Flush, "flush mode of the store or embedded server: async or sync")
	fs.StringVar(&c.Addr, "addr", c.Addr, "name server address of a running mqstore (empty: start one in-process)")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "with -addr: keep the run's topics on the server (default: deleted at the end)")
	fs.StringVar(&c.Dir, "dir", c.Dir, "data directory (empty: a temporary directory, removed after the run)")
	fs.StringVar(&c.Topic, "topic", c.Topic, "topic name prefix (with -addr a unique suffix is added)")
	fs.IntVar(&c.Rate, "rate", c.Rate, "target msgs/s over all producers (0: as fast as possible)")
	fs.BoolVar(&c.Txn, "txn", c.Txn, "Prepare+Commit each message instead of Put")
	fs.IntVar(&c.CommitPct, "commit", c.CommitPct, "percent of local transactions that commit")
	fs.IntVar(&c.RollbackPct, "rollback", c.RollbackPct, "percent that roll back (the rest is unknown, left to the check-back)")
	fs.StringVar(&c.CheckAnswer, "check", c.CheckAnswer, "answer to check-backs: commit or rollback")
	fs.Int64Var(&c.SegmentSize, "segment", c.SegmentSize, "commitlog segment bytes of the store or embedded broker")
	fs.Int64Var(&c.ResidentBytes, "resident", c.ResidentBytes, "commitLogResidentBytes of the embedded broker: flushed commitlog kept in memory behind the flushed offset, older pages evicted so the warm-up reuses them (0: no eviction, the broker's default)")
	fs.BoolVar(&c.Ceilings, "ceilings", c.Ceilings, "also measure the machine's ceilings (memcpy into a mapped file, loopback TCP echo)")
	fs.BoolVar(&c.JSON, "json", c.JSON, "write only the report as one JSON object to stdout (progress and the text report go to stderr)")
	fs.StringVar(&c.Plot, "plot", c.Plot, "write an SVG chart of the run to this file")
	fs.StringVar(&c.PeerDir, "peer-dir", c.PeerDir, "directory of the bench/peer module (default: found from the working directory)")
	fs.StringVar(&c.PeerBin, "peer-bin", c.PeerBin, "a built peer binary to run instead of building bench/peer")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "no progress lines")
	fs.StringVar(&c.Header, "header", c.Header, "header form of the clients' requests: json or rocketmq (binary); the broker answers in the same form")
	fs.StringVar(&c.AccessKey, "ak", c.AccessKey, "ACL access key the clients sign requests with (with -addr, for a broker with aclEnable; default $MQSTORE_ACCESS_KEY)")
	fs.StringVar(&c.SecretKey, "sk", c.SecretKey, "ACL secret key (default $MQSTORE_SECRET_KEY)")
	fs.BoolVar(&c.TLS, "tls", c.TLS, "the clients dial the name server and brokers with TLS (certificate not verified)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile of the run (server included when embedded) to this file")
}

// flagSet returns the flag set of c.Mode: the mode's flags only, bound to
// c. It prints nothing; the caller reports errors and help.
func (c *Config) flagSet() *flag.FlagSet {
	all := flag.NewFlagSet("all", flag.ContinueOnError)
	c.registerAll(all)
	fs := flag.NewFlagSet("mqbench "+c.Mode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	info, _ := modeByName(c.Mode)
	for _, name := range info.flags {
		f := all.Lookup(name)
		if f == nil {
			panic("bench: mode " + c.Mode + " lists an undefined flag -" + name)
		}
		fs.Var(f.Value, f.Name, f.Usage)
	}
	return fs
}

// Validate reports an invalid configuration.
func (c *Config) Validate() error {
	_, known := modeByName(c.Mode)
	switch {
	case !known:
		return fmt.Errorf("%w %q", ErrUnknownMode, c.Mode)
	case c.Size < 8 || c.Size > 4<<20:
		return fmt.Errorf("%w: -size %d outside 8 B..4 MiB", ErrUsage, c.Size)
	case c.Messages < 0 || (c.Messages == 0 && c.Duration <= 0):
		return fmt.Errorf("%w: need -n > 0 or -duration > 0", ErrUsage)
	case c.Producers < 1 || c.Consumers < 1 || c.Window < 1 || c.Batch < 1 || c.Topics < 1 || c.Queues < 1:
		return fmt.Errorf("%w: -producers, -consumers, -window, -batch, -topics and -queues must be at least 1", ErrUsage)
	case c.Flush != FlushAsync && c.Flush != FlushSync:
		return fmt.Errorf("%w: -flush %q (async or sync)", ErrUsage, c.Flush)
	case c.CommitPct < 0 || c.RollbackPct < 0 || c.CommitPct+c.RollbackPct > 100:
		return fmt.Errorf("%w: -commit and -rollback must be percentages adding up to at most 100", ErrUsage)
	case c.CheckAnswer != "commit" && c.CheckAnswer != "rollback":
		return fmt.Errorf("%w: -check %q (commit or rollback)", ErrUsage, c.CheckAnswer)
	case c.Header != HeaderJSON && c.Header != HeaderRocketMQ:
		return fmt.Errorf("%w: -header %q (json or rocketmq)", ErrUsage, c.Header)
	case c.Rate < 0:
		return fmt.Errorf("%w: -rate %d", ErrUsage, c.Rate)
	case c.SegmentSize < minSegmentSize:
		return fmt.Errorf("%w: -segment %d below %d (8 MiB: twice the 4 MiB largest message, as the broker requires)", ErrUsage, c.SegmentSize, minSegmentSize)
	case c.ResidentBytes < 0:
		return fmt.Errorf("%w: -resident %d", ErrUsage, c.ResidentBytes)
	}
	if c.Progress <= 0 {
		c.Progress = time.Second
	}
	return nil
}
