package proctest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Ports handed to children are picked by the test and bound later by the child, so two things can
// take one in between: an outgoing connection of any process (the kernel gives those a port from
// the ephemeral range, net.ipv4.ip_local_port_range) and another test binary that picked the same
// port (go test runs packages in parallel). FreePort therefore picks outside the ephemeral range,
// which outgoing connections never use, and reserves the port for the test's life with a lock file
// that the other test binaries on the machine respect.

// portLockDir holds one file per reserved port; a file older than portLockStale belongs to a test
// binary that died without its cleanup and is taken over.
var portLockDir = filepath.Join(os.TempDir(), "mqstore-test-ports")

const portLockStale = time.Hour

// FreePort returns a TCP port that is free on 127.0.0.1 and reserved for t (see FreePortOn).
func FreePort(t testing.TB) int { return FreePortOn(t, "127.0.0.1") }

// FreePortOn returns a TCP port that is free on ip (a loopback address or alias), outside the
// kernel's ephemeral range and reserved against the other test binaries until t ends.
func FreePortOn(t testing.TB, ip string) int {
	t.Helper()
	lo, hi := reservedRange()
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		lock := filepath.Join(portLockDir, strconv.Itoa(port))
		if !takeLock(lock) {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			os.Remove(lock)
			continue
		}
		ln.Close()
		t.Cleanup(func() { os.Remove(lock) })
		return port
	}
	t.Fatalf("no free port on %s in [%d, %d) after 1000 tries", ip, lo, hi)
	return 0
}

// FreeAddr returns ip:port with a port from FreePortOn.
func FreeAddr(t testing.TB, ip string) string {
	t.Helper()
	return net.JoinHostPort(ip, strconv.Itoa(FreePortOn(t, ip)))
}

// takeLock creates the lock file, taking over one left stale by a dead test binary.
func takeLock(path string) bool {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
		f.Close()
		return true
	}
	if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) > portLockStale {
		os.Remove(path)
	}
	return false
}

// reservedRange is the port range below the ephemeral one (at least 10000 ports; with an
// ephemeral range that leaves no room below it, the range above).
func reservedRange() (lo, hi int) {
	eLo, eHi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if a, err := strconv.Atoi(f[0]); err == nil {
				if z, err := strconv.Atoi(f[1]); err == nil {
					eLo, eHi = a, z
				}
			}
		}
	}
	if eLo-10000 >= 10000 {
		return 10000, eLo
	}
	return eHi + 1, 65536
}
