package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/feed"
)

// TestRunMonitors runs a small monitors benchmark and checks what it did,
// never how fast: RunMonitors itself fails unless every subscriber received
// every entry of the second ingest once, in order.
func TestRunMonitors(t *testing.T) {
	var out strings.Builder
	r, err := RunMonitors(context.Background(), MonitorsConfig{Dir: t.TempDir(), Events: 2000, SSE: 5, NATS: 2, Stuck: 2, Samples: 100, StuckWait: time.Millisecond, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if want := int64(7 * 2000); r.Received != want {
		t.Errorf("received %d changes, want %d", r.Received, want)
	}
	if r.SSEPairs != 5*100 || r.NATSPairs != 2*100 {
		t.Errorf("%d SSE and %d NATS delay samples, want 500 and 200", r.SSEPairs, r.NATSPairs)
	}
	if r.IngestAlone <= 0 || r.IngestWith <= 0 || r.HeapBefore == 0 || r.HeapAfter == 0 ||
		r.SSEBytes <= r.MinFrameBytes || r.MinFrameBytes <= r.EntryBytes || r.FanoutCPU <= 0 || r.MinFanoutCPU <= 0 || r.RatioBound <= 0 {
		t.Errorf("a figure is missing: %+v", r)
	}
	for _, s := range []string{"ingest, no subscriber", "every entry, once, in order", "stuck connections dropped", "targets: ingest with subscribers ≥ 0.8× without: "} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the report has no %q:\n%s", s, out.String())
		}
	}
}

// TestRunMonitorsPaced: with Rate, the second ingest is paced, every
// subscriber still gets every entry, and no ratio is claimed.
func TestRunMonitorsPaced(t *testing.T) {
	var out strings.Builder
	r, err := RunMonitors(context.Background(), MonitorsConfig{Dir: t.TempDir(), Events: 1000, SSE: 3, NATS: 1, Samples: 50, Rate: 5000, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if want := int64(4 * 1000); r.Received != want {
		t.Errorf("received %d changes, want %d", r.Received, want)
	}
	if r.Rate != 5000 || r.IngestWith <= 0 || r.IngestWith > 2*5000 {
		t.Errorf("paced at %d/s, the second ingest ran at %.0f/s", r.Rate, r.IngestWith)
	}
	if !strings.Contains(out.String(), "paced at 5000 events/s") || strings.Contains(out.String(), "targets:") {
		t.Errorf("the report of a paced run:\n%s", out.String())
	}
}

// TestMonitorsSubscriberCheck makes sure a subscriber refuses a missed,
// repeated or foreign change, so that the benchmark cannot pass on a
// broken feed.
func TestMonitorsSubscriberCheck(t *testing.T) {
	change := func(i uint64) *feed.Change {
		return &feed.Change{Election: monitorsElection, Index: i, TreeSize: i + 1, Checkpoint: "cp", Entry: []byte(`{}`)}
	}
	for name, feedOf := range map[string][]*feed.Change{
		"missed":        {change(10), change(12)},
		"repeated":      {change(10), change(10)},
		"reordered":     {change(11), change(10)},
		"foreign":       {func() *feed.Change { c := change(10); c.Election = "other"; return c }()},
		"no checkpoint": {func() *feed.Change { c := change(10); c.Checkpoint = ""; return c }()},
	} {
		s := newSubscriber("SSE", 0, 10, 13, 1)
		var err error
		for _, c := range feedOf {
			if err = s.change(c); err != nil {
				break
			}
		}
		if err == nil || s.result() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s := newSubscriber("SSE", 0, 10, 13, 2)
	for i := uint64(10); i < 13; i++ {
		err := s.change(change(i))
		if (i < 12 && err != nil) || (i == 12 && err != errComplete) {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	select {
	case <-s.done:
	case <-time.After(time.Second):
		t.Fatal("a complete subscriber is not done")
	}
	if err := s.result(); err != nil || s.received() != 3 || s.recv[0] == 0 || s.recv[1] == 0 {
		t.Errorf("a complete feed: %v, %d received, times %v", err, s.received(), s.recv)
	}
}
