// Command quickstart produces and consumes a few messages through a running mqstore server with
// the unmodified RocketMQ Go client. Start the server with `make run`, then `go run ./examples/quickstart`.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	rlog.SetLogLevel("error")
	nameServer := []string{"127.0.0.1:9876"}

	p, err := rocketmq.NewProducer(producer.WithNameServer(nameServer), producer.WithGroupName("quickstart-producer"))
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Start(); err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown()
	for i := range 5 {
		msg := primitive.NewMessage("QuickStart", []byte(fmt.Sprintf("order %d created", i)))
		msg.WithTag("created").WithKeys([]string{fmt.Sprintf("order-%d", i)})
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("sent %s to queue %d at offset %d\n", res.MsgID, res.MessageQueue.QueueId, res.QueueOffset)
	}

	received := make(chan string, 5)
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer(nameServer), consumer.WithGroupName("quickstart-consumer"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		log.Fatal(err)
	}
	err = c.Subscribe("QuickStart", consumer.MessageSelector{Type: consumer.TAG, Expression: "created"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				received <- string(m.Body)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown()
	for range 5 {
		select {
		case body := <-received:
			fmt.Println("received:", body)
		case <-time.After(30 * time.Second):
			log.Fatal("timed out waiting for messages")
		}
	}
}
