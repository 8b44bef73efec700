package ledger

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	messages    prometheus.Counter
	outcomes    *prometheus.CounterVec
	batchSize   prometheus.Histogram
	stepSeconds prometheus.Histogram
	position    prometheus.Gauge
	// stepFailures counts steps that failed to write (and were retried);
	// stalled is 1 while the state machine retries one.
	stepFailures prometheus.Counter
	stalled      prometheus.Gauge
	// opened counts the stream messages the consumer read, by who opened
	// them: this node's edge (its copy handed over) or the consumer.
	opened *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_stream_messages_total", Help: "Stream messages applied."}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_messages_total", Help: "Events by outcome (accepted, rejected, duplicate), and stream messages dropped (dropped)."},
			[]string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledger_step_messages", Help: "Messages per step (one synced batch).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7)}),
		stepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledger_step_seconds", Help: "Time to apply and commit one step.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_stream_position", Help: "Last stream sequence applied."}),
		stepFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_step_write_failures_total", Help: "Steps that failed to write (a full disk) and were retried."}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_stalled", Help: "1 while the state machine cannot write and retries a step, else 0."}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_stream_submissions_opened_total", Help: "Stream messages read, by who opened the submission: this node's edge (edge), whose opened copy the state machine took, or the consumer (consumer: published by another node, resubmitted after a restart, or bypassing the edge)."},
			[]string{"by"}),
	}
	if r != nil {
		r.MustRegister(m.messages, m.outcomes, m.batchSize, m.stepSeconds, m.position, m.stepFailures, m.stalled, m.opened)
	}
	return m
}
