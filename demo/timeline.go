// Package demo replays the GA-06 2017 elections as an election night: the
// April 18 special election and the June 20 runoff, from the official
// results shipped in the repository, through a real ledger.
//
// For most uses, call [Run] with a running ledger.
//
// The timeline is simulated: the official files give only final results,
// so the order and the times of the reports, the partial counts before the
// final ones, the held-back county, the mistaken report and its correction
// are made up. The final totals are the official ones, and the demo checks
// that they are.
package demo

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/ga06"
)

// Step is one moment of the night: what happens, and the events that
// report it.
type Step struct {
	Election string
	Clock    time.Time // simulated local time of the step
	Say      string    // what happens, for people
	Events   []*events.Event
	// Verbose steps are printed only when something crosses a line: the
	// June precincts arrive one by one.
	Verbose bool
}

// Night is the replayed night of one election.
type Night struct {
	Election string
	Title    string
	Race     string // the contest followed: its leader's share is printed
	Steps    []Step
}

// eastern is the election's time zone. A fixed offset (EDT), so that the
// timeline does not depend on the machine's time zone database.
var eastern = time.FixedZone("EDT", -4*60*60)

// Nights builds the two nights: April 18 and June 20, 2017.
func Nights() ([]*Night, error) {
	april, err := ga06.April()
	if err != nil {
		return nil, err
	}
	june, err := ga06.JuneMerged()
	if err != nil {
		return nil, err
	}
	juneCounties, err := ga06.June()
	if err != nil {
		return nil, err
	}
	a, err := aprilNight(april)
	if err != nil {
		return nil, err
	}
	j, err := juneNight(june, len(juneCounties.Reports))
	if err != nil {
		return nil, err
	}
	return []*Night{a, j}, nil
}

// builder hands out deterministic event IDs (importer.DerivedID) from the
// step's simulated time, the election and a counter.
type builder struct {
	election string
	n        uint64
	steps    []Step
}

func (b *builder) id(at time.Time) uuid.UUID {
	b.n++
	return importer.DerivedID(uint64(at.UnixMilli()), "demo", b.election, strconv.FormatUint(b.n, 10))
}

func (b *builder) event(at time.Time, body events.Body) *events.Event {
	return &events.Event{ID: b.id(at), Election: b.election, Body: body}
}

func (b *builder) step(at time.Time, say string, bodies ...events.Body) []*events.Event {
	s := Step{Election: b.election, Clock: at, Say: say}
	for _, body := range bodies {
		s.Events = append(s.Events, b.event(at, stamped(body, at)))
	}
	b.steps = append(b.steps, s)
	return s.Events
}

// sourceVersion is the source version of the demo's reports made at a
// simulated time: the time, RFC 3339 with the election's offset
// ("2017-04-18T19:32:00-04:00"). Each entry's recorded time is the
// ledger's own, when the replay logged it; the simulated night is in its
// report's source version (and in its event ID, a UUIDv7 of that time).
func sourceVersion(at time.Time) string { return at.Format(time.RFC3339) }

// simulatedOperator marks the reports of the official files (the runoff's)
// whose times the demo made up: their file and SHA-256 are the official
// file's, the version is simulated.
const simulatedOperator = "demo replay, simulated time"

// stamped returns a copy of a count report or correction whose source
// version is the simulated time of its step; other bodies as they are.
func stamped(body events.Body, at time.Time) events.Body {
	stamp := func(s *events.Source) {
		s.Version = sourceVersion(at)
		if s.Operator == "" {
			s.Operator = simulatedOperator
		}
	}
	switch r := body.(type) {
	case *events.CountReport:
		c := *r
		stamp(&c.Source)
		return &c
	case *events.Correction:
		c := *r
		stamp(&c.Source)
		return &c
	}
	return body
}

// scaled returns a copy of the report with each vote type's counts set to
// the final count times its fraction (num/den), rounded down; vote types
// not in fractions are 0.
func scaled(r *events.CountReport, fractions map[string][2]int64, source string) *events.CountReport {
	out := &events.CountReport{Unit: r.Unit, Contest: r.Contest, Source: events.Source{Operator: source}}
	for _, c := range r.Counts {
		f := fractions[c.VoteType]
		v := int64(0)
		if f[1] != 0 {
			v = c.Votes * f[0] / f[1]
		}
		out.Counts = append(out.Counts, events.Count{Choice: c.Choice, VoteType: c.VoteType, Votes: v})
	}
	return out
}

// reportsOf returns the county's reports, one per contest, in manifest order.
func reportsOf(imp *importer.Import, unit string) []*events.CountReport {
	var out []*events.CountReport
	for _, r := range imp.Reports {
		if r.Unit == unit {
			out = append(out, r)
		}
	}
	return out
}

func aprilNight(imp *importer.Import) (*Night, error) {
	b := &builder{election: imp.Election}
	day := time.Date(2017, 4, 18, 0, 0, 0, 0, eastern)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	early := map[string][2]int64{"advance-in-person": {1, 1}, "absentee-by-mail": {1, 1}}
	withDay := func(k int64) map[string][2]int64 {
		f := map[string][2]int64{"advance-in-person": {1, 1}, "absentee-by-mail": {1, 1}, "election-day": {k, 4}}
		if k == 4 {
			f["provisional"] = [2]int64{1, 1}
		}
		return f
	}
	source := "simulated from export-2017AprSpec.json"
	report := func(county string, f map[string][2]int64) []events.Body {
		var out []events.Body
		for _, r := range reportsOf(imp, county) {
			out = append(out, scaled(r, f, source))
		}
		return out
	}

	b.step(at(19, 0), "Polls close. The Secretary of State defines the election (contests, candidates, counties, vote types) and registers each county office's key", imp.Manifest)
	b.step(at(19, 32), "Cobb: advance and absentee votes", report("cobb", early)...)
	b.step(at(19, 48), "DeKalb: advance and absentee votes", report("dekalb", early)...)
	b.step(at(20, 5), "Fulton County's results are held back; they will arrive late")
	b.steps[len(b.steps)-1].Events = nil
	for k := int64(1); k <= 4; k++ {
		b.step(at(20+int(k)-1, 20), fmt.Sprintf("Cobb: election-day votes, %d%% counted", 25*k), report("cobb", withDay(k))...)
		evs := b.step(at(20+int(k)-1, 40), fmt.Sprintf("DeKalb: election-day votes, %d%% counted", 25*k), report("dekalb", withDay(k))...)
		if k == 2 {
			// The mistake: DeKalb's 50% report has two digits of one count
			// swapped; it is corrected before the 75% report supersedes it.
			if err := mistype(b, imp.Manifest, evs, at(21, 52)); err != nil {
				return nil, err
			}
		}
	}
	b.step(at(23, 55), "Fulton, at last: advance and absentee votes", report("fulton", early)...)
	for k := int64(1); k <= 4; k++ {
		b.step(at(23, 55).Add(time.Duration(k)*20*time.Minute), fmt.Sprintf("Fulton: election-day votes, %d%% counted", 25*k), report("fulton", withDay(k))...)
	}
	certified := time.Date(2017, 4, 28, 12, 0, 0, 0, eastern)
	b.step(certified, "The results are certified", certification(certified))
	return &Night{Election: imp.Election, Title: "April 18, 2017: special election, Georgia's 6th district", Race: imp.Manifest.Contests[0].ID, Steps: b.steps}, nil
}

// mistype adds the mistaken report's correction: the first report of evs
// is replaced, before it is logged, by one with two digits of its largest
// election-day count swapped, and a correction with the right counts
// follows at the given time.
func mistype(b *builder, m *events.Manifest, evs []*events.Event, at time.Time) error {
	if len(evs) == 0 {
		return fmt.Errorf("demo: no report to mistype")
	}
	right := evs[0].Body.(*events.CountReport)
	wrong := *right
	wrong.Counts = slices.Clone(right.Counts)
	best := -1
	for i, c := range wrong.Counts {
		if c.VoteType == "election-day" && (best < 0 || c.Votes > wrong.Counts[best].Votes) {
			best = i
		}
	}
	if best < 0 {
		return fmt.Errorf("demo: no election-day count to mistype")
	}
	v := fmt.Sprint(wrong.Counts[best].Votes)
	if len(v) < 2 {
		return fmt.Errorf("demo: count %s too small to mistype", v)
	}
	sw := []byte(v)
	sw[len(sw)-2], sw[len(sw)-1] = sw[len(sw)-1], sw[len(sw)-2]
	if sw[len(sw)-2] == sw[len(sw)-1] {
		sw[0], sw[1] = sw[1], sw[0]
	}
	var mistyped int64
	fmt.Sscan(string(sw), &mistyped)
	wrong.Counts[best].Votes = mistyped
	evs[0].Body = &wrong
	who := wrong.Counts[best].Choice
	for _, c := range m.Contests {
		for _, ch := range c.Choices {
			if c.ID == wrong.Contest && ch.ID == who {
				who = ch.Name
			}
		}
	}
	reason := fmt.Sprintf("data entry error: %s's election-day count was typed %d, the tabulator says %d", who, mistyped, right.Counts[best].Votes)
	b.step(at, "DeKalb corrects its last report: "+reason,
		&events.Correction{Corrects: evs[0].ID, Reason: reason, CountReport: *right})
	return nil
}

// juneNight replays the merged runoff: its first n reports are the
// state's, by county, the rest the precincts'.
func juneNight(merged *importer.Import, n int) (*Night, error) {
	b := &builder{election: merged.Election}
	day := time.Date(2017, 6, 20, 0, 0, 0, 0, eastern)
	t := day.Add(19 * time.Hour)
	b.step(t, "Polls close. The Secretary of State defines the runoff (208 precincts in 3 counties) and registers each county office's key", merged.Manifest)
	byCounty := map[string][]*events.CountReport{}
	parent := map[string]string{}
	for _, u := range merged.Manifest.Units {
		parent[u.ID] = u.Parent
	}
	for _, r := range merged.Reports[n:] {
		c := parent[r.Unit]
		byCounty[c] = append(byCounty[c], r)
	}
	// Precinct by precinct: DeKalb, then Cobb; Fulton's held back until
	// the end.
	t = t.Add(40 * time.Minute)
	for _, county := range []string{"dekalb", "cobb", "fulton"} {
		if county == "fulton" {
			b.step(t, "Fulton County's precincts arrive late")
		}
		rs := byCounty[county]
		for i := 0; i < len(rs); {
			// A precinct's reports (the race and its turnout) go together.
			j := i + 1
			for j < len(rs) && rs[j].Unit == rs[i].Unit {
				j++
			}
			bodies := make([]events.Body, 0, j-i)
			for _, r := range rs[i:j] {
				bodies = append(bodies, r)
			}
			t = t.Add(45 * time.Second)
			b.step(t, "precinct "+rs[i].Unit, bodies...)
			b.steps[len(b.steps)-1].Verbose = true
			i = j
		}
	}
	var official []events.Body
	for _, r := range merged.Reports[:n] {
		official = append(official, r)
	}
	b.step(t.Add(30*time.Minute), "Each county's official county-level results, by vote type, are logged beside its precincts' (their sums agree, see `ledger audit reconcile`)", official...)
	certified := time.Date(2017, 6, 26, 12, 0, 0, 0, eastern)
	b.step(certified, "The results are certified", certification(certified))
	return &Night{Election: merged.Election, Title: "June 20, 2017: the runoff", Race: merged.Manifest.Contests[0].ID, Steps: b.steps}, nil
}

// certification is the simulated certification of a given day: the event
// has no time of its own, so its note says which.
func certification(at time.Time) *events.Certification {
	return &events.Certification{By: "Georgia Secretary of State (simulated)",
		Note: "certification simulated by the demo, dated " + at.Format("January 2, 2006") + "; the totals are the official ones"}
}
