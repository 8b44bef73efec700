package importer_test

import (
	"bytes"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/ga06"
)

// TestEncode: the parallel encoding is each event's own, in order.
func TestEncode(t *testing.T) {
	imp, err := ga06.JunePrecincts()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := imp.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 128 {
		t.Fatalf("%d events: too few to use more than one worker", len(evs))
	}
	got, err := importer.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d encodings for %d events", len(got), len(evs))
	}
	for i, ev := range evs {
		want, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[i], want) {
			t.Fatalf("event %d: encoded as %q, want %q", i, got[i], want)
		}
	}
}
