package logcheck

import (
	"cmp"

	"github.com/election-audit/ledger/events"
)

// Labels gives the names a manifest has for units, contests, choices and
// vote types, for lines people read ([Change]s as `ledger audit diff` and
// `ledger watch` print them); an ID it has no name for is shown as it is.
// Its maps are made once per manifest: a statewide one has thousands of
// units. The zero Labels gives IDs.
type Labels struct {
	m         *events.Manifest
	units     map[string]string
	voteTypes map[string]string
	contests  map[string]*events.Contest
}

// Use makes l give the names of m (nil: IDs), and returns l. A monitor
// calls it with the manifest as far as it has it (its first part, then the
// whole): the maps are made again only when m changes.
func (l *Labels) Use(m *events.Manifest) *Labels {
	if m == l.m {
		return l
	}
	*l = Labels{m: m, units: map[string]string{}, voteTypes: map[string]string{}, contests: map[string]*events.Contest{}}
	if m == nil {
		return l
	}
	for _, u := range m.Units {
		l.units[u.ID] = u.Name
	}
	for _, vt := range m.VoteTypes {
		l.voteTypes[vt.ID] = vt.Name
	}
	for i := range m.Contests {
		l.contests[m.Contests[i].ID] = &m.Contests[i]
	}
	return l
}

// Manifest is the manifest l names from, or nil.
func (l *Labels) Manifest() *events.Manifest { return l.m }

// Unit names a unit: "DeKalb County".
func (l *Labels) Unit(id string) string { return cmp.Or(l.units[id], id) }

// VoteType names a vote type: "Election Day".
func (l *Labels) VoteType(id string) string { return cmp.Or(l.voteTypes[id], id) }

// ContestOf returns the manifest's contest of an ID, or nil.
func (l *Labels) ContestOf(id string) *events.Contest { return l.contests[id] }

// Contest names a contest: "U.S. Representative, District 6".
func (l *Labels) Contest(id string) string {
	if ct := l.contests[id]; ct != nil && ct.Name != "" {
		return ct.Name
	}
	return id
}

// Choice names a choice of a contest: "Jon Ossoff".
func (l *Labels) Choice(contest, id string) string {
	if ct := l.contests[contest]; ct != nil {
		for _, ch := range ct.Choices {
			if ch.ID == id {
				return cmp.Or(ch.Name, id)
			}
		}
	}
	return id
}

// Place names a report's unit and contest: "DeKalb County, U.S.
// Representative, District 6".
func (l *Labels) Place(unit, contest string) string {
	return l.Unit(unit) + ", " + l.Contest(contest)
}
