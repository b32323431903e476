package bench

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// modeInfo describes a mode for the help text: a one-line summary, a
// paragraph, and the flags it reads (in the order they are listed).
type modeInfo struct {
	name    string
	summary string
	detail  string
	flags   []string
}

// Flag groups shared by several modes.
var (
	workloadFlags = []string{"size", "n", "duration"}
	wireFlags     = []string{"topics", "queues", "topic", "addr", "keep", "flush", "segment", "resident", "dir", "header", "ak", "sk", "tls"}
	outputFlags   = []string{"json", "plot", "quiet", "ceilings", "cpuprofile"}
)

func flagList(groups ...[]string) []string {
	var all []string
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// modes lists every mode in the order of the usage text.
var modes = []modeInfo{
	{
		name:    ModeStore,
		summary: "put messages straight into a store in this process (no network)",
		detail: `Producers call Put (PutBatch with -batch > 1, or Prepare+Commit with -txn) on a store
opened in -dir. Every put is acknowledged by the store; at the end the queues must hold
every message.`,
		flags: flagList(workloadFlags, []string{"producers", "batch", "topics", "queues", "topic", "txn", "flush", "segment", "dir"}, outputFlags),
	},
	{
		name:    ModeProduce,
		summary: "producers send to a broker over the wire and count acknowledgements",
		detail: `Producers send with -window sends in flight each (or -batch messages per send). The broker
is started in this process unless -addr names a running name server; its topics are
created for the run and, with -addr, deleted at the end unless -keep. At the end the
queues must hold every acknowledged message.`,
		flags: flagList(workloadFlags, []string{"producers", "window", "batch"}, wireFlags, outputFlags),
	},
	{
		name:    ModeConsume,
		summary: "fill the topics, then pull them all back; the report covers the pulls",
		detail: `The topics are filled first (-n messages, or what the producers send in -duration, not
measured), then -consumers connections pull every queue until every message arrived.
Latency is each pull's round trip.`,
		flags: flagList(workloadFlags, []string{"producers", "window", "batch", "consumers"}, wireFlags, outputFlags),
	},
	{
		name:    ModeTxn,
		summary: "transactional producers: half message, local transaction, end, check-back",
		detail: `Transactional producers send half messages; the local transaction commits -commit percent,
rolls back -rollback percent and leaves the rest unknown, which the broker's check-back
resolves with -check. Then the topics are consumed: the messages received must equal the
transactions committed.`,
		flags: flagList(workloadFlags, []string{"producers", "window", "commit", "rollback", "check", "consumers"}, wireFlags, outputFlags),
	},
	{
		name:    ModeE2E,
		summary: "produce and consume at once; latency from each send to its receipt",
		detail: `Producers (paced to -rate msgs/s in all when set) and consumers run together; each body
carries its send time, so the latency is each message's age when it is received.`,
		flags: flagList(workloadFlags, []string{"producers", "window", "batch", "rate", "consumers"}, wireFlags, outputFlags),
	},
	{
		name:    ModePeer,
		summary: "the produce workload against NATS JetStream (file storage), for comparison",
		detail: `Runs the produce workload against an embedded NATS JetStream server in a subprocess built
from the nested module bench/peer (needs the go command, or -peer-bin).`,
		flags: flagList(workloadFlags, []string{"producers", "window", "flush", "dir", "peer-dir", "peer-bin", "json", "quiet", "ceilings"}),
	},
	{
		name:    ModeCeilings,
		summary: "the machine's limits: memcpy into a mapped file, loopback TCP echo",
		detail: `Measures what no broker can beat on this machine for -size messages: copies into a fresh
mapped file, and a pipelined echo over one loopback TCP connection (with its round trip).`,
		flags: []string{"size", "dir", "json"},
	},
}

func modeByName(name string) (modeInfo, bool) {
	for _, m := range modes {
		if m.name == name {
			return m, true
		}
	}
	return modeInfo{}, false
}

// Modes returns the names of the modes, in the order of the usage text.
func Modes() []string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = m.name
	}
	return names
}

// Usage writes mqbench's usage: how to call it and one line per mode.
func Usage(w io.Writer) {
	fmt.Fprint(w, `usage: mqbench MODE [flags]   run a benchmark
       mqbench help [MODE]    this text, or a mode's description and flags (also: mqbench MODE -h)
       mqbench -version       the build

`)
	ModeList(w)
	fmt.Fprint(w, `
Wire modes (produce, consume, txn, e2e) start a name server and a broker in this process unless
-addr names a running one; then the run's topics are deleted at the end unless -keep.
Progress and the report go to stdout; with -json stdout gets only the JSON object, the rest
goes to stderr. Run "mqbench help MODE" for a mode's flags.
`)
}

// ModeList writes the modes, one line each.
func ModeList(w io.Writer) {
	fmt.Fprintln(w, "modes:")
	for _, m := range modes {
		fmt.Fprintf(w, "  %-9s %s\n", m.name, m.summary)
	}
}

// ModeUsage writes mode's description and its flags only. An unknown mode
// is ErrUnknownMode.
func ModeUsage(w io.Writer, mode string) error {
	info, ok := modeByName(mode)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownMode, mode)
	}
	cfg := Defaults(mode)
	fs := cfg.flagSet()
	fmt.Fprintf(w, "usage: mqbench %s [flags]\n\n%s: %s.\n\n", mode, mode, info.summary)
	for _, line := range strings.Split(info.detail, "\n") {
		fmt.Fprintf(w, "%s\n", line)
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs.SetOutput(w)
	// In the mode's order, not flag's alphabetical one.
	for _, name := range info.flags {
		f := fs.Lookup(name)
		fmt.Fprintf(w, "  -%s%s\n    \t%s%s\n", f.Name, argName(f), f.Usage, defaultText(f))
	}
	return nil
}

// argName is the placeholder of a flag's value in the help ("" for a bool).
func argName(f *flag.Flag) string {
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		return ""
	}
	name, _ := flag.UnquoteUsage(f)
	return " " + name
}

// defaultText is " (default X)" unless the default is the zero value.
func defaultText(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return ""
	}
	if argName(f) == " string" {
		return fmt.Sprintf(" (default %q)", f.DefValue)
	}
	return fmt.Sprintf(" (default %s)", f.DefValue)
}
