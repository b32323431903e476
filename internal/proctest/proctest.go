// Package proctest runs the project's binaries as child processes for integration tests: each
// binary is built once per test process, children start with the environment minus the
// MQSTORE_ variables (those are the tests' own knobs, not broker settings), their stderr is
// kept for failure messages, and every child is killed and reaped when its test ends.
package proctest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for a child's first line of output.
const StartTimeout = 60 * time.Second

var builds struct {
	sync.Mutex
	dir   string
	paths map[string]string // package path → binary
}

// Binary builds the main package pkg (an import path such as
// "github.com/mqstore/mqstore/cmd/mqstore") once per test process and returns the binary's path.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if path, ok := builds.paths[pkg]; ok {
		return path
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "mqstore-proctest")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.paths = dir, make(map[string]string)
	}
	path := filepath.Join(builds.dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	builds.paths[pkg] = path
	return path
}

// Proc is one child process. Start runs it; it can be signalled, killed and started again with
// the same arguments.
type Proc struct {
	t    testing.TB
	bin  string
	args []string

	cmd    *exec.Cmd
	stderr *lockedBuffer
	lines  chan string   // stdout lines until the first is taken (then dropped)
	exited chan struct{} // closed once the process was reaped
	err    error         // the exit error, set before exited closes
}

// New describes a child running bin with args; nothing runs until Start. The test's cleanup
// kills it if it is still running.
func New(t testing.TB, bin string, args ...string) *Proc {
	p := &Proc{t: t, bin: bin, args: args}
	t.Cleanup(p.Kill)
	return p
}

// Args are the arguments the process runs with.
func (p *Proc) Args() []string { return p.args }

// Start runs the process and returns at once; FirstLine waits for its start line.
func (p *Proc) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MQSTORE_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.stderr = &lockedBuffer{}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	p.lines = make(chan string, 1)
	cmd, exited, lines := p.cmd, p.exited, p.lines
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.err = cmd.Wait()
		close(exited)
	}()
}

// FirstLine waits for the first line the process prints on stdout (mqstore's start line) and
// fails the test when it exits or stays silent for StartTimeout.
func (p *Proc) FirstLine() string {
	p.t.Helper()
	select {
	case line := <-p.lines:
		return line
	case <-p.exited:
		p.t.Fatalf("%s %v exited at start: %s", filepath.Base(p.bin), p.args, p.Stderr())
	case <-time.After(StartTimeout):
		p.t.Fatalf("%s %v did not start: %s", filepath.Base(p.bin), p.args, p.Stderr())
	}
	return ""
}

// WaitListening waits until addr accepts TCP connections, failing the test if the process
// exits first or StartTimeout passes.
func (p *Proc) WaitListening(addr string) {
	p.t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s %v exited at start: %s", filepath.Base(p.bin), p.args, p.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s %v is not listening on %s: %s", filepath.Base(p.bin), p.args, addr, p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig to the running process.
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the process to exit (after a signal) and returns its exit error.
func (p *Proc) Wait() error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s %v did not exit: %s", filepath.Base(p.bin), p.args, p.Stderr())
		return nil
	}
}

// Exited is closed once the process has exited (nil before the first Start).
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill sends SIGKILL (and SIGCONT, for a stopped process) to a running process and waits for
// it; it does nothing when the process is not running.
func (p *Proc) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Process.Signal(syscall.SIGCONT)
	<-p.exited
}

// Stderr is what the process wrote to stderr so far (of its latest run).
func (p *Proc) Stderr() string {
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

// Tail returns the last n bytes of s, marked when cut (for logs in failure messages).
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// String describes the process for messages.
func (p *Proc) String() string { return fmt.Sprintf("%s %v", filepath.Base(p.bin), p.args) }

// brokerStartLine is mqstore's broker start line: name, bound address, advertised address.
var brokerStartLine = regexp.MustCompile(`^mqstore: broker (\S+) bound to (\S+) \(advertised as (\S+)\);`)

// BrokerStarted waits for an mqstore broker process's start line and returns the broker's
// name and advertised client address, failing the test when the line is not a broker's.
func (p *Proc) BrokerStarted() (name, addr string) {
	p.t.Helper()
	line := p.FirstLine()
	m := brokerStartLine.FindStringSubmatch(line)
	if m == nil {
		p.t.Fatalf("%s: not a broker start line: %q; stderr: %s", p, line, Tail(p.Stderr(), 20))
	}
	return m[1], m[3]
}

var instanceSeq atomic.Int64

// Instance returns a client instance name unique in this test process (clients of one process
// share state by instance name in rocketmq-client-go).
func Instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), instanceSeq.Add(1))
}
