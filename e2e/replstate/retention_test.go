package replstate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// retSegment is the commitlog segment size of the retention rig.
const retSegment = 64 << 10

// storeDir is the replica's storePathRootDir (from its command line).
func (r *replica) storeDir(t *testing.T) string {
	t.Helper()
	args := r.Args()
	for i, a := range args {
		if a == "-storePathRootDir" && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatal("no -storePathRootDir")
	return ""
}

// segments lists the start offsets of the replica's Raft commitlog segments, ascending.
func (r *replica) segments(t *testing.T) []int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(r.storeDir(t), "raft", "commitlog"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range entries {
		if off, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && len(e.Name()) == mapped.NameLen {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	return out
}

// base is the replica's Raft log base (raftmeta's startPhys): where its records start.
func (r *replica) base(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.storeDir(t), "raft", "raftmeta"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		StartPhys int64 `json:"startPhys"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.StartPhys
}

// queueOffset asks one replica a queue's min or max offset.
func (g *group) queueOffset(addr string, code remoting.RequestCode, topic string) int64 {
	g.t.Helper()
	req := remoting.NewRequest(code)
	req.SetExt(protocol.FieldTopic, topic)
	req.SetExt(protocol.FieldQueueID, "0")
	resp, err := g.call(addr, req)
	if err != nil {
		g.t.Fatalf("%v of %s at %s: %v", code, topic, addr, err)
	}
	defer resp.Release()
	off, err := resp.GetInt64(protocol.FieldOffset)
	if resp.ResponseCode() != remoting.ResponseSuccess || err != nil {
		g.t.Fatalf("%v of %s at %s: code %d %s %v", code, topic, addr, resp.ResponseCode(), resp.Remark, err)
	}
	return off
}

// bodiesFrom pulls queue 0 of topic from the replica at addr from offset to its end and returns
// the bodies' sequence prefixes; ok is false when the replica moved its minimum past offset.
func (g *group) bodiesFrom(addr, topic string, offset int64) (out []string, ok bool) {
	g.t.Helper()
	for {
		req := remoting.NewRequest(remoting.RequestPullMessage)
		req.SetExt(protocol.FieldConsumerGroup, "rs-r-check")
		req.SetExt(protocol.FieldTopic, topic)
		req.SetExt(protocol.FieldQueueID, "0")
		req.SetExtInt64(protocol.FieldQueueOffset, offset)
		req.SetExt(protocol.FieldMaxMsgNums, "32")
		req.SetExt(protocol.FieldSysFlag, "0")
		req.SetExt(protocol.FieldCommitOffset, "0")
		req.SetExt(protocol.FieldSuspendTimeoutMillis, "0")
		req.SetExt(protocol.FieldSubscription, "*")
		req.SetExt(protocol.FieldSubVersion, "0")
		resp, err := g.call(addr, req)
		if err != nil {
			g.t.Fatalf("pull %s at %d from %s: %v", topic, offset, addr, err)
		}
		switch code := resp.ResponseCode(); code {
		case remoting.ResponseSuccess:
		case remoting.ResponsePullNotFound:
			resp.Release()
			return out, true
		case remoting.ResponsePullOffsetMoved, remoting.ResponsePullRetryImmediately:
			resp.Release()
			return out, false
		default:
			resp.Release()
			g.t.Fatalf("pull %s at %d from %s: code %d %s", topic, offset, addr, code, resp.Remark)
		}
		for body := resp.Body; len(body) > 0; {
			var rec message.Record
			n, err := message.DecodeRecord(body, &rec, true)
			if err != nil {
				g.t.Fatalf("pull from %s: %v", addr, err)
			}
			out = append(out, string(rec.Body[:7]))
			body = body[n:]
		}
		next, err := resp.GetInt64(protocol.FieldNextBeginOffset)
		resp.Release()
		if err != nil || next <= offset {
			return out, true
		}
		offset = next
	}
}

// TestRetentionAndSnapshot: real processes with 64 KiB segments and a disk "above"
// diskMaxUsedSpaceRatio (10 %: the store deletes its oldest segments by force). Old Raft
// commitlog segments go on every replica while the unmodified producer sends; a follower
// SIGKILLed meanwhile finds the leader compacted past its log when it restarts, installs a
// snapshot, serves the queue from there as the leader does, and its commitlog is byte-identical
// to the leader's from its base on.
func TestRetentionAndSnapshot(t *testing.T) {
	const topic = "RSRet"
	g := startGroup(t, "rs-r", 61, "-mappedFileSizeCommitLog", "64k", "-maxMessageSize", "16k",
		"-diskMaxUsedSpaceRatio", "10", "-cleanResourceInterval", "200")
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 1, WriteQueueNums: 1,
		Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	p := g.producer(t, "rs-rp", "rp", producer.WithRetry(2))
	pad := strings.Repeat("p", 1000)
	sent := 0
	send := func(n int) {
		t.Helper()
		for range n {
			body := fmt.Sprintf("%07d%s", sent, pad)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send %d: %v %v", sent, res, err)
			}
			sent++
		}
	}
	send(400) // about 7 segments
	for _, r := range g.replicas {
		waitFor(t, 30*time.Second, "old segments deleted on "+r.addr, func() bool {
			segs := r.segments(t)
			return len(segs) > 0 && segs[0] > 2*retSegment
		})
	}
	var victim *replica
	for _, r := range g.replicas {
		if r.addr != leader {
			victim = r
		}
	}
	victimSegs := victim.segments(t)
	victimEnd := victimSegs[len(victimSegs)-1] + retSegment
	victim.Kill()
	t.Logf("SIGKILLed follower %s, its log ends before %d", victim.addr, victimEnd)
	send(400)
	var lead *replica
	for _, r := range g.replicas {
		if r.addr == leader {
			lead = r
		}
	}
	waitFor(t, 30*time.Second, "the leader compacted past the stopped follower", func() bool {
		return lead.segments(t)[0] > victimEnd
	})
	victim.Start()
	victim.BrokerStarted()
	waitFor(t, 30*time.Second, "the follower installed a snapshot", func() bool {
		return strings.Contains(victim.Stderr(), "broker: installed a snapshot")
	})
	send(50)
	p.Shutdown()
	waitFor(t, 30*time.Second, "every message on the follower", func() bool {
		return g.queueOffset(victim.addr, remoting.RequestGetMaxOffset, topic) == int64(sent)
	})
	// The follower serves from its minimum what the leader serves there (both go on deleting
	// old segments: compare from the higher minimum, again if one moved meanwhile).
	var got, want []string
	var from int64
	waitFor(t, 30*time.Second, "the same messages on the follower and the leader", func() bool {
		from = max(g.queueOffset(victim.addr, remoting.RequestGetMinOffset, topic), g.queueOffset(leader, remoting.RequestGetMinOffset, topic))
		var ok1, ok2 bool
		got, ok1 = g.bodiesFrom(victim.addr, topic, from)
		want, ok2 = g.bodiesFrom(leader, topic, from)
		return ok1 && ok2 && len(got) > 0 && slices.Equal(got, want)
	})
	if from <= 0 || got[0] != fmt.Sprintf("%07d", from) || got[len(got)-1] != fmt.Sprintf("%07d", sent-1) {
		t.Fatalf("the follower serves %s..%s from queue offset %d, %d sent", got[0], got[len(got)-1], from, sent)
	}
	t.Logf("the follower serves queue offsets [%d, %d) after its snapshot, as the leader", from, sent)
	// Commitlogs byte-identical from the follower's base on, over the segments both hold.
	waitFor(t, 30*time.Second, "byte-identical commitlogs", func() bool {
		start := max(victim.base(t), lead.base(t))
		compared := 0
		for _, seg := range victim.segments(t) {
			if seg+retSegment <= start {
				continue
			}
			a, errA := os.ReadFile(filepath.Join(victim.storeDir(t), "raft", "commitlog", mapped.FileName(seg)))
			b, errB := os.ReadFile(filepath.Join(lead.storeDir(t), "raft", "commitlog", mapped.FileName(seg)))
			if errA != nil || errB != nil {
				continue // deleted meanwhile by retention
			}
			lo := max(start-seg, 0)
			if !bytes.Equal(a[lo:], b[lo:]) {
				return false
			}
			compared++
		}
		return compared > 0
	})
}
