package console

import (
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The throughput chart reads the counters /metrics exposes (the same registry), so the chart
// and a Prometheus scrape never disagree:
//
//	rocketmq_messages_in_total, rocketmq_messages_out_total      messages put / pulled
//	rocketmq_throughput_in_total, rocketmq_throughput_out_total  their bytes
//	mqstore_store_put_latency_seconds                            put latency (sum and count)
//
// Each series is summed over its labels (topics, groups, message types).

// Sample is the counters at one time.
type Sample struct {
	Time            int64   `json:"t"` // ms
	MessagesIn      float64 `json:"messagesIn"`
	MessagesOut     float64 `json:"messagesOut"`
	BytesIn         float64 `json:"bytesIn"`
	BytesOut        float64 `json:"bytesOut"`
	PutLatencySum   float64 `json:"putLatencySum"` // seconds
	PutLatencyCount float64 `json:"putLatencyCount"`
}

// Point is the rates between two samples, at the later one's time.
type Point struct {
	Time         int64   `json:"t"`
	InTPS        float64 `json:"inTps"`
	OutTPS       float64 `json:"outTps"`
	InBytesRate  float64 `json:"inBytesPerSecond"`
	OutBytesRate float64 `json:"outBytesPerSecond"`
	PutLatencyMs float64 `json:"putLatencyMillis"` // mean over the interval; 0 without puts
}

// Throughput is GET /console/api/throughput.
type Throughput struct {
	Enabled bool    `json:"enabled"` // false: the console has no metrics registry
	Latest  Sample  `json:"latest"`
	Points  []Point `json:"points"`
}

const (
	maxSamples     = 600 // ten minutes at one a second
	sampleInterval = time.Second
)

func (c *Console) throughput(*http.Request) (any, error) {
	if c.samples.gatherer == nil {
		return Throughput{Points: []Point{}}, nil
	}
	s, err := c.gather()
	if err != nil {
		return nil, err
	}
	sm := &c.samples
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if n := len(sm.samples); n == 0 || time.Duration(s.Time-sm.samples[n-1].Time)*time.Millisecond >= sampleInterval {
		sm.samples = append(sm.samples, s)
		if len(sm.samples) > maxSamples {
			sm.samples = append(sm.samples[:0], sm.samples[len(sm.samples)-maxSamples:]...)
		}
	}
	out := Throughput{Enabled: true, Latest: s, Points: make([]Point, 0, len(sm.samples))}
	for i := 1; i < len(sm.samples); i++ {
		out.Points = append(out.Points, rates(sm.samples[i-1], sm.samples[i]))
	}
	return out, nil
}

// rates returns the rates from a to b.
func rates(a, b Sample) Point {
	secs := float64(b.Time-a.Time) / 1000
	if secs <= 0 {
		return Point{Time: b.Time}
	}
	p := Point{Time: b.Time,
		InTPS: (b.MessagesIn - a.MessagesIn) / secs, OutTPS: (b.MessagesOut - a.MessagesOut) / secs,
		InBytesRate: (b.BytesIn - a.BytesIn) / secs, OutBytesRate: (b.BytesOut - a.BytesOut) / secs,
	}
	if n := b.PutLatencyCount - a.PutLatencyCount; n > 0 {
		p.PutLatencyMs = (b.PutLatencySum - a.PutLatencySum) / n * 1000
	}
	return p
}

// gather reads the counters from the registry.
func (c *Console) gather() (Sample, error) {
	families, err := c.samples.gatherer.Gather()
	if err != nil && len(families) == 0 {
		return Sample{}, err
	}
	s := Sample{Time: c.opts.Now().UnixMilli()}
	for _, f := range families {
		var dst *float64
		switch f.GetName() {
		case "rocketmq_messages_in_total":
			dst = &s.MessagesIn
		case "rocketmq_messages_out_total":
			dst = &s.MessagesOut
		case "rocketmq_throughput_in_total":
			dst = &s.BytesIn
		case "rocketmq_throughput_out_total":
			dst = &s.BytesOut
		case "mqstore_store_put_latency_seconds":
			for _, m := range f.GetMetric() {
				s.PutLatencySum += m.GetHistogram().GetSampleSum()
				s.PutLatencyCount += float64(m.GetHistogram().GetSampleCount())
			}
			continue
		default:
			continue
		}
		*dst += sumCounters(f.GetMetric())
	}
	return s, nil
}

func sumCounters(ms []*dto.Metric) float64 {
	var sum float64
	for _, m := range ms {
		sum += m.GetCounter().GetValue()
	}
	return sum
}
