package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/bench"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
)

// mqbench runs the command with args and returns its exit code and output.
func mqbench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// flagLine matches a flag in the help: "  -name" at the start of a line.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z-]+)`)

func TestHelp(t *testing.T) {
	var first string
	for _, arg := range []string{"-h", "-help", "--help", "help"} {
		code, stdout, stderr := mqbench(t, arg)
		if code != 0 || stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, stderr)
		}
		if first == "" {
			first = stdout
		} else if stdout != first {
			t.Fatalf("%s prints other help than -h:\n%s", arg, stdout)
		}
	}
	for _, want := range []string{"usage: mqbench MODE [flags]", "mqbench help [MODE]", "mqbench -version", "-json", "-keep"} {
		if !strings.Contains(first, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	// One line per mode, with a description.
	for _, mode := range bench.Modes() {
		if !regexp.MustCompile(`(?m)^  ` + mode + ` +\S.{20,}$`).MatchString(first) {
			t.Errorf("help has no line describing %s:\n%s", mode, first)
		}
	}
	// Without arguments: the usage, on stderr, and a usage error.
	code, stdout, stderr := mqbench(t)
	if code != 2 || stdout != "" || stderr != first {
		t.Fatalf("no arguments: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestModeHelp(t *testing.T) {
	all := map[string]bool{}
	helps := map[string]string{}
	for _, mode := range bench.Modes() {
		code, stdout, stderr := mqbench(t, "help", mode)
		if code != 0 || stderr != "" {
			t.Fatalf("help %s: exit %d, stderr %q", mode, code, stderr)
		}
		for _, arg := range []string{"-h", "--help", "-help"} {
			code, viaFlag, stderr := mqbench(t, mode, arg)
			if code != 0 || stderr != "" || viaFlag != stdout {
				t.Fatalf("%s %s: exit %d, stderr %q, output differs from help %s:\n%s", mode, arg, code, stderr, mode, viaFlag)
			}
		}
		if !strings.HasPrefix(stdout, "usage: mqbench "+mode+" [flags]\n") {
			t.Fatalf("help %s:\n%s", mode, stdout)
		}
		helps[mode] = stdout
		for _, m := range flagLine.FindAllStringSubmatch(stdout, -1) {
			all[m[1]] = true
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d flags in all the modes' help", len(all))
	}
	// A mode's help lists exactly the flags the mode accepts.
	for mode, help := range helps {
		listed := map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			listed[m[1]] = true
		}
		for name := range all {
			_, err := bench.ParseArgs([]string{mode, "-" + name + "=1"})
			accepted := err == nil || !strings.Contains(err.Error(), "flag provided but not defined")
			if accepted != listed[name] {
				t.Errorf("%s: -%s accepted %v, listed in its help %v", mode, name, accepted, listed[name])
			}
		}
	}
	// Spot checks of flags that belong to one mode.
	for _, c := range []struct {
		mode, flag string
		want       bool
	}{
		{"store", "txn", true}, {"produce", "txn", false}, {"txn", "commit", true}, {"produce", "commit", false},
		{"e2e", "rate", true}, {"produce", "rate", false}, {"peer", "peer-bin", true}, {"produce", "peer-bin", false},
		{"ceilings", "producers", false}, {"produce", "keep", true}, {"store", "keep", false}, {"store", "addr", false},
	} {
		if got := strings.Contains(helps[c.mode], "\n  -"+c.flag+" ") || strings.Contains(helps[c.mode], "\n  -"+c.flag+"\n"); got != c.want {
			t.Errorf("help %s lists -%s: %v, want %v", c.mode, c.flag, got, c.want)
		}
	}
}

func TestUnknownMode(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"help", "bogus"}, {"bogus", "-h"}} {
		code, stdout, stderr := mqbench(t, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, `unknown mode "bogus"`) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		for _, mode := range bench.Modes() {
			if !strings.Contains(stderr, "\n  "+mode+" ") {
				t.Errorf("%q: the error does not list mode %s:\n%s", args, mode, stderr)
			}
		}
	}
	// A flag of another mode, or a bad value: the reason and where to look.
	for _, args := range [][]string{{"produce", "-txn"}, {"produce", "-flush", "never"}} {
		code, stdout, stderr := mqbench(t, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, `Run "mqbench help produce" for its flags.`) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"-version", "--version", "version"} {
		code, stdout, stderr := mqbench(t, arg)
		if code != 0 || stderr != "" || !regexp.MustCompile(`^mqbench \S+ commit \S+ go\S+\n$`).MatchString(stdout) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", arg, code, stdout, stderr)
		}
	}
}

// With -json, stdout is one JSON object and nothing else (so `| jq .`
// works); progress and the text report go to stderr.
func TestJSONOnlyOnStdout(t *testing.T) {
	dir := t.TempDir()
	plot := filepath.Join(dir, "run.svg")
	for _, args := range [][]string{
		{"store", "-n", "300", "-size", "64", "-segment", "8388608", "-dir", dir, "-json", "-plot", plot},
		{"produce", "-n", "300", "-size", "64", "-segment", "8388608", "-queues", "2", "-dir", dir, "-json"},
		{"ceilings", "-size", "64", "-dir", dir, "-json"},
	} {
		code, stdout, stderr := mqbench(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, stderr)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(stdout), &obj); err != nil {
			t.Fatalf("%q: stdout is not one JSON object: %v\n%s", args, err, stdout)
		}
		if obj["mode"] != args[0] || strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
			t.Fatalf("%q: stdout %s", args, stdout)
		}
		if !strings.Contains(stderr, "== mqstore "+args[0]) {
			t.Fatalf("%q: stderr lacks the text report:\n%s", args, stderr)
		}
		if args[0] != "ceilings" && obj["messages"] != 300.0 {
			t.Fatalf("%q: messages %v", args, obj["messages"])
		}
	}
	// The short store run still plotted.
	svg, err := os.ReadFile(plot)
	if err != nil || strings.Count(string(svg), "<polyline") != 5 {
		t.Fatalf("plot: %v, %d polylines", err, strings.Count(string(svg), "<polyline"))
	}
	// Without -json the report goes to stdout.
	code, stdout, stderr := mqbench(t, "store", "-n", "100", "-size", "64", "-segment", "8388608", "-dir", dir, "-quiet")
	if code != 0 || !strings.Contains(stdout, "== mqstore store") || strings.Contains(stdout, "{") || stderr != "" {
		t.Fatalf("text run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// Against a running server (-addr), a run deletes the topics it created
// unless -keep.
func TestKeep(t *testing.T) {
	srv := testserver.Start(t, nil)
	admin, err := client.NewAdmin(client.WithNameServer(srv.NameServer))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	benchTopics := func() []string {
		topics, err := admin.TopicList(context.Background())
		if err != nil && !errors.Is(err, client.ErrTopicNotExist) {
			t.Fatal(err)
		}
		return slices.DeleteFunc(topics, func(s string) bool { return !strings.HasPrefix(s, "CLIBench") })
	}
	run := func(extra ...string) map[string]any {
		args := append([]string{"produce", "-addr", srv.NameServer, "-topic", "CLIBench", "-topics", "2", "-queues", "2",
			"-n", "100", "-size", "64", "-json"}, extra...)
		code, stdout, stderr := mqbench(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, stderr)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(stdout), &obj); err != nil {
			t.Fatalf("stdout: %v\n%s", err, stdout)
		}
		return obj
	}
	rep := run()
	if left := benchTopics(); len(left) != 0 {
		t.Fatalf("topics left without -keep: %q (report %v)", left, rep)
	}
	if c, _ := rep["cleanup"].(string); !strings.HasPrefix(c, "deleted 2 of 2 topics") {
		t.Fatalf("cleanup %q", c)
	}
	rep = run("-keep")
	if left := benchTopics(); len(left) != 2 {
		t.Fatalf("topics after -keep: %q (report %v)", left, rep)
	}
	if c, _ := rep["cleanup"].(string); !strings.HasPrefix(c, "kept topics CLIBench-") {
		t.Fatalf("cleanup %q", c)
	}
}

// The README's mqbench section lists every mode with the summary the help
// prints, and mentions the flags the help promises.
func TestREADMEMatchesHelp(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("no README:", err)
	}
	_, help, _ := mqbench(t, "help")
	summary := regexp.MustCompile(`(?m)^  ([a-z0-9]+) +(\S.*)$`)
	n := 0
	for _, m := range summary.FindAllStringSubmatch(help, -1) {
		n++
		if row := "| `" + m[1] + "` | " + m[2] + " |"; !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row %s", row)
		}
	}
	if n != len(bench.Modes()) {
		t.Fatalf("%d mode lines in the help", n)
	}
	for _, want := range []string{"mqbench help MODE", "mqbench MODE -h", "mqbench -version", "-keep", "-json"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README lacks %q", want)
		}
	}
}

// TestSignedRun: against a broker with aclEnable, a run without credentials fails (its sends are
// refused) and the same run with -ak/-sk of an admin account succeeds and cleans up.
func TestSignedRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte("globalWhiteRemoteAddresses:\naccounts:\n  - accessKey: benchadmin\n    secretKey: bench-secret-1\n    admin: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, func(c *broker.Config) {
		c.Security.AclEnable = true
		c.Security.AclFile = path
	})
	args := []string{"produce", "-addr", srv.NameServer, "-topic", "CLISigned", "-topics", "1", "-queues", "2",
		"-n", "50", "-size", "64", "-json"}
	if code, _, _ := mqbench(t, args...); code == 0 {
		t.Fatal("an unsigned run against an ACL broker succeeded")
	}
	code, stdout, stderr := mqbench(t, append(args, "-ak", "benchadmin", "-sk", "bench-secret-1")...)
	if code != 0 {
		t.Fatalf("signed run: exit %d\n%s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout)
	}
	if n, _ := rep["messages"].(float64); n != 50 {
		t.Fatalf("messages %v in %s", rep["messages"], stdout)
	}
}
