package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// generator makes a synthetic election: a state of 10 counties with 1,000
// precincts each, one contest of four candidates, two vote types. Its count
// reports encode to about 500 bytes, like a real precinct report.
type generator struct {
	election string
	rng      *rand.Rand
	units    []string
}

func newGenerator(election string) *generator {
	g := &generator{election: election, rng: rand.New(rand.NewPCG(1, 2))}
	for c := range 10 {
		for p := range 1000 {
			g.units = append(g.units, fmt.Sprintf("c%02d-p%04d", c, p))
		}
	}
	return g
}

func (g *generator) manifest() *events.Manifest {
	m := &events.Manifest{
		Name: "Synthetic statewide election", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "absentee-by-mail", Name: "Absentee by Mail"}},
		Units:     []events.Unit{{ID: "state", Name: "State", Kind: "state"}},
		Contests: []events.Contest{{ID: "governor", Name: "Governor", VoteFor: 1, Choices: []events.Choice{
			{ID: "cand-a", Name: "Candidate A"}, {ID: "cand-b", Name: "Candidate B"},
			{ID: "cand-c", Name: "Candidate C"}, {ID: "cand-d", Name: "Candidate D"}}}},
	}
	for c := range 10 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("c%02d", c), Name: fmt.Sprintf("County %d", c), Kind: "county", Parent: "state"})
	}
	for _, u := range g.units {
		m.Units = append(m.Units, events.Unit{ID: u, Name: "Precinct " + u, Kind: "precinct", Parent: u[:3]})
	}
	return m
}

// manifestEvents returns the events that carry the election's manifest,
// signed by the bench key: in parts, since it is too large for one
// (events.SplitManifest).
func (g *generator) manifestEvents() ([]*events.Event, error) {
	m := g.manifest()
	m.Authority = benchKey().Verifier
	return events.SplitManifest(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: g.election, Body: m})
}

func (g *generator) report() *events.Event {
	r := &events.CountReport{
		Unit: g.units[g.rng.IntN(len(g.units))], Contest: "governor",
		Source: events.Source{Operator: "county-clerk"},
	}
	for _, ch := range []string{"cand-a", "cand-b", "cand-c", "cand-d"} {
		for _, vt := range []string{"absentee-by-mail", "election-day"} {
			r.Counts = append(r.Counts, events.Count{Choice: ch, VoteType: vt, Votes: int64(g.rng.IntN(900))})
		}
	}
	return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: g.election, Body: r}
}
