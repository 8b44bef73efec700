package projections_test

// Roll-up rules of the projection: precincts sum into counties and the
// state, a county's own report overrides its precinct sum, retractions
// restore it, and the status follows NIST SP 1500-100.

import (
	"bytes"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

const (
	ruElection = "rollup-test"
	ruContest  = "h6"
	ruDay      = "election-day"
	ruMail     = "absentee"
)

// ruManifest: ga > cobb (3 precincts), fulton (3 precincts); one contest
// everywhere, one limited to fulton.
func ruManifest() *events.Manifest {
	return &events.Manifest{
		Name: "Roll-up", Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: ruDay, Name: "Election Day"}, {ID: ruMail, Name: "Absentee"}},
		Units: []events.Unit{
			{ID: "ga", Name: "Georgia", Kind: "state"},
			{ID: "cobb", Name: "Cobb", Kind: "county", Parent: "ga"},
			{ID: "fulton", Name: "Fulton", Kind: "county", Parent: "ga"},
			{ID: "cobb-01", Name: "Cobb 01", Kind: "precinct", Parent: "cobb"},
			{ID: "cobb-02", Name: "Cobb 02", Kind: "precinct", Parent: "cobb"},
			{ID: "cobb-03", Name: "Cobb 03", Kind: "precinct", Parent: "cobb"},
			{ID: "fulton-01", Name: "Fulton 01", Kind: "precinct", Parent: "fulton"},
			{ID: "fulton-02", Name: "Fulton 02", Kind: "precinct", Parent: "fulton"},
			{ID: "fulton-03", Name: "Fulton 03", Kind: "precinct", Parent: "fulton"},
		},
		Contests: []events.Contest{
			{ID: ruContest, Name: "House 6", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}},
			{ID: "fc", Name: "Fulton Commission", VoteFor: 1, Units: []string{"fulton"}, Choices: []events.Choice{{ID: "x", Name: "X"}, {ID: "y", Name: "Y"}}},
		},
	}
}

// ruRig applies events to a projection as the ledger's state machine does:
// Check decides the verdict, Apply folds the entry in. It flushes after
// every entry and keeps the cells and entries, for the purity check.
type ruRig struct {
	t       *testing.T
	e       *projections.Election
	entries []*events.Entry
	cells   map[string][]byte
}

func newRig(t *testing.T) *ruRig {
	t.Helper()
	m := ruManifest()
	e, err := projections.New(ruElection, m)
	if err != nil {
		t.Fatal(err)
	}
	r := &ruRig{t: t, e: e, cells: map[string][]byte{}}
	r.log(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: ruElection, Body: m}, events.Accepted, "")
	return r
}

func (r *ruRig) log(ev *events.Event, v events.Verdict, reason string) {
	r.t.Helper()
	en := &events.Entry{Index: uint64(len(r.entries)), Recorded: time.Date(2017, 4, 18, 19, 0, len(r.entries), 0, time.UTC), Verdict: v, Reason: reason, Event: ev}
	if err := r.e.Apply(en); err != nil {
		r.t.Fatalf("Apply entry %d: %v", en.Index, err)
	}
	r.entries = append(r.entries, en)
	if err := r.e.Flush(func(k string, v []byte) { r.cells[k] = bytes.Clone(v) }); err != nil {
		r.t.Fatal(err)
	}
}

// submit checks and applies one event and returns it with its rejection.
func (r *ruRig) submit(body events.Body) (*events.Event, *projections.Rejection) {
	r.t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: ruElection, Body: body}
	if err := ev.Validate(); err != nil {
		r.t.Fatalf("invalid test event: %v", err)
	}
	rj := r.e.Check(ev)
	if rj == nil {
		r.log(ev, events.Accepted, "")
	} else {
		r.log(ev, events.Rejected, rj.Reason)
	}
	return ev, rj
}

func (r *ruRig) accept(body events.Body) uuid.UUID {
	r.t.Helper()
	ev, rj := r.submit(body)
	if rj != nil {
		r.t.Fatalf("%s rejected: %s", ev.Type(), rj.Reason)
	}
	return ev.ID
}

func (r *ruRig) reject(body events.Body, reason string) {
	r.t.Helper()
	before := r.tally()
	ev, rj := r.submit(body)
	if rj == nil {
		r.t.Fatalf("%s accepted, want rejected for %q", ev.Type(), reason)
	}
	if !strings.Contains(rj.Reason, reason) {
		r.t.Errorf("%s rejected for %q, want %q", ev.Type(), rj.Reason, reason)
	}
	after := r.tally()
	if after.Rejected != before.Rejected+1 || after.Entries != before.Entries+1 || after.Accepted != before.Accepted {
		r.t.Errorf("rejection counters: before %d/%d/%d, after %d/%d/%d", before.Entries, before.Accepted, before.Rejected, after.Entries, after.Accepted, after.Rejected)
	}
	after.Entries, after.Rejected = before.Entries, before.Rejected
	if a, b := enc(r.t, after), enc(r.t, before); !bytes.Equal(a, b) {
		r.t.Errorf("a rejected %s changed the totals:\n%s\n%s", ev.Type(), b, a)
	}
}

func (r *ruRig) tally() *projections.Tally { return r.e.Tally() }

func enc(t *testing.T, tl *projections.Tally) []byte {
	t.Helper()
	b, err := tl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rep is a house report: a and b are election-day votes, with a tenth as
// many absentee.
func rep(unit string, a, b int64) *events.CountReport {
	return &events.CountReport{Unit: unit, Contest: ruContest, Source: events.Source{Operator: "clerk"}, Counts: []events.Count{
		{Choice: "a", VoteType: ruDay, Votes: a}, {Choice: "a", VoteType: ruMail, Votes: a / 10},
		{Choice: "b", VoteType: ruDay, Votes: b}, {Choice: "b", VoteType: ruMail, Votes: b / 10},
	}}
}

func fcRep(unit string, x, y int64) *events.CountReport {
	return &events.CountReport{Unit: unit, Contest: "fc", Source: events.Source{Operator: "clerk"}, Counts: []events.Count{
		{Choice: "x", VoteType: ruDay, Votes: x}, {Choice: "y", VoteType: ruDay, Votes: y},
	}}
}

func tot(v int64) int64 { return v + v/10 } // a report's total for a choice

// unitRow is the expected state of one unit of the house contest.
type unitRow struct {
	reported bool
	a, b     int64
	leaves   int64 // units_reported
}

// checkUnits compares the house contest's unit rows with want (units not
// in want must have no votes and no report).
func (r *ruRig) checkUnits(step string, want map[string]unitRow) {
	r.t.Helper()
	tl := r.tally()
	c := tl.Contests[0]
	if c.ID != ruContest {
		r.t.Fatalf("first contest is %s", c.ID)
	}
	totals := map[string]int64{"cobb": 3, "fulton": 3, "ga": 6}
	for _, u := range c.Units {
		w := want[u.ID]
		if u.Reported != w.reported || u.Votes["a"] != w.a || u.Votes["b"] != w.b || u.UnitsReported != w.leaves {
			r.t.Errorf("%s: unit %s = reported %v, a %d, b %d, units reported %d; want %+v",
				step, u.ID, u.Reported, u.Votes["a"], u.Votes["b"], u.UnitsReported, w)
		}
		wantTotal := totals[u.ID]
		if wantTotal == 0 {
			wantTotal = 1
		}
		if u.UnitsTotal != wantTotal {
			r.t.Errorf("%s: unit %s has %d units in total, want %d", step, u.ID, u.UnitsTotal, wantTotal)
		}
	}
	g := want["ga"]
	if c.Choices[0].Votes != g.a || c.Choices[1].Votes != g.b || c.TotalVotes != g.a+g.b || c.UnitsReported != g.leaves || c.UnitsTotal != 6 {
		r.t.Errorf("%s: contest a %d, b %d, total %d, units %d/%d; want %+v", step,
			c.Choices[0].Votes, c.Choices[1].Votes, c.TotalVotes, c.UnitsReported, c.UnitsTotal, g)
	}
	if sum := c.Choices[0].ByVoteType[ruDay] + c.Choices[0].ByVoteType[ruMail]; sum != c.Choices[0].Votes {
		r.t.Errorf("%s: choice a by vote type %v does not sum to %d", step, c.Choices[0].ByVoteType, c.Choices[0].Votes)
	}
	if want, got := projections.Share(g.a, g.a+g.b), c.Choices[0].Share; got != want {
		r.t.Errorf("%s: share of a %s, want %s", step, got, want)
	}
}

func (r *ruRig) status(step, want string) {
	r.t.Helper()
	if got := r.tally().Status; got != want || r.e.Status() != want {
		r.t.Errorf("%s: status %s, want %s", step, got, want)
	}
}

func TestRollup(t *testing.T) {
	r := newRig(t)
	r.status("start", "pre-election")
	r.checkUnits("start", nil)
	if fc := r.tally().Contests[1]; fc.UnitsTotal != 3 || len(fc.Units) != 5 {
		// fulton's 3 precincts, plus fulton and its ancestor ga as rows
		t.Errorf("scoped contest: %d units in total, %d rows; want 3 and 5", fc.UnitsTotal, len(fc.Units))
	}

	// Precinct reports roll up into the county and the state.
	c1 := r.accept(rep("cobb-01", 100, 50))
	c2 := r.accept(rep("cobb-02", 200, 80))
	r.status("two precincts", "unofficial-partial")
	r.checkUnits("two precincts", map[string]unitRow{
		"cobb-01": {true, tot(100), tot(50), 1}, "cobb-02": {true, tot(200), tot(80), 1},
		"cobb": {false, tot(100) + tot(200), tot(50) + tot(80), 2},
		"ga":   {false, tot(100) + tot(200), tot(50) + tot(80), 2},
	})
	if bv := r.tally().Contests[0].Choices[0].ByVoteType; bv[ruDay] != 300 || bv[ruMail] != 30 {
		t.Errorf("a by vote type = %v, want 300 and 30", bv)
	}

	// A county report overrides the precinct sum, and counts all its leaves.
	cobb := r.accept(rep("cobb", 400, 150))
	precincts := map[string]unitRow{
		"cobb-01": {true, tot(100), tot(50), 1}, "cobb-02": {true, tot(200), tot(80), 1},
	}
	withCounty := maps.Clone(precincts)
	withCounty["cobb"] = unitRow{true, tot(400), tot(150), 3}
	withCounty["ga"] = unitRow{false, tot(400), tot(150), 3}
	r.checkUnits("cobb county report", withCounty)

	// Precinct reports beneath a county report leave its total alone.
	c3 := r.accept(rep("cobb-03", 90, 10))
	withCounty["cobb-03"] = unitRow{true, tot(90), tot(10), 1}
	r.checkUnits("precinct under a county report", withCounty)
	f1 := r.accept(rep("fulton-01", 1000, 900))
	withCounty["fulton-01"] = unitRow{true, tot(1000), tot(900), 1}
	withCounty["fulton"] = unitRow{false, tot(1000), tot(900), 1}
	withCounty["ga"] = unitRow{false, tot(400) + tot(1000), tot(150) + tot(900), 4}
	r.checkUnits("fulton precinct", withCounty)

	// Retracting the county report restores the precinct sum.
	r.accept(&events.Retraction{Retracts: cobb, Reason: "county total entered by mistake", Source: events.Source{Operator: "clerk"}})
	state := maps.Clone(withCounty)
	state["cobb"] = unitRow{false, tot(100) + tot(200) + tot(90), tot(50) + tot(80) + tot(10), 3}
	state["ga"] = unitRow{false, tot(100) + tot(200) + tot(90) + tot(1000), tot(50) + tot(80) + tot(10) + tot(900), 4}
	r.checkUnits("county report retracted", state)
	if got := cobbRow(r).Version; got != 2 {
		t.Errorf("cobb's version is %d after its report and retraction, want 2", got)
	}
	// The retracted report can be neither retracted nor corrected again.
	r.reject(&events.Retraction{Retracts: cobb, Reason: "again", Source: events.Source{Operator: "clerk"}}, "not the current report")
	r.reject(&events.Correction{Corrects: cobb, Reason: "again", CountReport: *rep("cobb", 1, 1)}, "which has none")

	// Retracting a precinct report.
	r.accept(&events.Retraction{Retracts: c2, Reason: "wrong precinct", Source: events.Source{Operator: "clerk"}})
	delete(state, "cobb-02")
	state["cobb"] = unitRow{false, tot(100) + tot(90), tot(50) + tot(10), 2}
	state["ga"] = unitRow{false, tot(100) + tot(90) + tot(1000), tot(50) + tot(10) + tot(900), 3}
	r.checkUnits("precinct report retracted", state)

	// A correction replaces the current report; the superseded one cannot
	// be corrected.
	c1b := r.accept(&events.Correction{Corrects: c1, Reason: "re-read", CountReport: *rep("cobb-01", 110, 50)})
	r.reject(&events.Correction{Corrects: c1, Reason: "re-read", CountReport: *rep("cobb-01", 120, 50)}, "("+c1b.String()+" is)")
	r.reject(&events.Correction{Corrects: c3, Reason: "wrong unit", CountReport: *rep("cobb-01", 120, 50)}, "is not the current report")
	state["cobb-01"] = unitRow{true, tot(110), tot(50), 1}
	state["cobb"] = unitRow{false, tot(110) + tot(90), tot(50) + tot(10), 2}
	state["ga"] = unitRow{false, tot(110) + tot(90) + tot(1000), tot(50) + tot(10) + tot(900), 3}
	r.checkUnits("correction", state)

	// A fulton county report with only one precinct in counts all three.
	r.accept(rep("fulton", 3000, 2500))
	state["fulton"] = unitRow{true, tot(3000), tot(2500), 3}
	state["ga"] = unitRow{false, tot(110) + tot(90) + tot(3000), tot(50) + tot(10) + tot(2500), 5}
	r.checkUnits("fulton county report", state)
	r.status("one precinct missing", "unofficial-partial")

	// Every leaf of the house contest reported, but not the scoped contest.
	r.accept(rep("cobb-02", 210, 81))
	state["cobb-02"] = unitRow{true, tot(210), tot(81), 1}
	state["cobb"] = unitRow{false, tot(110) + tot(90) + tot(210), tot(50) + tot(10) + tot(81), 3}
	state["ga"] = unitRow{false, tot(110) + tot(90) + tot(210) + tot(3000), tot(50) + tot(10) + tot(81) + tot(2500), 6}
	r.checkUnits("house complete", state)
	r.status("house complete, fulton commission not", "unofficial-partial")
	r.reject(fcRep("cobb-01", 1, 2), `does not vote in contest "fc"`)
	r.accept(fcRep("fulton", 70, 30))
	r.status("all contests complete", "unofficial-complete")
	if fc := r.tally().Contests[1]; fc.UnitsReported != 3 || fc.TotalVotes != 100 || fc.Choices[0].Share != "70.00" {
		t.Errorf("scoped contest: %+v", fc)
	}

	// Certification, and changes only under a recount order.
	r.reject(&events.RecountOrder{By: "SoS", Reason: "close"}, "not certified")
	r.accept(&events.Certification{By: "SoS"})
	r.status("certified", "certified")
	r.reject(rep("cobb-03", 91, 10), "certified; a change needs a recount order")
	r.reject(&events.Correction{Corrects: c3, Reason: "late", CountReport: *rep("cobb-03", 91, 10)}, "a change needs a recount order")
	r.reject(&events.Retraction{Retracts: f1, Reason: "late", Source: events.Source{Operator: "clerk"}}, "a change needs a recount order")
	r.reject(&events.Certification{By: "SoS"}, "already certified")
	r.accept(&events.RecountOrder{By: "SoS", Reason: "margin under 0.5%"})
	r.status("recount ordered", "recount")
	r.reject(&events.RecountOrder{By: "SoS", Reason: "again"}, "already ordered")
	r.accept(&events.Correction{Corrects: c3, Reason: "recount", CountReport: *rep("cobb-03", 95, 10)})
	state["cobb-03"] = unitRow{true, tot(95), tot(10), 1}
	state["cobb"] = unitRow{false, tot(110) + tot(95) + tot(210), tot(50) + tot(10) + tot(81), 3}
	state["ga"] = unitRow{false, tot(110) + tot(95) + tot(210) + tot(3000), tot(50) + tot(10) + tot(81) + tot(2500), 6}
	r.checkUnits("recount correction", state)
	r.status("recount, changed", "recount")
	r.accept(&events.Certification{By: "SoS", Note: "after recount"})
	r.status("certified again", "certified")
	r.reject(rep("cobb-03", 96, 10), "a change needs a recount order")
	r.accept(&events.RecountOrder{By: "SoS", Reason: "court order"})
	r.status("second recount", "recount")

	tl := r.tally()
	if tl.Entries != uint64(len(r.entries)) || tl.Accepted+tl.Rejected != tl.Entries || tl.Rejected != 12 {
		t.Errorf("counters: %d entries (%d logged), %d accepted, %d rejected; want 12 rejected", tl.Entries, len(r.entries), tl.Accepted, tl.Rejected)
	}

	// The projection is a pure function of the entries: a replay flushed
	// once gives the cells flushed after every entry, and loading those
	// cells gives the same tally.
	replay, err := projections.New(ruElection, ruManifest())
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range r.entries {
		if err := replay.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	cells := map[string][]byte{}
	if err := replay.Flush(func(k string, v []byte) { cells[k] = bytes.Clone(v) }); err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(cells, r.cells, bytes.Equal) {
		t.Errorf("replayed cells (%d) differ from incrementally flushed ones (%d)", len(cells), len(r.cells))
	}
	if a, b := enc(t, replay.Tally()), enc(t, tl); !bytes.Equal(a, b) {
		t.Errorf("replayed tally differs:\n%s\n%s", a, b)
	}
	loaded, err := projections.Load(ruElection, func(fn func(string, []byte) error) error {
		for _, k := range sortedKeys(r.cells) {
			if err := fn(k, r.cells[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := enc(t, loaded.Tally()), enc(t, tl); !bytes.Equal(a, b) {
		t.Errorf("loaded tally differs:\n%s\n%s", a, b)
	}
	// A loaded projection continues like the original.
	next := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: ruElection, Body: &events.Correction{Corrects: c1b, Reason: "recount", CountReport: *rep("cobb-01", 111, 50)}}
	if rj := loaded.Check(next); rj != nil {
		t.Fatalf("loaded projection rejects a valid correction: %s", rj.Reason)
	}
	if rj := r.e.Check(next); rj != nil {
		t.Fatalf("original rejects a valid correction: %s", rj.Reason)
	}
	en := &events.Entry{Index: uint64(len(r.entries)), Recorded: time.Unix(0, 0).UTC(), Verdict: events.Accepted, Event: next}
	if err := loaded.Apply(en); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Apply(en); err != nil {
		t.Fatal(err)
	}
	if a, b := enc(t, loaded.Tally()), enc(t, r.e.Tally()); !bytes.Equal(a, b) {
		t.Errorf("after one more entry the loaded and original tallies differ:\n%s\n%s", a, b)
	}
}

func cobbRow(r *ruRig) projections.UnitTally {
	for _, u := range r.tally().Contests[0].Units {
		if u.ID == "cobb" {
			return u
		}
	}
	r.t.Fatal("no cobb row")
	return projections.UnitTally{}
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// A state-level report overrides everything beneath it.
func TestRollupStateReport(t *testing.T) {
	r := newRig(t)
	r.accept(rep("cobb-01", 100, 50))
	r.accept(rep("fulton", 1000, 900))
	ga := r.accept(rep("ga", 5000, 4000))
	r.checkUnits("state report", map[string]unitRow{
		"cobb-01": {true, tot(100), tot(50), 1},
		"cobb":    {false, tot(100), tot(50), 1},
		"fulton":  {true, tot(1000), tot(900), 3},
		"ga":      {true, tot(5000), tot(4000), 6},
	})
	r.status("state report", "unofficial-partial") // the fulton commission has none
	r.accept(&events.Retraction{Retracts: ga, Reason: "premature", Source: events.Source{Operator: "sos"}})
	r.checkUnits("state report retracted", map[string]unitRow{
		"cobb-01": {true, tot(100), tot(50), 1},
		"cobb":    {false, tot(100), tot(50), 1},
		"fulton":  {true, tot(1000), tot(900), 3},
		"ga":      {false, tot(100) + tot(1000), tot(50) + tot(900), 4},
	})
}

func TestShare(t *testing.T) {
	for _, c := range []struct {
		part, total int64
		want        string
	}{
		{92673, 192569, "48.12"}, // Ossoff, GA-06 special, 18 April 2017
		{38071, 192569, "19.77"}, // Handel
		{0, 0, "0.00"},
		{5, 0, "0.00"},
		{0, 10, "0.00"},
		{10, 10, "100.00"},
		{5, 10, "50.00"},
		{1, 3, "33.33"},
		{2, 3, "66.67"},
		{1, 8, "12.50"},
		{1, 800, "0.13"},    // 0.125 exactly: half up
		{23, 20000, "0.12"}, // 0.115 exactly: half up
		{1, 20000, "0.01"},  // 0.005 exactly: half up
		{1, 20001, "0.00"},  // just under half
		{1, 19999, "0.01"},  // just over half
		{9995, 10000, "99.95"},
		{99995, 100000, "100.00"}, // 99.995 rounds up to 100.00
		{99994, 100000, "99.99"},
		{1_000_000_000_000, 3_000_000_000_000, "33.33"},
	} {
		if got := projections.Share(c.part, c.total); got != c.want {
			t.Errorf("Share(%d, %d) = %q, want %q", c.part, c.total, got, c.want)
		}
	}
}

// TestShareLargeTotals: a contest's total can exceed what part*20000 holds
// in an int64 (events.MaxVotes per count, many counts and units); Share must
// not overflow.
func TestShareLargeTotals(t *testing.T) {
	for _, c := range []struct {
		part, total int64
		want        string
	}{
		{500_000_000_000_000, 1_000_000_000_000_000, "50.00"},
		{1_000_000_000_000_000, 1_000_000_000_000_000, "100.00"},
		{1 << 62, 1<<62 + 1<<61, "66.67"},
		{math.MaxInt64 / 3, math.MaxInt64, "33.33"},
		{math.MaxInt64, math.MaxInt64, "100.00"},
	} {
		if got := projections.Share(c.part, c.total); got != c.want {
			t.Errorf("Share(%d, %d) = %q, want %q", c.part, c.total, got, c.want)
		}
	}
}
