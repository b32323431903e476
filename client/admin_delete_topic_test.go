package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

func TestAdminDeleteTopic(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	ctx := ctxT(t)
	createTopic(t, s, a, "Doomed", 2)
	createTopic(t, s, a, "Kept", 2)
	p := newProducer(t, s)
	if _, err := p.Send(ctx, message.New("Doomed", []byte("v"))); err != nil {
		t.Fatal(err)
	}
	waitDispatch(t, s)

	if err := a.DeleteTopic(ctx, "Doomed"); err != nil {
		t.Fatal(err)
	}
	topics, err := a.TopicList(ctx)
	if err != nil || slices.Contains(topics, "Doomed") || !slices.Contains(topics, "Kept") {
		t.Fatalf("topics after the delete: %v %v", topics, err)
	}
	if _, err := a.TopicStats(ctx, "Doomed"); !errors.Is(err, client.ErrTopicNotExist) {
		t.Fatalf("stats of the deleted topic: %v", err)
	}
	for _, q := range s.b.Store().Queues() {
		if q.Topic == "Doomed" {
			t.Fatalf("the store still has queue %+v", q)
		}
	}
	// A topic nobody has: the brokers and name servers answer success.
	if err := a.DeleteTopic(ctx, "NeverExisted"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteTopic(ctx, ""); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("empty topic: %v", err)
	}
}
