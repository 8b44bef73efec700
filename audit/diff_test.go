package audit_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

func TestDiff(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	const e = "t1"
	mk := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: e, Body: b}
	}
	counts := func(ossoff, handel int64) []events.Count {
		return []events.Count{{Choice: "ossoff", VoteType: "ed", Votes: ossoff}, {Choice: "handel", VoteType: "ed", Votes: handel}}
	}
	manifest := mk(&events.Manifest{Name: "T", Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "ga", Name: "GA", Kind: "state"}, {ID: "fulton", Name: "Fulton", Kind: "county", Parent: "ga"}},
		Contests:  []events.Contest{{ID: "h6", Name: "House 6", VoteFor: 1, Choices: []events.Choice{{ID: "ossoff", Name: "Ossoff"}, {ID: "handel", Name: "Handel"}}}}})
	first := mk(&events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(100, 50), Source: events.Source{Operator: "clerk"}})
	second := mk(&events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(120, 50), Source: events.Source{Operator: "clerk"}})
	fix := mk(&events.Correction{Corrects: second.ID, Reason: "memory card re-read", CountReport: events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(120, 75), Source: events.Source{Operator: "clerk"}}})
	stale := mk(&events.Correction{Corrects: first.ID, Reason: "late", CountReport: events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(1, 1), Source: events.Source{Operator: "clerk"}}})
	pull := mk(&events.Retraction{Retracts: fix.ID, Reason: "wrong precinct", Source: events.Source{Operator: "clerk"}})
	for _, ev := range []*events.Event{manifest, first, second, fix, stale, pull} {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		mustSubmit(t, n.Ledger, ev)
	}
	n.Close(ctx)
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	all, err := audit.Diff(db, e, 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("%d changes, want 6", len(all))
	}
	want := []struct {
		replaces uuid.UUID
		counts   []audit.CountChange
		rejected bool
	}{
		{},
		{counts: []audit.CountChange{{"ossoff", "ed", 0, 100}, {"handel", "ed", 0, 50}}},
		{replaces: first.ID, counts: []audit.CountChange{{"ossoff", "ed", 100, 120}}},
		{replaces: second.ID, counts: []audit.CountChange{{"handel", "ed", 50, 75}}},
		{replaces: first.ID, rejected: true},
		{replaces: fix.ID, counts: []audit.CountChange{{"ossoff", "ed", 120, 0}, {"handel", "ed", 75, 0}}},
	}
	for i, w := range want {
		c := all[i]
		if c.Replaces != w.replaces || (c.Verdict == events.Rejected) != w.rejected || !equalCounts(c.Counts, w.counts) {
			t.Errorf("change %d = %+v, want replaces %s, rejected %v, counts %+v", i, c, w.replaces, w.rejected, w.counts)
		}
	}
	if all[3].Why != "memory card re-read" || all[5].Unit != "fulton" || all[5].Contest != "h6" {
		t.Errorf("correction or retraction lacks its reason or unit: %+v / %+v", all[3], all[5])
	}

	// From the middle: the state at 3 is replayed, not assumed.
	tail, err := audit.Diff(db, e, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 3 || !equalCounts(tail[0].Counts, want[3].counts) {
		t.Errorf("diff [3,6) = %+v", tail)
	}
	var b bytes.Buffer
	audit.WriteChanges(&b, tail)
	if !strings.Contains(b.String(), `! #3`) || !strings.Contains(b.String(), `because "memory card re-read"`) || !strings.Contains(b.String(), "handel, ed: 50 → 75 (+25)") {
		t.Errorf("readable diff:\n%s", b.String())
	}
	if _, err := audit.Diff(db, e, 4, 2); err == nil {
		t.Error("from > to accepted")
	}
	if _, err := audit.Diff(db, e, 0, 9); err == nil {
		t.Error("a range past the end accepted")
	}
}

func equalCounts(a, b []audit.CountChange) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
