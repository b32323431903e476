package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConsoleServesTLS: with tls.server.mode=enforcing the metrics and console port answers
// HTTPS only.
func TestConsoleServesTLS(t *testing.T) {
	p := startProcess(t, t.TempDir(), "-tls.server.mode", "enforcing")
	httpsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed
	resp, err := httpsClient.Get("https://" + p.metricsAddr + "/console/")
	if err != nil {
		t.Fatalf("https console: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "mqstore-console-token") {
		t.Fatalf("https console: %d %.200s", resp.StatusCode, page)
	}
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + p.metricsAddr + "/console/"); err == nil {
		resp.Body.Close()
		t.Fatalf("plaintext console answered %d in enforcing mode", resp.StatusCode)
	}
}

// TestNamesrvSecurityFlags: mqstore namesrv takes the broker's TLS and ACL keys.
func TestNamesrvSecurityFlags(t *testing.T) {
	cmd := exec.Command(binary(t), "namesrv", "-listen", "127.0.0.1:0", "-tls.server.mode", "enforcing")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case l := <-line:
		addr = strings.TrimPrefix(l, "mqstore: name server bound to ")
	case <-time.After(20 * time.Second):
		t.Fatal("mqstore namesrv did not start")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with the name server: %v", err)
	}
	conn.Close()
	plain, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}) // a plaintext frame
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := plain.Read(make([]byte, 16)); err == nil {
		t.Fatalf("enforcing name server answered %d plaintext bytes", n)
	}

	// aclEnable with a missing file is refused at start, naming it.
	missing := filepath.Join(t.TempDir(), "plain_acl.yml")
	out, err := exec.Command(binary(t), "namesrv", "-listen", "127.0.0.1:0", "-aclEnable", "-rocketmq.acl.plain.file", missing).CombinedOutput()
	if err == nil || !strings.Contains(string(out), missing) {
		t.Fatalf("namesrv with a missing ACL file: err %v, output %s", err, out)
	}
}
