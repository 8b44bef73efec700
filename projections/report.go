package projections

import (
	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Current returns the current report of a unit for a contest: its event ID
// (uuid.Nil if none), its counts in the manifest's choice and vote-type
// order (zeros included, so as many as the contest has cells, at most
// events.MaxContestCells), and the version of the (unit, contest). Unknown
// names give uuid.Nil, nil and 0.
func (e *Election) Current(unit, contest string) (uuid.UUID, []events.Count, uint64) {
	ci, ok1 := e.contestIx[contest]
	ui, ok2 := e.unitIdx[unit]
	if !ok1 || !ok2 {
		return uuid.Nil, nil, 0
	}
	c := e.contests[ci]
	n := c.nodeAt(ui)
	if n == nil {
		return uuid.Nil, nil, 0
	}
	if !n.hasOwn {
		return uuid.Nil, nil, n.version
	}
	own := n.own
	out := make([]events.Count, 0, c.width)
	for _, ch := range c.def.Choices {
		for _, vt := range e.manifest.VoteTypes {
			var x int64
			if len(own) > 0 && own[0].at == len(out) {
				x = own[0].votes
				own = own[1:]
			}
			out = append(out, events.Count{Choice: ch.ID, VoteType: vt.ID, Votes: x})
		}
	}
	return n.current, out, n.version
}

// ReportOf returns the unit and contest of a current report by its event ID.
func (e *Election) ReportOf(id uuid.UUID) (unit, contest string, ok bool) {
	ref, ok := e.current[id]
	if !ok {
		return "", "", false
	}
	return e.units[ref.unit].id, e.contests[ref.contest].def.ID, true
}

// Totals returns a contest's totals for the whole election (its root
// unit's, as the Tally's choices have them): each choice's votes over all
// vote types, in manifest order; nil for an unknown contest. It costs what
// the contest's choices are, not what the election is.
func (e *Election) Totals(contest string) []int64 {
	ci, ok := e.contestIx[contest]
	if !ok {
		return nil
	}
	c := e.contests[ci]
	out := make([]int64, len(c.def.Choices))
	if n := c.nodes[0]; n != nil {
		nv := len(e.voteTypes)
		for _, x := range n.total() {
			out[x.at/nv] += x.votes
		}
	}
	return out
}
