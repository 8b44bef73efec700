// Package projections folds an election's log into current totals: per
// contest, choice, reporting unit and vote type, rolled up the unit
// hierarchy, with reporting progress and status.
//
// For most uses, call [New] with an election's manifest, [Election.Apply]
// each entry in log order, and [Election.Tally] for the document.
//
// # Guarantees
//
// A projection is a pure function of the entries applied to it: applying the
// same entries gives the same cells ([Election.Flush]) and the same tally
// bytes, whether it was built incrementally or rebuilt from the log. Its size
// depends on the manifest (contests × units × choices × vote types), never on
// the length of the log.
//
// # Rules
//
// A unit's total for a contest is its own current report when it has one,
// otherwise the sum of its children's totals. So a county report and its
// precinct reports never count twice; their difference is an audit finding.
// A unit counts as reported when it, or an ancestor, has a current report.
package projections

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Election is the projection of one election's log. It is not safe for
// concurrent use; the ledger's state machine owns it.
type Election struct {
	id       string
	manifest *events.Manifest
	size     uint64 // entries applied
	accepted uint64
	rejected uint64
	// certified is set by a certification, recount by a recount order; a
	// new certification clears recount.
	certified, recount bool
	// correcting is set when the latest accepted count change was a
	// correction or a retraction, cleared by a new count report.
	correcting bool

	voteTypes map[string]int
	units     []unit
	unitIdx   map[string]int
	contests  []*contest
	contestIx map[string]int
	// current maps each current report's event ID to its node.
	current map[uuid.UUID]nodeRef

	dirtyMeta bool
	dirty     []nodeRef // nodes changed since the last Flush, each once (node.dirty)
	newlyMade bool      // manifest not yet flushed

	// resolved is what Check last resolved of a count report: its node
	// and the cell of each count. Apply reuses it for the same report, as
	// a state machine checks an entry and then applies it, so each name
	// is looked up once. It is not state: snapshots leave it out.
	resolved struct {
		r     *events.CountReport
		ref   nodeRef
		cells []int
	}
}

type unit struct {
	id       string
	parent   int // -1 for the root
	children []int
}

type contest struct {
	def     *events.Contest
	choices map[string]int
	inScope []bool  // per unit: counts may be reported for it
	tracked []bool  // per unit: in scope, or an ancestor of a scope root
	leaves  []int64 // per unit: in-scope leaves beneath it, itself included
	nodes   []*node // per unit; nil until a report touches it
	width   int     // choices × vote types
	// lastCells are the names and cells of the counts of the last report
	// checked, in order: reports of one contest mostly name the same
	// choices and vote types in the same order (Election.references).
	lastCells []namedCell
	allLeafs  int64   // in-scope leaves of the whole election
	delta     []int64 // scratch for change
}

type nodeRef struct{ contest, unit int }

// node is the state of one (contest, unit).
type node struct {
	version     uint64    // count changes applied to this unit and contest
	current     uuid.UUID // the current report, uuid.Nil if none
	own         []int64   // the current report's counts; nil if none
	child       []int64   // sum of the children's totals
	childLeaves int64     // in-scope leaves reported beneath, via children
	dirty       bool      // in Election.dirty: changed since the last Flush
}

func (n *node) total() []int64 {
	if n.own != nil {
		return n.own
	}
	return n.child
}

// New starts the projection of an election from its manifest, the body of
// its first entry. The manifest must have passed events validation.
func New(election string, m *events.Manifest) (*Election, error) {
	e := &Election{
		id: election, manifest: m,
		voteTypes: map[string]int{}, unitIdx: map[string]int{}, contestIx: map[string]int{},
		current:   map[uuid.UUID]nodeRef{},
		dirtyMeta: true, newlyMade: true,
	}
	for i, vt := range m.VoteTypes {
		e.voteTypes[vt.ID] = i
	}
	for i, u := range m.Units {
		p := -1
		if u.Parent != "" {
			var ok bool
			if p, ok = e.unitIdx[u.Parent]; !ok {
				return nil, fmt.Errorf("manifest of %s: unit %q has unknown parent %q", election, u.ID, u.Parent)
			}
			e.units[p].children = append(e.units[p].children, i)
		}
		e.unitIdx[u.ID] = i
		e.units = append(e.units, unit{id: u.ID, parent: p})
	}
	for i := range m.Contests {
		c := &m.Contests[i]
		ct := &contest{
			def: c, choices: map[string]int{},
			inScope: make([]bool, len(e.units)), tracked: make([]bool, len(e.units)),
			leaves: make([]int64, len(e.units)), nodes: make([]*node, len(e.units)),
			width: len(c.Choices) * len(m.VoteTypes),
		}
		for j, ch := range c.Choices {
			ct.choices[ch.ID] = j
		}
		roots := c.Units
		if len(roots) == 0 {
			roots = []string{m.Units[0].ID}
		}
		for _, r := range roots {
			ri, ok := e.unitIdx[r]
			if !ok {
				return nil, fmt.Errorf("manifest of %s: contest %q names unknown unit %q", election, c.ID, r)
			}
			e.markScope(ct, ri)
			for p := e.units[ri].parent; p >= 0; p = e.units[p].parent {
				ct.tracked[p] = true
			}
		}
		// Units come parents first, so a reverse walk sums leaves bottom-up.
		for u := len(e.units) - 1; u >= 0; u-- {
			if ct.inScope[u] && len(e.units[u].children) == 0 {
				ct.leaves[u]++
				ct.allLeafs++
			}
			if p := e.units[u].parent; p >= 0 && ct.tracked[u] {
				ct.leaves[p] += ct.leaves[u]
			}
		}
		e.contestIx[c.ID] = i
		e.contests = append(e.contests, ct)
	}
	return e, nil
}

func (e *Election) markScope(c *contest, u int) {
	c.inScope[u], c.tracked[u] = true, true
	for _, ch := range e.units[u].children {
		e.markScope(c, ch)
	}
}

// ID returns the election ID.
func (e *Election) ID() string { return e.id }

// Manifest returns the election's manifest. Callers must not modify it.
func (e *Election) Manifest() *events.Manifest { return e.manifest }

// Size returns the number of log entries applied.
func (e *Election) Size() uint64 { return e.size }

// Status returns the election's NIST SP 1500-100 results status:
// pre-election, unofficial-partial, unofficial-complete, certified or recount.
func (e *Election) Status() string {
	switch {
	case e.recount:
		return "recount"
	case e.certified:
		return "certified"
	}
	any, all := false, true
	for _, c := range e.contests {
		r := c.reportedLeaves(0)
		any = any || r > 0
		all = all && r == c.allLeafs
	}
	switch {
	case all && any:
		return "unofficial-complete"
	case any:
		return "unofficial-partial"
	}
	return "pre-election"
}

// Correcting reports whether the election's latest accepted count change
// (a count report, correction or retraction) was a correction or a
// retraction: results published before it have been corrected. NIST
// SP 1500-100 calls such a report a "correction". Certifications and
// recount orders leave it as it is.
func (e *Election) Correcting() bool { return e.correcting }

// reportedLeaves is the number of in-scope leaves under unit u with a report.
func (c *contest) reportedLeaves(u int) int64 {
	n := c.nodes[u]
	switch {
	case n == nil:
		return 0
	case n.own != nil:
		return c.leaves[u]
	}
	return n.childLeaves
}

// markDirty notes that node n, at ref, changed since the last Flush.
func (e *Election) markDirty(n *node, ref nodeRef) {
	if !n.dirty {
		n.dirty = true
		e.dirty = append(e.dirty, ref)
	}
}

func (c *contest) node(u int) *node {
	if c.nodes[u] == nil {
		c.nodes[u] = &node{}
	}
	return c.nodes[u]
}

// Apply folds the next entry of the log into the projection. The entry's
// verdict must be the one [Election.Check] gave, as the state machine does;
// rejected entries only advance the size.
func (e *Election) Apply(en *events.Entry) error {
	if en.Index != e.size {
		return fmt.Errorf("projection of %s: entry %d applied at size %d", e.id, en.Index, e.size)
	}
	e.size++
	e.dirtyMeta = true
	if en.Verdict != events.Accepted {
		e.rejected++
		return nil
	}
	e.accepted++
	switch b := en.Event.Body.(type) {
	case *events.Manifest:
		if en.Index != 0 {
			return fmt.Errorf("projection of %s: manifest accepted at entry %d", e.id, en.Index)
		}
	case *events.CountReport:
		e.correcting = false
		return e.setCounts(en.Event.ID, b)
	case *events.Correction:
		e.correcting = true
		return e.setCounts(en.Event.ID, &b.CountReport)
	case *events.Retraction:
		ref, ok := e.current[b.Retracts]
		if !ok {
			return fmt.Errorf("projection of %s: entry %d retracts %s, which is not current", e.id, en.Index, b.Retracts)
		}
		e.correcting = true
		e.change(ref, uuid.Nil, nil)
	case *events.Certification:
		e.certified, e.recount = true, false
	case *events.RecountOrder:
		e.recount = true
	default:
		return fmt.Errorf("projection of %s: entry %d has unknown type %s", e.id, en.Index, en.Event.Type())
	}
	return nil
}

func (e *Election) setCounts(id uuid.UUID, r *events.CountReport) error {
	ci, ok := e.contestIx[r.Contest]
	if !ok {
		return fmt.Errorf("projection of %s: unknown contest %q", e.id, r.Contest)
	}
	ui, ok := e.unitIdx[r.Unit]
	if !ok {
		return fmt.Errorf("projection of %s: unknown unit %q", e.id, r.Unit)
	}
	c := e.contests[ci]
	v := make([]int64, c.width)
	if res := &e.resolved; res.r == r && res.ref == (nodeRef{ci, ui}) {
		for i, cnt := range r.Counts {
			v[res.cells[i]] = cnt.Votes
		}
		res.r = nil
		e.change(res.ref, id, v)
		return nil
	}
	nv := len(e.voteTypes)
	for _, cnt := range r.Counts {
		ch, ok1 := c.choices[cnt.Choice]
		vt, ok2 := e.voteTypes[cnt.VoteType]
		if !ok1 || !ok2 {
			return fmt.Errorf("projection of %s: unknown choice %q or vote type %q", e.id, cnt.Choice, cnt.VoteType)
		}
		v[ch*nv+vt] = cnt.Votes
	}
	e.change(nodeRef{ci, ui}, id, v)
	return nil
}

// change replaces the own report of a node and rolls the difference up.
func (e *Election) change(ref nodeRef, id uuid.UUID, own []int64) {
	c := e.contests[ref.contest]
	n := c.node(ref.unit)
	// Not a copy: below, n.own is replaced, never written to, and n.child
	// changes only when a descendant's report does.
	oldTotal := n.total()
	oldLeaves := c.reportedLeaves(ref.unit)
	if n.current != uuid.Nil {
		delete(e.current, n.current)
	}
	n.version++
	n.current, n.own = id, own
	if id != uuid.Nil {
		e.current[id] = ref
	}
	e.markDirty(n, ref)

	if cap(c.delta) < c.width {
		c.delta = make([]int64, c.width)
	}
	delta := c.delta[:c.width]
	clear(delta)
	for i, x := range n.total() {
		delta[i] += x
	}
	for i, x := range oldTotal {
		delta[i] -= x
	}
	dLeaves := c.reportedLeaves(ref.unit) - oldLeaves
	for p := e.units[ref.unit].parent; p >= 0; p = e.units[p].parent {
		pn := c.node(p)
		if pn.child == nil {
			pn.child = make([]int64, c.width)
		}
		for i, d := range delta {
			pn.child[i] += d
		}
		pn.childLeaves += dLeaves
		e.markDirty(pn, nodeRef{ref.contest, p})
		if pn.own != nil {
			break // its own report stands; its total, and its parent's, are unchanged
		}
	}
}
