// Package report measures a benchmark run and reports it: a Recorder takes
// latencies (into HdrHistogram histograms), message and byte counts and
// errors from any number of goroutines, prints a progress line every second,
// and produces the final Report, as text, as one JSON line, and as an SVG
// chart (latency over time and latency distribution). Besides throughput
// and latency a report carries the process's CPU per message and, on its
// "sched" line, how many cores the process used and how long its goroutines
// waited for one of Go's Ps and its threads for a CPU during the run: a
// latency tail that comes with long waits there is the wait for a core.
//
// It depends on nothing of mqstore, so the NATS JetStream peer (the nested
// module bench/peer) reports through it too and both sides print the same
// fields.
package report
