package chaos

import (
	"fmt"
	"os"
	"os/exec"
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
	f := &firewall{table: fmt.Sprintf("mqstore_chaos_%d", os.Getpid())}
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
