package importer_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

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

// countyAndState are a county's file (root the county, precincts under it)
// and a state's file (root the state, the county under it, its precincts
// under that) of one election, with the same race.
func countyAndState() (county, state *importer.Import) {
	race := func(choices ...string) events.Contest {
		c := events.Contest{ID: "governor", Name: "Governor", VoteFor: 1}
		for _, ch := range choices {
			c.Choices = append(c.Choices, events.Choice{ID: ch, Name: ch})
		}
		return c
	}
	report := func(unit string, votes int64) *events.CountReport {
		return &events.CountReport{Unit: unit, Contest: "governor", Source: events.Source{File: unit + ".csv", SHA256: strings.Repeat("a", 64)},
			Counts: []events.Count{{Choice: "ann", VoteType: "total", Votes: votes}, {Choice: "write-ins", VoteType: "total", Votes: 1}}}
	}
	vts := []events.VoteType{{ID: "total", Name: "Total"}}
	county = &importer.Import{Election: "e", Manifest: &events.Manifest{Name: "x", Date: "2024-11-05", VoteTypes: vts,
		Units:    []events.Unit{{ID: "luzerne", Name: "Luzerne", Kind: "county"}, {ID: "luzerne:p1", Name: "P1", Kind: "precinct", Parent: "luzerne"}},
		Contests: []events.Contest{race("ann", "write-ins"), {ID: "board", Name: "Board", VoteFor: 1, Choices: []events.Choice{{ID: "write-ins", Name: "Write-ins"}}}}},
		Reports: []*events.CountReport{report("luzerne:p1", 5)}}
	state = &importer.Import{Election: "e", Manifest: &events.Manifest{Name: "x", Date: "2024-11-05", VoteTypes: vts,
		Units: []events.Unit{{ID: "pa", Name: "Pennsylvania", Kind: "state"}, {ID: "luzerne", Name: "Luzerne", Kind: "county", Parent: "pa"},
			{ID: "luzerne:p1", Name: "P1", Kind: "precinct", Parent: "luzerne"}},
		Contests: []events.Contest{race("ann", "write-ins")}},
		Reports: []*events.CountReport{report("luzerne:p1", 5)}}
	return county, state
}

// TestRoots: a state's file merged after a county's re-roots the election
// under the state; bound to an election a county's file defined, it leaves
// the state out; either way its reports bind.
func TestRoots(t *testing.T) {
	county, state := countyAndState()
	m, err := importer.Merge(county, state)
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, u := range m.Manifest.Units {
		units = append(units, u.ID+"<"+u.Parent)
	}
	if got := strings.Join(units, " "); got != "pa< luzerne<pa luzerne:p1<luzerne" {
		t.Errorf("units %s", got)
	}
	if c := m.Manifest.Contests[1]; strings.Join(c.Units, ",") != "luzerne" {
		t.Errorf("the county file's board contest now has scope %v, want luzerne (what it covered)", c.Units)
	}
	if c := m.Manifest.Contests[0]; len(c.Units) != 0 {
		t.Errorf("governor, statewide in the state's file, has scope %v", c.Units)
	}
	if county.Manifest.Units[0].Parent != "" {
		t.Error("Merge changed its first import's manifest")
	}
	if err := (&events.Event{ID: uuid.Must(uuid.NewV7()), Election: "e", Body: m.Manifest}).Validate(); err != nil {
		t.Errorf("merged manifest: %v", err)
	}

	bound, err := importer.Bind(county.Manifest, state)
	if err != nil {
		t.Fatal(err)
	}
	if len(bound.Reports) != 1 || bound.Reports[0].Unit != "luzerne:p1" {
		t.Errorf("bound reports %+v", bound.Reports)
	}
	state.Reports = append(state.Reports, &events.CountReport{Unit: "pa", Contest: "governor", Counts: []events.Count{{Choice: "ann", VoteType: "total", Votes: 5}}})
	if _, err := importer.Bind(county.Manifest, state); err == nil || !strings.Contains(err.Error(), `a report is for unit "pa", which is not a reporting unit of the election`) {
		t.Errorf("a statewide report bound to a county's election: %v", err)
	}
}

// TestMatchGeneric: a contest of write-ins alone is matched by ID only, not
// to any contest that has write-ins.
func TestMatchGeneric(t *testing.T) {
	county, _ := countyAndState()
	other := &importer.Import{Election: "e", Manifest: &events.Manifest{Name: "x", Date: "2024-11-05", VoteTypes: county.Manifest.VoteTypes,
		Units:    county.Manifest.Units,
		Contests: []events.Contest{{ID: "council", Name: "Council", VoteFor: 2, Choices: []events.Choice{{ID: "write-ins", Name: "Write-ins"}}}}}}
	m, err := importer.Merge(county, other)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Manifest.Contests); n != 3 {
		t.Errorf("%d contests, want 3: the write-ins-only contest is new", n)
	}
	if _, err := importer.Bind(county.Manifest, other); err == nil || !strings.Contains(err.Error(), `contest "council" (Council) is not a contest of the election`) {
		t.Errorf("bound a write-ins-only contest by its choices: %v", err)
	}
}
