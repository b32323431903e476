package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// firewall partitions replicas with nftables rules on lo, in a table of its own that it creates
// at start and deletes at cleanup: nothing outside that table is touched. Rules sit on the input
// hook and DROP, so a sender's packets leave and vanish (a hang, as on a real network, not the
// immediate error an output-hook drop gives). Rules match source and destination aliases
// (127.0.0.11-13), so the clients, which connect from 127.0.0.1, keep reaching every replica.
type firewall struct {
	table string
}

// newFirewall creates the table, or returns nil and why partitions are unavailable.
func newFirewall(t testing.TB) (*firewall, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, "nftables partitions need root"
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, "nftables partitions need the nft command (Debian: apt-get install nftables)"
	}
	removeStaleTables()
	f := &firewall{table: fmt.Sprintf("%s%d", tablePrefix, os.Getpid())}
	if err := f.nft("add table inet " + f.table); err != nil {
		return nil, err.Error()
	}
	t.Cleanup(func() {
		if err := f.nft("delete table inet " + f.table); err != nil {
			t.Errorf("remove the test's nft table: %v", err)
		}
	})
	if err := f.nft("add chain inet " + f.table + " in { type filter hook input priority 0 ; policy accept ; }"); err != nil {
		return nil, err.Error()
	}
	return f, ""
}

// tablePrefix names the harness's tables; the suffix is the pid of the test process.
const tablePrefix = "mqstore_chaos_"

// removeStaleTables deletes the harness's tables left by test processes that no longer exist
// (a run killed before its cleanup); other tables are never touched.
func removeStaleTables() {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "table inet "+tablePrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(name)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			exec.Command("nft", "delete", "table", "inet", tablePrefix+name).Run()
		}
	}
}

func (f *firewall) nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft %q: %v: %s", script, err, out)
	}
	return nil
}

// drop drops every packet from one alias to another (one direction).
func (f *firewall) drop(from, to string) error {
	return f.nft(fmt.Sprintf("add rule inet %s in ip saddr %s ip daddr %s drop", f.table, from, to))
}

// heal removes every rule (the table and its chain stay until cleanup).
func (f *firewall) heal() error {
	return f.nft("flush chain inet " + f.table + " in")
}

// rules lists the chain, for messages.
func (f *firewall) rules() string {
	out, _ := exec.Command("nft", "list", "chain", "inet", f.table, "in").CombinedOutput()
	return string(out)
}
