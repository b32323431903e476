package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/bench/report"
)

// Sizes of the ceiling measurements: a 256 MiB mapped file, 200,000 echo
// frames pipelined 128 at a time, 2,000 round trips.
const (
	ceilingFileSize    = 256 << 20
	ceilingEchoFrames  = 200_000
	ceilingEchoWindow  = 128
	ceilingRoundTrips  = 2_000
	ceilingMaxEchoSize = 64 << 10
)

// MeasureCeilings measures the machine's limits for size-byte messages:
// copying them into a fresh (fallocated, not pre-touched) shared mapping of a
// file in dir (the temporary directory when empty), and echoing them over a
// loopback TCP connection, pipelined and one at a time.
func MeasureCeilings(size int, dir string) (*report.Ceilings, error) {
	c := &report.Ceilings{Size: size}
	rate, err := memcpyCeiling(size, dir)
	if err != nil {
		return nil, fmt.Errorf("memcpy: %w", err)
	}
	c.MemcpyMsgsPerSec, c.MemcpyMBPerSec = rate, rate*float64(size)/1e6
	echo, rtt, err := tcpEchoCeiling(min(size, ceilingMaxEchoSize))
	if err != nil {
		return nil, fmt.Errorf("tcp echo: %w", err)
	}
	c.TCPEchoPerSec, c.TCPEchoMBPerSec = echo, echo*float64(size)/1e6
	c.TCPRoundTripUs = float64(rtt) / 1e3
	return c, nil
}

// memcpyCeiling copies size-byte messages into a fresh mapped file and
// returns messages per second, page faults included.
func memcpyCeiling(size int, dir string) (float64, error) {
	f, err := os.CreateTemp(dir, "mqbench-ceiling-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, ceilingFileSize); err != nil {
		if err := f.Truncate(ceilingFileSize); err != nil {
			return 0, err
		}
	}
	m, err := unix.Mmap(int(f.Fd()), 0, ceilingFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	src := body(size)
	n := 0
	start := time.Now()
	for off := 0; off+size <= len(m); off += size {
		copy(m[off:off+size], src)
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// tcpEchoCeiling echoes size-byte frames (4-byte length + payload) over one
// loopback connection: pipelined (window of 128) for the rate, then one at a
// time for the round-trip p50.
func tcpEchoCeiling(size int) (perSec float64, rttP50 time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		r := bufio.NewReaderSize(c, 256<<10)
		w := bufio.NewWriterSize(c, 256<<10)
		buf := make([]byte, 4+size)
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				served <- nil
				return
			}
			w.Write(buf)
			if r.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					served <- err
					return
				}
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	frame := make([]byte, 4+size)
	binary.BigEndian.PutUint32(frame, uint32(size))
	r := bufio.NewReaderSize(conn, 256<<10)
	w := bufio.NewWriterSize(conn, 256<<10)
	in := make([]byte, 4+size)

	// Pipelined: keep the window full, reading as answers come.
	start := time.Now()
	sentN, recvN := 0, 0
	for recvN < ceilingEchoFrames {
		for sentN < ceilingEchoFrames && sentN-recvN < ceilingEchoWindow {
			w.Write(frame)
			sentN++
		}
		if err := w.Flush(); err != nil {
			conn.Close()
			return 0, 0, err
		}
		for recvN < sentN {
			if _, err := io.ReadFull(r, in); err != nil {
				conn.Close()
				return 0, 0, err
			}
			recvN++
			if r.Buffered() == 0 && sentN < ceilingEchoFrames {
				break
			}
		}
	}
	perSec = ceilingEchoFrames / time.Since(start).Seconds()

	// Ping-pong.
	rtts := make([]time.Duration, 0, ceilingRoundTrips)
	for i := 0; i < ceilingRoundTrips; i++ {
		t0 := time.Now()
		w.Write(frame)
		if err := w.Flush(); err != nil {
			conn.Close()
			return 0, 0, err
		}
		if _, err := io.ReadFull(r, in); err != nil {
			conn.Close()
			return 0, 0, err
		}
		rtts = append(rtts, time.Since(t0))
	}
	conn.Close()
	if err := <-served; err != nil {
		return 0, 0, err
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return perSec, rtts[len(rtts)/2], nil
}
