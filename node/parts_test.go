package node_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestSubmitAllManifestInParts: the Go client's SubmitAll, in small
// chunks and in parallel, never cuts a manifest's events across
// submissions: the manifest in parts goes whole and first, the reports
// after it, and every event is accepted. Client.Manifest reads it whole.
func TestSubmitAllManifestInParts(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	eventsOf := func(election string) []*events.Event {
		m := testManifest("Parts")
		m.Authority = testkeys.Authority.Verifier
		for i := range 2000 {
			m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("extra-%04d", i), Name: fmt.Sprintf("Extra precinct number %d", i), Kind: "precinct", Parent: m.Units[0].ID})
		}
		parts, err := events.SplitManifest(mkEvent(t, election, m))
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) < 3 {
			t.Fatalf("the manifest is in %d events; the test wants at least 3", len(parts))
		}
		evs := append([]*events.Event{}, parts...)
		for i := range 10 {
			evs = append(evs, mkEvent(t, election, report(fmt.Sprintf("extra-%04d", i), house, cnt("ossoff", voteDay, int64(i)))))
		}
		return evs
	}
	for i, opts := range []client.SubmitOptions{{Chunk: 2}, {Chunk: 2, Parallel: 3}} {
		election := fmt.Sprintf("parts-client-%d", i)
		evs := eventsOf(election)
		// Twice: the second time, everything is logged already and the
		// receipts are the same.
		for range 2 {
			rs, err := tn.c.SubmitAll(context.Background(), encodeAll(t, evs...), opts)
			if err != nil {
				t.Fatalf("%+v: %v", opts, err)
			}
			// The manifest's events are entries 0 to N-1; the reports
			// follow, in any order when they go in parallel.
			k := events.ManifestEvents(evs[0].Body.(*events.Manifest))
			seen := map[uint64]bool{}
			for i, r := range rs {
				if r.Verdict != events.Accepted || (i < k || opts.Parallel < 2) && r.Index != uint64(i) || r.Index < uint64(k) && i >= k || seen[r.Index] {
					t.Errorf("%+v: event %d: %+v", opts, i, r)
				}
				seen[r.Index] = true
			}
		}
		// The client reads the manifest whole, from all its entries (what
		// `ledger import` binds a second import's files to).
		m, err := tn.c.Manifest(context.Background(), election)
		if err != nil {
			t.Fatal(err)
		}
		if want, err := events.AssembleManifest(evs[:events.ManifestEvents(evs[0].Body.(*events.Manifest))]); err != nil || !reflect.DeepEqual(m, want) {
			t.Errorf("%s: the client's manifest has %d units, want %d (%v)", election, len(m.Units), len(want.Units), err)
		}
	}
}
