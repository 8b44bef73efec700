package projections

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Rejection is why the state machine refuses an event against the current
// state of its election.
type Rejection struct {
	Reason string
	// Reference is set when the event names something the election does not
	// have (contest, unit, choice, vote type): the edge refuses these before
	// they reach the stream.
	Reference bool
	// Conflict is set when the submitter's expected version is stale.
	Conflict bool
}

func (r *Rejection) Error() string { return r.Reason }

// ConflictPrefix starts the reason of every rejection for a stale expected
// version, so the rejection can be told apart in a stored entry.
const ConflictPrefix = "version conflict:"

func refErr(format string, args ...any) *Rejection {
	return &Rejection{Reason: fmt.Sprintf(format, args...), Reference: true}
}

func ruleErr(format string, args ...any) *Rejection {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

// Check decides whether ev may be applied to the election as it stands. It
// returns nil to accept, or the rejection. It does not change the election.
func (e *Election) Check(ev *events.Event) *Rejection {
	switch b := ev.Body.(type) {
	case *events.Manifest:
		return ruleErr("election %q is already defined; a manifest cannot be replaced", e.id)
	case *events.ManifestPart:
		return ruleErr("election %q is already defined; a manifest part is logged only with the manifest that defines an election", e.id)
	case *events.CountReport:
		return e.checkCounts(ev, b, uuid.Nil)
	case *events.Correction:
		return e.checkCounts(ev, &b.CountReport, b.Corrects)
	case *events.Retraction:
		ref, ok := e.current[b.Retracts]
		if !ok {
			return ruleErr("event %s is not the current report of any unit and contest (never logged here, superseded or already retracted)", b.Retracts)
		}
		if r := e.checkOpen(); r != nil {
			return r
		}
		return e.checkVersion(ev, ref)
	case *events.Certification:
		if e.certified && !e.recount {
			return ruleErr("election %q is already certified", e.id)
		}
	case *events.RecountOrder:
		switch {
		case !e.certified:
			return ruleErr("election %q is not certified; a recount order applies only to certified results", e.id)
		case e.recount:
			return ruleErr("a recount of election %q is already ordered", e.id)
		}
	case *events.KeyRegistration:
		return e.checkRegistration(b)
	case *events.KeyRevocation:
		return e.checkRevocation(b)
	default:
		return ruleErr("unknown event type %s", ev.Type())
	}
	return nil
}

// CheckReferences refuses an event that names a contest, unit, choice or
// vote type the election does not have, or a unit outside the contest. It
// reads only the manifest, which never changes, so it is safe to call
// concurrently with Apply.
func (e *Election) CheckReferences(ev *events.Event) *Rejection {
	if r := ev.Counts(); r != nil {
		_, rj := e.references(r, nil)
		return rj
	}
	if b, ok := ev.Body.(*events.KeyRegistration); ok {
		for _, u := range b.Units {
			if _, ok := e.unitIdx[u]; !ok {
				return refErr("unit %q is not in election %q", u, e.id)
			}
		}
	}
	return nil
}

// references resolves a report's names against the manifest. If cells is
// not nil, it is set to the cell of each count (choice × vote type); only
// the state machine's goroutine may pass cells, as it also updates the
// contest's lastCells.
func (e *Election) references(r *events.CountReport, cells *[]int) (nodeRef, *Rejection) {
	ci, ok := e.contestIx[r.Contest]
	if !ok {
		return nodeRef{}, refErr("contest %q is not in election %q", r.Contest, e.id)
	}
	ui, ok := e.unitIdx[r.Unit]
	if !ok {
		return nodeRef{}, refErr("unit %q is not in election %q", r.Unit, e.id)
	}
	c := e.contests[ci]
	if s := c.slot(ui); s < 0 || !c.inScope[s] {
		return nodeRef{}, refErr("unit %q does not vote in contest %q", r.Unit, r.Contest)
	}
	if cells != nil {
		*cells = (*cells)[:0]
	}
	nv := len(e.voteTypes)
	for i, cnt := range r.Counts {
		if cells != nil && i < len(c.lastCells) && c.lastCells[i].choice == cnt.Choice && c.lastCells[i].voteType == cnt.VoteType {
			// The same names as the last report of this contest had at
			// this place: usually the same strings, so this is cheaper
			// than the lookups.
			*cells = append(*cells, c.lastCells[i].cell)
			continue
		}
		ch, ok := c.choices[cnt.Choice]
		if !ok {
			return nodeRef{}, refErr("choice %q is not in contest %q", cnt.Choice, r.Contest)
		}
		vt, ok := e.voteTypes[cnt.VoteType]
		if !ok {
			return nodeRef{}, refErr("vote type %q is not in election %q", cnt.VoteType, e.id)
		}
		if cells != nil {
			*cells = append(*cells, ch*nv+vt)
			lc := namedCell{cnt.Choice, cnt.VoteType, ch*nv + vt}
			if i < len(c.lastCells) {
				c.lastCells[i] = lc
			} else if i == len(c.lastCells) && i < maxLastCells {
				c.lastCells = append(c.lastCells, lc)
			}
		}
	}
	return nodeRef{ci, ui}, nil
}

func (e *Election) checkCounts(ev *events.Event, r *events.CountReport, corrects uuid.UUID) *Rejection {
	e.resolved.r = nil
	ref, rj := e.references(r, &e.resolved.cells)
	if rj != nil {
		return rj
	}
	e.resolved.r, e.resolved.ref = r, ref
	c, ui := e.contests[ref.contest], ref.unit
	if corrects != uuid.Nil {
		cur := uuid.Nil
		if n := c.nodeAt(ui); n != nil {
			cur = n.current
		}
		if cur != corrects {
			if cur == uuid.Nil {
				return ruleErr("event %s is not the current report of unit %q in contest %q, which has none", corrects, r.Unit, r.Contest)
			}
			return ruleErr("event %s is not the current report of unit %q in contest %q (%s is)", corrects, r.Unit, r.Contest, cur)
		}
	}
	if rj := e.checkOpen(); rj != nil {
		return rj
	}
	return e.checkVersion(ev, ref)
}

func (e *Election) checkOpen() *Rejection {
	if e.certified && !e.recount {
		return ruleErr("election %q is certified; a change needs a recount order", e.id)
	}
	return nil
}

func (e *Election) checkVersion(ev *events.Event, ref nodeRef) *Rejection {
	if ev.ExpectedVersion == nil {
		return nil
	}
	var have uint64
	if n := e.contests[ref.contest].nodeAt(ref.unit); n != nil {
		have = n.version
	}
	if *ev.ExpectedVersion != have {
		return &Rejection{Conflict: true, Reason: fmt.Sprintf(ConflictPrefix+" expected version %d of unit %q in contest %q, but it is at version %d",
			*ev.ExpectedVersion, e.units[ref.unit].id, e.contests[ref.contest].def.ID, have)}
	}
	return nil
}

// Version returns the version of a (unit, contest): the number of accepted
// count changes applied to it. Unknown names give 0.
func (e *Election) Version(unit, contest string) uint64 {
	ci, ok1 := e.contestIx[contest]
	ui, ok2 := e.unitIdx[unit]
	if !ok1 || !ok2 {
		return 0
	}
	if n := e.contests[ci].nodeAt(ui); n != nil {
		return n.version
	}
	return 0
}

// namedCell is a count's choice and vote type, and its cell.
type namedCell struct {
	choice, voteType string
	cell             int
}

// maxLastCells bounds a contest's lastCells.
const maxLastCells = 256
