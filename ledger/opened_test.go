package ledger

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
)

// TestEdgeHandsOverOpened: a submission this node's edge opened and
// published reaches the state machine as the edge's opened copy, not
// opened a second time; one published around the edge is opened by the
// consumer. Both are logged alike (the audit replays the log from its
// bytes), and the edge lets its copy go once it has answered.
func TestEdgeHandsOverOpened(t *testing.T) {
	r := newDiskRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	opened := func() (edge, consumer float64) {
		return metricValue(t, r.l.metrics.opened.WithLabelValues("edge")), metricValue(t, r.l.metrics.opened.WithLabelValues("consumer"))
	}
	const election = "disk"
	for _, signed := range [][]byte{signEvents(t, election, diskManifest()), signEvents(t, election, diskReport(0), diskReport(1))} {
		rs, err := r.l.Submit(ctx, signed)
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range rs {
			if rc.Verdict != events.Accepted || rc.Duplicate {
				t.Fatalf("receipt %+v", rc)
			}
		}
	}
	if edge, consumer := opened(); edge != 2 || consumer != 0 {
		t.Errorf("after two submissions through the edge: opened by the edge %v, by the consumer %v; want 2 and 0", edge, consumer)
	}
	waitApplied(t, r.l, publish(t, ctx, r.brk, signEvents(t, election, diskReport(2))))
	if edge, consumer := opened(); edge != 2 || consumer != 1 {
		t.Errorf("after one published around the edge: opened by the edge %v, by the consumer %v; want 2 and 1", edge, consumer)
	}
	held := 0
	r.l.opened.Range(func(any, any) bool { held++; return true })
	if held != 0 {
		t.Errorf("the edge still holds %d opened submissions after their answers", held)
	}
	if _, err := audit.Verify(r.db, election, readKey(t, r.dir)); err != nil {
		t.Errorf("audit: %v", err)
	}
}

// TestOpenedBy: the consumer takes the edge's copy only for a message under
// its submission's ID whose bytes are the submission's.
func TestOpenedBy(t *testing.T) {
	var l Ledger
	signed := signEvents(t, "disk", diskManifest())
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		t.Fatal(err)
	}
	l.opened.Store(sub.ID, sub)
	other := signEvents(t, "disk", diskReport(0))
	for _, tc := range []struct {
		name string
		id   string
		data []byte
		want *events.Submission
	}{
		{"its ID and bytes", sub.ID.String(), signed, sub},
		{"its ID, other bytes", sub.ID.String(), other, nil},
		{"its ID, its bytes cut", sub.ID.String(), signed[:len(signed)-1], nil},
		{"no ID", "", signed, nil},
		{"another ID", uuid.Must(uuid.NewV7()).String(), signed, nil},
	} {
		if got := l.openedBy(tc.id, tc.data); got != tc.want {
			t.Errorf("%s: %p, want %p", tc.name, got, tc.want)
		}
	}
}
