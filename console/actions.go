package console

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/store"
)

// OffsetReset is the body of POST /console/api/groups/reset.
type OffsetReset struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Timestamp int64  `json:"timestamp"` // ms; -1 = the end of each queue
	Force     bool   `json:"force"`     // also move forwards (skip messages)
}

func (c *Console) resetOffset(r *http.Request, body []byte) (any, []any, error) {
	var a OffsetReset
	if err := decode(body, &a); err != nil {
		return nil, nil, err
	}
	attrs := []any{"group", a.Group, "topic", a.Topic, "timestamp", a.Timestamp, "force", a.Force}
	if a.Group == "" || a.Topic == "" {
		return nil, attrs, fmt.Errorf("%w: group and topic are required", ErrBadRequest)
	}
	res, err := c.b.ResetOffset(a.Group, a.Topic, a.Timestamp, a.Force, r.RemoteAddr)
	if errors.Is(err, broker.ErrTopicNotExist) {
		return nil, attrs, &httpError{http.StatusNotFound, err}
	}
	if err != nil {
		return nil, attrs, err
	}
	return map[string]any{"ok": true, "offsets": res.Offsets, "notified": res.Notified}, append(attrs, "notified", res.Notified), nil
}

// Resend is the body of POST /console/api/messages/resend.
type Resend struct {
	CommitLogOffset int64  `json:"commitLogOffset"`
	Group           string `json:"group"`
}

func (c *Console) resend(r *http.Request, body []byte) (any, []any, error) {
	var a Resend
	if err := decode(body, &a); err != nil {
		return nil, nil, err
	}
	attrs := []any{"commitLogOffset", a.CommitLogOffset, "group", a.Group}
	res, err := c.b.ResendToGroup(a.CommitLogOffset, a.Group, r.RemoteAddr)
	switch {
	case errors.Is(err, broker.ErrGroupNotExist), errors.Is(err, store.ErrNotFound):
		return nil, attrs, &httpError{http.StatusNotFound, err}
	case err != nil:
		return nil, attrs, err
	}
	return map[string]any{"ok": true, "topic": broker.RetryTopicPrefix + a.Group, "queueId": res.QueueID,
		"queueOffset": res.QueueOffset, "msgId": res.MsgID}, append(attrs, "msgId", res.MsgID), nil
}

// Timers is GET /console/api/timers?topic=T: the topic's timer messages pending in the
// wheel (MQSTORE_PENDING_TIMERS' numbers).
type Timers struct {
	Topic        string `json:"topic"`
	Count        int64  `json:"count"`
	NextDueMs    int64  `json:"nextDueMs"`
	WheelPending int64  `json:"wheelPending"`
}

func (c *Console) timers(r *http.Request) (any, error) {
	topic := r.URL.Query().Get("topic")
	if topic == "" {
		return nil, fmt.Errorf("%w: topic is required", ErrBadRequest)
	}
	st := c.b.Store()
	p := st.PendingTimers(topic)
	return Timers{Topic: topic, Count: p.Count, NextDueMs: p.NextDue, WheelPending: int64(st.TimerStats().Pending)}, nil
}

// byTime returns the messages of topic stored in [begin, end] (ms; end 0 = now), queue by
// queue, oldest first in each queue: skip matches are passed over, then at most maxNum are
// returned; more says whether another match follows (the page's "next").
func (c *Console) byTime(topic string, begin, end int64, skip, maxNum int) (out []*store.StoredMessage, more bool, err error) {
	tc, ok, err := c.b.TopicConfig(topic)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, &httpError{http.StatusNotFound, fmt.Errorf("console: no topic %q", topic)}
	}
	if end <= 0 {
		end = c.opts.Now().UnixMilli()
	}
	st := c.b.Store()
	for q := range int32(max(tc.ReadQueueNums, tc.WriteQueueNums)) {
		from, err := st.OffsetByTime(topic, q, begin)
		if err != nil {
			return nil, false, err
		}
		for off := from; off < st.MaxOffset(topic, q); off++ {
			u, ok := st.QueueUnit(topic, q, off)
			if !ok || u.IsBlank() {
				continue
			}
			m, err := st.ReadAt(u.CommitLogOffset)
			if err != nil {
				continue
			}
			if m.StoreTimestamp > end {
				break
			}
			if m.StoreTimestamp < begin {
				continue
			}
			switch {
			case skip > 0:
				skip--
			case len(out) == maxNum:
				return out, true, nil
			default:
				out = append(out, m)
			}
		}
	}
	return out, false, nil
}
