package broker

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// recordingRegistrar keeps the registrations it receives.
type recordingRegistrar struct {
	mu   sync.Mutex
	regs []namesrv.Registration
	gone int
}

func (r *recordingRegistrar) Register(_ context.Context, reg namesrv.Registration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs = append(r.regs, reg)
	return nil
}

func (r *recordingRegistrar) Unregister(context.Context, namesrv.Registration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gone++
	return nil
}

func (r *recordingRegistrar) last() namesrv.Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.regs[len(r.regs)-1]
}

func TestUpdateAndCreateTopic(t *testing.T) {
	reg := &recordingRegistrar{}
	tb := startBroker(t, nil, func(o *Options) { o.Registrar = reg })
	create := func(ext ...string) *remoting.Command {
		return tb.call(remoting.RequestUpdateAndCreateTopic, nil, ext...)
	}
	expect(t, create("topic", "Eight", "defaultTopic", "defaultTopic", "readQueueNums", "8", "writeQueueNums", "8",
		"perm", "6", "topicFilterType", "SINGLE_TAG", "topicSysFlag", "0", "order", "false"), remoting.ResponseSuccess)
	tc, ok := tb.topics.get("Eight")
	if !ok || tc.ReadQueueNums != 8 || tc.WriteQueueNums != 8 || tc.Perm != 6 {
		t.Fatalf("topic %+v %v", tc, ok)
	}
	// Registered before the answer, with the broker's address.
	got := reg.last()
	if got.Topics["Eight"].WriteQueueNums != 8 || got.BrokerAddr != tb.Addr() || got.BrokerName != "broker-a" {
		t.Fatalf("registration %+v", got)
	}
	// The queues' first files exist before the answer: the topic's first messages create none.
	for q := range 8 {
		if _, err := os.Stat(filepath.Join(tb.dir, "consumequeue", "Eight", strconv.Itoa(q), mapped.FileName(0))); err != nil {
			t.Fatalf("queue %d after UPDATE_AND_CREATE_TOPIC: %v", q, err)
		}
	}
	// Update: fewer queues, read only.
	expect(t, create("topic", "Eight", "readQueueNums", "2", "writeQueueNums", "2", "perm", "4"), remoting.ResponseSuccess)
	if tc, _ := tb.topics.get("Eight"); tc.WriteQueueNums != 2 || tc.Perm != 4 {
		t.Fatalf("updated topic %+v", tc)
	}
	tests := []struct {
		name string
		ext  []string
		code remoting.ResponseCode
	}{
		{"bad name", []string{"topic", "a/b", "readQueueNums", "1", "writeQueueNums", "1"}, remoting.ResponseInvalidParameter},
		{"cluster name", []string{"topic", "DefaultCluster", "readQueueNums", "1", "writeQueueNums", "1"}, remoting.ResponseSystemError},
		{"zero queues", []string{"topic", "Z", "readQueueNums", "0", "writeQueueNums", "1"}, remoting.ResponseInvalidParameter},
		{"too many queues", []string{"topic", "Z", "readQueueNums", "1", "writeQueueNums", "5000"}, remoting.ResponseInvalidParameter},
		{"bad perm", []string{"topic", "Z", "readQueueNums", "1", "writeQueueNums", "1", "perm", "16"}, remoting.ResponseInvalidParameter},
		{"no queue counts", []string{"topic", "Z"}, remoting.ResponseSystemError},
		{"no topic", nil, remoting.ResponseSystemError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expect(t, create(tt.ext...), tt.code) })
	}
}
