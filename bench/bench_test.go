package bench

import (
	"context"
	"io"
	"testing"
)

// BenchmarkLedger runs the whole comparison once per iteration; run it with
// -benchtime=1x. `ledger bench` prints the same report.
func BenchmarkLedger(b *testing.B) {
	for b.Loop() {
		r, err := Run(context.Background(), Config{Dir: b.TempDir(), Events: 50_000, Latency: 300, Out: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Ingest, "events/s")
		b.ReportMetric(max(r.JSBatch, r.JSAsync), "js-ceiling/s")
		b.ReportMetric(float64(r.LatencyP50.Microseconds())/1000, "p50-ms")
	}
}
