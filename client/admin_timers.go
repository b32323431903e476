package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// PendingTimers is what one broker's timing wheel holds for a topic.
type PendingTimers struct {
	BrokerAddr string
	Topic      string
	// Count is the number of the topic's timer messages (delay levels included) not yet due.
	Count int64
	// NextDue is the earliest delivery time, zero when Count is 0.
	NextDue time.Time
	// WheelPending counts every pending timer of the broker, of any topic.
	WheelPending int64
}

// PendingTimers asks the broker at brokerAddr for the timer messages of topic waiting in its
// timing wheel (mqstore's private MQSTORE_PENDING_TIMERS).
func (a *Admin) PendingTimers(ctx context.Context, brokerAddr, topic string) (PendingTimers, error) {
	req := remoting.NewRequest(remoting.RequestPendingTimers)
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldTopic, Value: topic})
	resp, err := a.call(ctx, brokerAddr, req)
	if err != nil {
		return PendingTimers{}, err
	}
	defer resp.Release()
	var body protocol.PendingTimers
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return PendingTimers{}, fmt.Errorf("%w: pending timers from %s: %w", ErrBadResponse, brokerAddr, err)
	}
	return PendingTimers{BrokerAddr: brokerAddr, Topic: body.Topic, Count: body.Count,
		NextDue: millisTime(body.NextDueMs), WheelPending: body.WheelPending}, nil
}
