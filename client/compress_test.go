package client_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/klauspost/compress/zstd"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// TestCompressedBodies: a body over the threshold is stored zlib-compressed and flagged; our pull
// consumer and rocketmq-client-go's decoder both get the original body back.
func TestCompressedBodies(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "Zipped", 1)
	p := newProducer(t, s, client.WithGroup("zp"))
	ctx := ctxT(t)
	big := []byte(strings.Repeat(`{"order":1234,"status":"created","items":[1,2,3]}`, 200)) // ~10 KiB
	small := []byte("tiny")
	for _, body := range [][]byte{big, small} {
		msg := message.New("Zipped", body)
		msg.QueueID = 0
		if _, err := p.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsumer(t, s, client.WithGroup("zc"))
	got := pullAll(t, c, "Zipped", 2)
	if len(got) != 2 || !bytes.Equal(got[0].Body, big) || !bytes.Equal(got[1].Body, small) {
		t.Fatalf("pulled %d messages; bodies match: %v", len(got), len(got) == 2 && bytes.Equal(got[0].Body, big))
	}
	if got[0].SysFlag&message.SysFlagCompressed == 0 || got[1].SysFlag&message.SysFlagCompressed != 0 {
		t.Fatalf("sysflags %#x %#x: only the big body is compressed", got[0].SysFlag, got[1].SysFlag)
	}
	if int(got[0].StoreSize) > len(big)/4 {
		t.Fatalf("stored record of %d bytes for a %d-byte body: not compressed", got[0].StoreSize, len(big))
	}
	// The real RocketMQ Go client inflates our stored record.
	raw, err := s.b.Store().ReadRaw(got[0].CommitLogOffset)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Release()
	decoded := primitive.DecodeMessage(bytes.Clone(raw.Bytes))
	if len(decoded) != 1 || !bytes.Equal(decoded[0].Body, big) {
		t.Fatal("rocketmq-client-go does not read our compressed body back")
	}
}

// TestZstdBodies: a body a RocketMQ 5 producer compressed with zstd is inflated for consumers.
func TestZstdBodies(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "Zstd", 1)
	p := newProducer(t, s, client.WithGroup("zsp"), client.WithCompressOver(0))
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("zstd body ", 500))
	msg := message.New("Zstd", enc.EncodeAll(body, nil))
	msg.QueueID = 0
	msg.SysFlag = message.SysFlagCompressed | message.CompressionZSTD
	if _, err := p.Send(ctxT(t), msg); err != nil {
		t.Fatal(err)
	}
	got := pullAll(t, newConsumer(t, s, client.WithGroup("zsc")), "Zstd", 1)
	if len(got) != 1 || !bytes.Equal(got[0].Body, body) {
		t.Fatal("zstd body not inflated")
	}
}
