package nist

import (
	"fmt"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// rollups notes each unit whose counts differ from the sum of its
// children's, when all its children report.
func (b *builder) rollups(c *contestBuild, reps map[*unitInfo]*events.CountReport, units []*unitInfo) {
	totals := func(r *events.CountReport) map[string]int64 {
		t := map[string]int64{}
		for _, cnt := range r.Counts {
			t[cnt.Choice] += cnt.Votes
		}
		return t
	}
	for _, u := range units {
		if len(u.children) == 0 {
			continue
		}
		sum := map[string]int64{}
		all := true
		for _, ch := range u.children {
			r, ok := reps[ch]
			if !ok {
				all = false
				break
			}
			for k, v := range totals(r) {
				sum[k] += v
			}
		}
		if !all {
			continue
		}
		own := totals(reps[u])
		for _, ch := range c.def.Choices {
			if own[ch.ID] != sum[ch.ID] {
				b.finding(importer.FindingRollup, c.path, "GpUnit %q: %q has %d votes, but the units it is composed of sum to %d", u.atID, ch.ID, own[ch.ID], sum[ch.ID])
				break
			}
		}
	}
}

// turnout adds a turnout contest for the units' VotersRegistered and the
// election's BallotCounts, if the report has any.
func (b *builder) turnout(epath string, e *electionWire) error {
	c := &contestBuild{path: epath, district: b.root, scope: b.subtree(b.root), scopeRoots: []*unitInfo{b.root}}
	def := events.Contest{Name: "Turnout", Kind: events.KindTurnout}
	for _, u := range b.unitList {
		if importer.IsNull(u.registered) {
			continue
		}
		n, err := b.count(u.path, "VotersRegistered", u.registered)
		if err != nil {
			return err
		}
		if len(def.Choices) == 0 {
			def.Choices = append(def.Choices, events.Choice{ID: registered, Name: "Registered voters"})
		}
		c.entries = append(c.entries, entry{unit: u, voteType: totalType, vtName: countTypeNames[totalType], rollup: true, votes: n, path: u.path})
	}
	cast, nreg := len(def.Choices), len(c.entries)
	for i := range e.BallotCounts {
		bc := &e.BallotCounts[i]
		path := fmt.Sprintf("%s.BallotCounts[%d]", epath, i)
		if importer.IsNull(bc.BallotsCast) {
			continue // only ballots rejected or outstanding, which the ledger has no place for
		}
		en, err := b.countEntry(path, &bc.countWire, "BallotsCast", bc.BallotsCast)
		if err != nil {
			return err
		}
		if len(def.Choices) == cast {
			def.Choices = append(def.Choices, events.Choice{ID: ballotsCast, Name: "Ballots cast"})
		}
		en.choice = cast
		c.entries = append(c.entries, en)
	}
	if len(def.Choices) == 0 {
		return nil
	}
	def.ID = turnoutID
	for n := 2; b.contestIDs[def.ID]; n++ {
		def.ID = fmt.Sprintf("%s-%d", turnoutID, n)
	}
	b.contestIDs[def.ID] = true
	b.state(def.ID, registered, c.entries[:nreg])
	b.state(def.ID, ballotsCast, c.entries[nreg:])
	b.m.Contests = append(b.m.Contests, def)
	c.def = &b.m.Contests[len(b.m.Contests)-1]
	return b.finish(c)
}
