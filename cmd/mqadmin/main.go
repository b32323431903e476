package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/buildinfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// command is one mqadmin subcommand.
type command struct {
	name     string
	synopsis string
	// setup registers the command's flags and returns the function that runs it.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env) error
}

// commands is the table of subcommands, in the order usage lists them.
var commands = []command{
	{"updateTopic", "create or update a topic on a broker (-b) or every broker of a cluster (-c)", setupUpdateTopic},
	{"topicList", "list the topics the name server knows", setupTopicList},
	{"topicRoute", "show a topic's route: brokers and queues", setupTopicRoute},
	{"topicStatus", "show a topic's queues: min / max offset, last update", setupTopicStatus},
	{"queryMsgById", "show a message by offset message id", setupQueryMsgByID},
	{"queryMsgByKey", "list the messages of a topic with a key", setupQueryMsgByKey},
	{"queryMsgByOffset", "show the message at an offset of a queue", setupQueryMsgByOffset},
	{"consumerProgress", "show a consumer group's offsets and lag per queue", setupConsumerProgress},
	{"clusterList", "list the clusters and their brokers", setupClusterList},
	{"brokerStatus", "show a broker's runtime statistics", setupBrokerStatus},
	{"txnList", "list open transactions (half messages) of mqstore brokers", setupTxnList},
	{"txnCommit", "commit an open transaction by hand (idempotent)", setupTxnCommit},
	{"txnRollback", "roll an open transaction back by hand (idempotent)", setupTxnRollback},
	{"txnResume", "put a transaction discarded after too many checks back to be checked", setupTxnResume},
	{"timerList", "count a topic's timer and delayed messages not yet due, per broker", setupTimerList},
	{"sendMessage", "send one message (to test a topic end to end)", setupSendMessage},
	{"consumeMessage", "print messages of a topic from an offset, without committing", setupConsumeMessage},
	{"resetOffsetByTime", "move a consumer group to a point in time (live consumers rewind)", setupResetOffsetByTime},
	{"updateSubGroup", "create or update a consumer group's config on a broker or cluster", setupUpdateSubGroup},
	{"deleteSubGroup", "delete a consumer group's config (and offsets, -r) on a broker or cluster", setupDeleteSubGroup},
	{"consumerConnection", "list a consumer group's live clients and subscriptions", setupConsumerConnection},
	{"producerConnection", "list a producer group's live clients", setupProducerConnection},
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// defaultNameServer is RocketMQ's: NAMESRV_ADDR, else 127.0.0.1:9876.
func defaultNameServer() string {
	if v := os.Getenv("NAMESRV_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:9876"
}

// env is what a running command uses: its output, the common flags and the admin client.
type env struct {
	stdout     io.Writer
	notes      []string // printed on stderr after the command succeeded (which id form matched)
	nameServer string
	json       bool
	timeout    time.Duration
	accessKey  string // ACL credentials to sign requests with
	secretKey  string
	tls        bool // dial with TLS
	admin      *client.Admin
}

// usageError is a command line mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// globalFlags registers the flags every command takes, before or after its name, on fs.
func globalFlags(fs *flag.FlagSet, e *env, version *bool) {
	fs.StringVar(&e.nameServer, "n", e.nameServer, "name server address(es), separated by ';' (default $NAMESRV_ADDR or 127.0.0.1:9876)")
	fs.BoolVar(&e.json, "json", e.json, "print JSON instead of a table")
	fs.DurationVar(&e.timeout, "timeout", e.timeout, "time allowed for the whole command")
	fs.BoolVar(version, "version", *version, "print the version and exit")
	fs.StringVar(&e.accessKey, "ak", e.accessKey, "ACL access key to sign requests with (default $MQSTORE_ACCESS_KEY)")
	fs.StringVar(&e.secretKey, "sk", e.secretKey, "ACL secret key (default $MQSTORE_SECRET_KEY)")
	fs.BoolVar(&e.tls, "tls", e.tls, "dial the name server and brokers with TLS (certificate not verified, as RocketMQ's tls.client.authServer=false)")
}

// run runs mqadmin with args (without the program name) and returns the exit code. The common
// flags (-n, -json, -timeout, -version) may come before or after the command name.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, nameServer: defaultNameServer(), timeout: 5 * time.Second,
		accessKey: os.Getenv("MQSTORE_ACCESS_KEY"), secretKey: os.Getenv("MQSTORE_SECRET_KEY")}
	version := false
	global := flag.NewFlagSet("mqadmin", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	globalFlags(global, e, &version)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stderr)
			return exitOK
		}
		fmt.Fprintf(stderr, "mqadmin: %v (mqadmin help lists the commands)\n", err)
		return exitUsage
	}
	if version {
		fmt.Fprintln(stdout, buildinfo.String("mqadmin"))
		return exitOK
	}
	args = global.Args()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for i := range commands {
		if strings.EqualFold(commands[i].name, args[0]) {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "mqadmin: unknown command %q (mqadmin help lists them)\n", args[0])
		return exitUsage
	}
	fs := flag.NewFlagSet("mqadmin "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	globalFlags(fs, e, &version)
	exec := cmd.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if version {
		fmt.Fprintln(stdout, buildinfo.String("mqadmin"))
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mqadmin %s: unexpected argument %q\n", cmd.name, fs.Arg(0))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	admin, err := client.NewAdmin(client.WithNameServer(strings.Split(e.nameServer, ";")...),
		client.WithCallTimeout(e.timeout), client.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		client.WithCredentials(e.accessKey, e.secretKey), client.WithTLSEnabled(e.tls))
	if err != nil {
		fmt.Fprintf(stderr, "mqadmin %s: %s\n", cmd.name, reason(err))
		return exitUsage
	}
	defer admin.Close()
	e.admin = admin
	if err := exec(ctx, e); err != nil {
		fmt.Fprintf(stderr, "mqadmin %s: %s\n", cmd.name, reason(err))
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	for _, n := range e.notes {
		fmt.Fprintf(stderr, "mqadmin %s: %s\n", cmd.name, n)
	}
	return exitOK
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mqadmin [-n namesrv] [-json] [-timeout 5s] <command> [flags]")
	fmt.Fprintln(w, "       (the common flags may also follow the command; mqadmin -version prints the version)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintln(w, "\nmqadmin <command> -h shows a command's flags.")
}

// reason makes err one line for stderr: without the packages' prefixes, and naming the usual
// causes plainly.
func reason(err error) string {
	var be *client.BrokerError
	var oe *net.OpError
	var msg string
	switch {
	case errors.As(err, &be):
		msg = fmt.Sprintf("%s answered %s: %s", be.Addr, be.Code, be.Remark)
		if prefix, _, ok := strings.Cut(err.Error(), "client: "); ok && prefix != "" {
			msg = prefix + msg // the command's context
		}
	case errors.As(err, &oe):
		// "<context>: client: <addr>: dial tcp <addr>: connect: connection refused" becomes
		// "<context>: cannot reach <addr>: connect: connection refused".
		addr := "the server"
		if oe.Addr != nil {
			addr = oe.Addr.String()
		}
		full := err.Error()
		prefix := ""
		if i := strings.Index(full, oe.Error()); i >= 0 {
			prefix = strings.Replace(full[:i], "client: "+addr+": ", "", 1)
		}
		msg = prefix + "cannot reach " + addr + ": " + oe.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out: " + err.Error()
	default:
		msg = err.Error()
	}
	msg = strings.ReplaceAll(msg, "client: ", "")
	return strings.Join(strings.Fields(msg), " ")
}
