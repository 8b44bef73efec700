package projections_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/projections"
)

// rcRig folds events into a projection as the ledger's state machine does:
// Check decides the verdict (every event here must be accepted), Apply
// folds the entry in.
type rcRig struct {
	t        *testing.T
	election string
	m        *events.Manifest
	e        *projections.Election
	size     uint64
}

func newRC(t *testing.T, election string, m *events.Manifest) *rcRig {
	t.Helper()
	e, err := projections.New(election, m)
	if err != nil {
		t.Fatal(err)
	}
	r := &rcRig{t: t, election: election, m: m, e: e}
	r.log(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m})
	return r
}

func (r *rcRig) log(ev *events.Event) {
	r.t.Helper()
	if err := r.e.Apply(&events.Entry{Index: r.size, Verdict: events.Accepted, Event: ev}); err != nil {
		r.t.Fatal(err)
	}
	r.size++
}

// accept checks and applies an event with body, and returns its ID.
func (r *rcRig) accept(body events.Body) uuid.UUID {
	r.t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: r.election, Body: body}
	if err := ev.Validate(); err != nil {
		r.t.Fatalf("invalid test event: %v", err)
	}
	if rj := r.e.Check(ev); rj != nil {
		r.t.Fatalf("%s rejected: %s", ev.Type(), rj.Reason)
	}
	r.log(ev)
	return ev.ID
}

// check compares the findings with want, and with those of a projection
// restored from a snapshot: findings are a pure function of the entries.
func (r *rcRig) check(step string, want *projections.Findings) {
	r.t.Helper()
	got := r.e.Reconcile()
	if !reflect.DeepEqual(got, want) {
		r.t.Fatalf("%s: findings\n%+v\nwant\n%+v", step, got, want)
	}
	if got.Len() != len(want.Rollup)+len(want.Unreported) {
		r.t.Fatalf("%s: Len %d", step, got.Len())
	}
	restored, err := projections.Restore(r.election, r.m, r.e.Snapshot())
	if err != nil {
		r.t.Fatal(err)
	}
	if again := restored.Reconcile(); !reflect.DeepEqual(again, got) {
		r.t.Fatalf("%s: a restored projection's findings differ:\n%+v", step, again)
	}
}

// counts turns {"choice/vote type": votes} into sorted counts.
func counts(m map[string]int64) []events.Count {
	var out []events.Count
	for k, v := range m {
		ch, vt, _ := strings.Cut(k, "/")
		out = append(out, events.Count{Choice: ch, VoteType: vt, Votes: v})
	}
	slices.SortFunc(out, func(a, b events.Count) int {
		if c := strings.Compare(a.Choice, b.Choice); c != 0 {
			return c
		}
		return strings.Compare(a.VoteType, b.VoteType)
	})
	return out
}

func report(unit, contest string, m map[string]int64) *events.CountReport {
	return &events.CountReport{Unit: unit, Contest: contest, Counts: counts(m), Source: events.Source{Operator: "clerk"}}
}

func correction(of uuid.UUID, r *events.CountReport) *events.Correction {
	return &events.Correction{Corrects: of, Reason: "test", CountReport: *r}
}

// rcManifest: st > c1 (p1, p2, p3), c2 (q1, q2); contest h everywhere,
// contest m in c2 only; vote types day, mail and total.
func rcManifest() *events.Manifest {
	return &events.Manifest{
		Name: "Reconcile", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}, {ID: "mail", Name: "Mail"}, {ID: "total", Name: "Total"}},
		Units: []events.Unit{
			{ID: "st", Name: "State", Kind: "state"},
			{ID: "c1", Name: "C1", Kind: "county", Parent: "st"},
			{ID: "c2", Name: "C2", Kind: "county", Parent: "st"},
			{ID: "p1", Name: "P1", Kind: "precinct", Parent: "c1"},
			{ID: "p2", Name: "P2", Kind: "precinct", Parent: "c1"},
			{ID: "p3", Name: "P3", Kind: "precinct", Parent: "c1"},
			{ID: "q1", Name: "Q1", Kind: "precinct", Parent: "c2"},
			{ID: "q2", Name: "Q2", Kind: "precinct", Parent: "c2"},
		},
		Contests: []events.Contest{
			{ID: "h", Name: "House", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}},
			{ID: "m", Name: "Measure", VoteFor: 1, Units: []string{"c2"}, Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}},
		},
	}
}

// rf is a roll-up finding of contest h.
func rf(unit, choice, voteType string, own, children, reported, total int64) projections.RollupFinding {
	return projections.RollupFinding{Contest: "h", Unit: unit, Choice: choice, VoteType: voteType, Own: own, Children: children,
		UnitsReported: reported, UnitsTotal: total, Complete: reported == total}
}

func unreported(contest string, total int64, units ...string) projections.UnreportedFinding {
	return projections.UnreportedFinding{Contest: contest, Count: int64(len(units)), UnitsTotal: total, Units: units}
}

func findings(rollup []projections.RollupFinding, unrep ...projections.UnreportedFinding) *projections.Findings {
	f := &projections.Findings{Rollup: rollup, Unreported: unrep}
	if f.Rollup == nil {
		f.Rollup = []projections.RollupFinding{}
	}
	if f.Unreported == nil {
		f.Unreported = []projections.UnreportedFinding{}
	}
	return f
}

// TestReconcile walks an election from no reports to complete ones: a
// county's report against incomplete precincts (expected differences,
// marked incomplete), then complete ones that differ (discrepancies), votes
// moved between vote types, precincts that report only totals under a
// county that reports by vote type, a state report over county reports,
// and unreported units per contest.
func TestReconcile(t *testing.T) {
	r := newRC(t, "rc-2026", rcManifest())
	r.check("no reports", findings(nil, unreported("h", 5, "p1", "p2", "p3", "q1", "q2"), unreported("m", 2, "q1", "q2")))

	c1 := r.accept(report("c1", "h", map[string]int64{"a/day": 100, "a/mail": 10, "b/day": 50, "b/mail": 5}))
	r.check("c1 alone", findings(nil, unreported("h", 5, "q1", "q2"), unreported("m", 2, "q1", "q2")))

	r.accept(report("p1", "h", map[string]int64{"a/day": 40, "a/mail": 4, "b/day": 20, "b/mail": 2}))
	r.check("one precinct of three", findings([]projections.RollupFinding{
		rf("c1", "a", "", 110, 44, 1, 3), rf("c1", "a", "day", 100, 40, 1, 3), rf("c1", "a", "mail", 10, 4, 1, 3),
		rf("c1", "b", "", 55, 22, 1, 3), rf("c1", "b", "day", 50, 20, 1, 3), rf("c1", "b", "mail", 5, 2, 1, 3),
	}, unreported("h", 5, "q1", "q2"), unreported("m", 2, "q1", "q2")))

	r.accept(report("p2", "h", map[string]int64{"a/day": 30, "a/mail": 3, "b/day": 15, "b/mail": 2}))
	p3 := r.accept(report("p3", "h", map[string]int64{"a/day": 30, "a/mail": 3, "b/day": 15}))
	r.check("all precincts, one mail vote short", findings([]projections.RollupFinding{
		rf("c1", "b", "", 55, 54, 3, 3), rf("c1", "b", "mail", 5, 4, 3, 3),
	}, unreported("h", 5, "q1", "q2"), unreported("m", 2, "q1", "q2")))

	// The same totals, one vote moved from election day to mail.
	p3 = r.accept(correction(p3, report("p3", "h", map[string]int64{"a/day": 29, "a/mail": 4, "b/day": 15, "b/mail": 1})))
	r.check("a vote moved between vote types", findings([]projections.RollupFinding{
		rf("c1", "a", "day", 100, 99, 3, 3), rf("c1", "a", "mail", 10, 11, 3, 3),
	}, unreported("h", 5, "q1", "q2"), unreported("m", 2, "q1", "q2")))
	r.accept(correction(p3, report("p3", "h", map[string]int64{"a/day": 30, "a/mail": 3, "b/day": 15, "b/mail": 1})))
	r.check("c1 agrees", findings(nil, unreported("h", 5, "q1", "q2"), unreported("m", 2, "q1", "q2")))

	// c2 by vote type, its precincts by total only: totals are compared,
	// vote types are not.
	c2 := r.accept(report("c2", "h", map[string]int64{"a/day": 70, "a/mail": 7, "b/day": 30, "b/mail": 3}))
	r.accept(report("q1", "h", map[string]int64{"a/total": 40, "b/total": 20}))
	q2 := r.accept(report("q2", "h", map[string]int64{"a/total": 37, "b/total": 13}))
	r.check("c2 by vote type, precincts by total", findings(nil, unreported("m", 2, "q1", "q2")))
	r.accept(correction(q2, report("q2", "h", map[string]int64{"a/total": 38, "b/total": 13})))
	r.check("c2 differs in total", findings([]projections.RollupFinding{rf("c2", "a", "", 77, 78, 2, 2)}, unreported("m", 2, "q1", "q2")))

	// The state's own report is compared with its counties' totals: their
	// own reports, not their precincts' sums.
	r.accept(report("st", "h", map[string]int64{"a/day": 170, "a/mail": 17, "b/day": 80, "b/mail": 8}))
	r.check("state agrees with the counties", findings([]projections.RollupFinding{rf("c2", "a", "", 77, 78, 2, 2)}, unreported("m", 2, "q1", "q2")))

	// Without c2's own report the state is compared with c2's precincts,
	// which report totals only: no vote-type findings.
	r.accept(&events.Retraction{Retracts: c2, Reason: "test", Source: events.Source{Operator: "clerk"}})
	r.accept(report("q1", "m", map[string]int64{"yes/total": 5, "no/total": 3}))
	r.check("c2 retracted", findings([]projections.RollupFinding{rf("st", "a", "", 187, 188, 5, 5)}, unreported("m", 2, "q2")))

	r.accept(&events.Retraction{Retracts: c1, Reason: "test", Source: events.Source{Operator: "clerk"}})
	r.accept(report("q2", "m", map[string]int64{"yes/total": 1, "no/total": 1}))
	r.check("c1 retracted", findings([]projections.RollupFinding{rf("st", "a", "", 187, 188, 5, 5)}))
}

// ga06Runoff returns the GA-06 runoff of June 2017 as one election: the
// manifest of the state's county-level export (by vote type) with the
// precinct units, the "total" vote type and the turnout contest of the
// OpenElections precinct files added, the counties' reports from the
// export, and the precincts' reports from the files, whose contest
// "us-house-6" is the export's "us-representative-district-6".
func ga06Runoff(t *testing.T) (m *events.Manifest, counties, precincts []*events.CountReport) {
	t.Helper()
	state, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	imp, err := ga06.JuneMerged()
	if err != nil {
		t.Fatal(err)
	}
	n := len(state.Reports)
	return imp.Manifest, imp.Reports[:n], imp.Reports[n:]
}

// TestReconcileGA06: the state's county-level results and the counties'
// precinct files of the same contest agree, so there are no findings; one
// precinct's number changed is a finding naming its county; a missing
// precinct under a county report is an incomplete difference, and without
// the county's report an unreported unit.
func TestReconcileGA06(t *testing.T) {
	m, counties, precincts := ga06Runoff(t)
	r := newRC(t, ga06.JuneElection, m)
	ids := map[string]uuid.UUID{}
	for _, rep := range append(counties, precincts...) {
		ids[rep.Unit+" "+rep.Contest] = r.accept(rep)
	}
	if len(counties) != 3 || len(precincts) < 400 {
		t.Fatalf("%d county and %d precinct reports", len(counties), len(precincts))
	}
	r.check("the official results", findings(nil))

	const house = "us-representative-district-6"
	var addison *events.CountReport
	fultonPrecincts := int64(0)
	for _, rep := range precincts {
		if rep.Unit == "cobb:addison-01" && rep.Contest == house {
			addison = rep
		}
		if strings.HasPrefix(rep.Unit, "fulton:") && rep.Contest == house {
			fultonPrecincts++
		}
	}
	changed := *addison
	changed.Counts = slices.Clone(addison.Counts)
	for i, c := range changed.Counts {
		if c.Choice == "karen-handel" {
			changed.Counts[i].Votes++ // 737 → 738
		}
	}
	fix := r.accept(correction(ids["cobb:addison-01 "+house], &changed))
	cobb := findings([]projections.RollupFinding{{Contest: house, Unit: "cobb", Choice: "karen-handel", Own: 45688, Children: 45689,
		UnitsReported: 50, UnitsTotal: 50, Complete: true}})
	r.check("one precinct changed", cobb)
	r.accept(correction(fix, addison))
	r.check("changed back", findings(nil))

	// A Fulton precinct withdrawn: Fulton's own report still covers it.
	var fulton *events.CountReport
	for _, rep := range precincts {
		if strings.HasPrefix(rep.Unit, "fulton:") && rep.Contest == house {
			fulton = rep
			break
		}
	}
	r.accept(&events.Retraction{Retracts: ids[fulton.Unit+" "+house], Reason: "test", Source: events.Source{Operator: "clerk"}})
	got := r.e.Reconcile()
	if len(got.Rollup) != 2 || len(got.Unreported) != 0 {
		t.Fatalf("a Fulton precinct withdrawn: %+v", got)
	}
	for _, f := range got.Rollup {
		if f.Unit != "fulton" || f.Complete || f.VoteType != "" || f.UnitsReported != fultonPrecincts-1 || f.UnitsTotal != fultonPrecincts || f.Own <= f.Children {
			t.Errorf("a Fulton precinct withdrawn: %+v", f)
		}
	}
	r.accept(&events.Retraction{Retracts: ids["fulton "+house], Reason: "test", Source: events.Source{Operator: "clerk"}})
	r.check("Fulton's report withdrawn", findings(nil, unreported(house, 208, fulton.Unit)))
}
