package importer_test

import (
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/projections"
)

func juneBoth(t *testing.T) (county, precinct *importer.Import) {
	t.Helper()
	county, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	precinct, err = ga06.JunePrecincts()
	if err != nil {
		t.Fatal(err)
	}
	return county, precinct
}

// fold applies the import's manifest and reports to a projection.
func fold(t *testing.T, imp *importer.Import) *projections.Tally {
	t.Helper()
	p, err := projections.New(imp.Election, imp.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	en := &events.Entry{Verdict: events.Accepted, Event: &events.Event{Election: imp.Election, Body: imp.Manifest}}
	if err := p.Apply(en); err != nil {
		t.Fatal(err)
	}
	for i, r := range imp.Reports {
		ev := &events.Event{Election: imp.Election, Body: r}
		if rj := p.Check(ev); rj != nil {
			t.Fatalf("report %d (%s, %s) rejected: %s", i, r.Unit, r.Contest, rj.Reason)
		}
		if err := p.Apply(&events.Entry{Index: uint64(i + 1), Verdict: events.Accepted, Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	return p.Tally()
}

// TestMergeJune merges the state's county-level export of the runoff with
// the counties' precinct files: one manifest, the race matched by its
// candidates although the two sources name it differently.
func TestMergeJune(t *testing.T) {
	county, precinct := juneBoth(t)
	m, err := importer.Merge(county, precinct)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, u := range m.Manifest.Units {
		kinds[u.Kind]++
	}
	if kinds["state"] != 1 || kinds["county"] != 3 || kinds["precinct"] != 208 {
		t.Fatalf("units by kind: %v", kinds)
	}
	var race *events.Contest
	for i := range m.Manifest.Contests {
		if c := &m.Manifest.Contests[i]; c.Kind == "" {
			if race != nil {
				t.Fatalf("two races after the merge: %s and %s", race.ID, c.ID)
			}
			race = c
		}
	}
	if race == nil || race.ID != county.Manifest.Contests[0].ID || len(race.Choices) != 2 {
		t.Fatalf("race after the merge: %+v", race)
	}
	for _, ch := range race.Choices {
		if len(ch.Aliases) < 2 {
			t.Errorf("choice %s has aliases %q: want the spellings of both sources", ch.ID, ch.Aliases)
		}
	}
	if len(m.Reports) != len(county.Reports)+len(precinct.Reports) {
		t.Fatalf("%d reports, want %d", len(m.Reports), len(county.Reports)+len(precinct.Reports))
	}
	tl := fold(t, m)
	for _, ct := range tl.Contests {
		if ct.ID != race.ID {
			continue
		}
		got := map[string]int64{}
		for _, ch := range ct.Choices {
			got[ch.ID] = ch.Votes
		}
		if got["karen-handel"] != 134799 || got["jon-ossoff"] != 125517 {
			t.Fatalf("totals %v", got)
		}
		// Every county's own report equals its precincts' sum.
		for _, u := range ct.Units {
			if u.Parent == "ga" && !u.Reported {
				t.Errorf("county %s has no report of its own", u.ID)
			}
		}
	}
}

// TestBind maps the precinct files onto a logged manifest: allowed once the
// manifest has the precincts, refused with the unit named before that.
func TestBind(t *testing.T) {
	county, precinct := juneBoth(t)
	_, err := importer.Bind(county.Manifest, precinct)
	if err == nil || !strings.Contains(err.Error(), `unit "cobb:`) || !strings.Contains(err.Error(), "cannot gain units") {
		t.Fatalf("binding precincts to a county-level manifest: %v", err)
	}
	merged, err := importer.Merge(county, precinct)
	if err != nil {
		t.Fatal(err)
	}
	b, err := importer.Bind(merged.Manifest, precinct)
	if err != nil {
		t.Fatal(err)
	}
	race := county.Manifest.Contests[0].ID
	for _, r := range b.Reports {
		if r.Contest != race && r.Contest != "turnout" {
			t.Fatalf("a bound report names contest %q", r.Contest)
		}
	}
	// A candidate the election does not have.
	bad := *precinct
	m := *precinct.Manifest
	m.Contests = append([]events.Contest(nil), m.Contests...)
	for i := range m.Contests {
		if m.Contests[i].Kind == "" {
			c := m.Contests[i]
			c.Choices = append(append([]events.Choice(nil), c.Choices...), events.Choice{ID: "someone-else", Name: "Someone Else"})
			m.Contests[i] = c
		}
	}
	bad.Manifest = &m
	if _, err := importer.Bind(merged.Manifest, &bad); err == nil || !strings.Contains(err.Error(), "someone-else") {
		t.Fatalf("binding an unknown candidate: %v", err)
	}
}
