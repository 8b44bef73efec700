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
// follows the manifest's size (units, contests, and the units each
// contest's tally shows) and the counts reported, never the manifest's
// declared widths (choices × vote types × units) nor the length of the log:
// a unit's totals hold only the cells that are not zero.
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
	"slices"

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
	// allInScope and allLeaves are the scope and leaves of every contest
	// voted everywhere (contest.all), read only.
	allInScope []bool
	allLeaves  []int64
	contests   []*contest
	contestIx  map[string]int
	// current maps each current report's event ID to its node.
	current map[uuid.UUID]nodeRef

	// reporters are the registered reporter keys, by verifier key
	// (signers.go); reportersShared is set once a Signers view holds the
	// map, which is then copied before it changes.
	reporters       map[string]reporter
	reportersShared bool
	dirtyKeys       []string // reporters changed since the last Flush

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
	leaves   int64 // leaves beneath it, itself included
}

// contest is the state of one contest. Its per-unit state covers only the
// units its tally shows ("tracked": those in its scope, and their
// ancestors), each at a slot: a contest voted in three precincts of a
// 10,000-unit election costs a few slots, not 10,000.
type contest struct {
	def     *events.Contest
	choices map[string]int
	// all is set when every unit is tracked and in scope (no scope, or the
	// root in it): unit u is at slot u, and units is nil. Otherwise units
	// lists the tracked units in manifest order, and unit units[s] is at
	// slot s.
	all   bool
	units []int
	// Per slot: whether counts may be reported for the unit (in scope, not
	// only an ancestor of the scope), the in-scope leaves beneath it
	// (itself included), and its node, nil until a report touches it.
	inScope []bool
	leaves  []int64
	nodes   []*node
	width   int // choices × vote types
	// lastCells are the names and cells of the counts of the last report
	// checked, in order: reports of one contest mostly name the same
	// choices and vote types in the same order (Election.references).
	lastCells []namedCell
	// delta and merged are scratch for change; they grow to the largest
	// change made, never to the width.
	delta, merged []cell
}

// slot returns where unit u's state is kept, or -1 if the contest's tally
// does not show u.
func (c *contest) slot(u int) int {
	if c.all {
		return u
	}
	if s, ok := slices.BinarySearch(c.units, u); ok {
		return s
	}
	return -1
}

// unitAt returns the unit at a slot.
func (c *contest) unitAt(s int) int {
	if c.all {
		return s
	}
	return c.units[s]
}

// slots returns the number of tracked units.
func (c *contest) slots() int { return len(c.nodes) }

// nodeAt returns the node of unit u, nil if none.
func (c *contest) nodeAt(u int) *node {
	if s := c.slot(u); s >= 0 {
		return c.nodes[s]
	}
	return nil
}

type nodeRef struct{ contest, unit int }

// node is the state of one (contest, unit). Its counts are sparse: only
// the cells that are not zero, so that it takes memory for what was
// reported, however many choices and vote types the contest declares.
type node struct {
	version     uint64    // count changes applied to this unit and contest
	current     uuid.UUID // the current report, uuid.Nil if none
	own         []cell    // the current report's counts, if hasOwn
	child       []cell    // sum of the children's totals, if hasChild
	hasOwn      bool      // the unit has its own current report
	hasChild    bool      // a report beneath it ever changed
	childLeaves int64     // in-scope leaves reported beneath, via children
	dirty       bool      // in Election.dirty: changed since the last Flush
}

// cell is one count of a sparse vector: at is choice × vote types + vote
// type, in manifest order. Vectors are sorted by at and hold no zeros.
type cell struct {
	at    int
	votes int64
}

func (n *node) total() []cell {
	if n.hasOwn {
		return n.own
	}
	return n.child
}

// New starts the projection of an election from its manifest, the body of
// its first entry. The manifest must have passed events validation. Its
// cost follows the manifest's size: the units, and for each contest the
// units its tally shows.
func New(election string, m *events.Manifest) (*Election, error) {
	e := &Election{
		id: election, manifest: m,
		voteTypes: map[string]int{}, unitIdx: make(map[string]int, len(m.Units)), contestIx: map[string]int{},
		current:   map[uuid.UUID]nodeRef{},
		dirtyMeta: true, newlyMade: true,
	}
	for i, vt := range m.VoteTypes {
		e.voteTypes[vt.ID] = i
	}
	e.units = make([]unit, 0, len(m.Units))
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
	// Units come parents first, so a reverse walk sums leaves bottom-up.
	for u := len(e.units) - 1; u >= 0; u-- {
		if len(e.units[u].children) == 0 {
			e.units[u].leaves++
		}
		if p := e.units[u].parent; p >= 0 {
			e.units[p].leaves += e.units[u].leaves
		}
	}
	var subtree []int // scratch for scoped contests
	for i := range m.Contests {
		c := &m.Contests[i]
		ct := &contest{def: c, choices: make(map[string]int, len(c.Choices)), width: len(c.Choices) * len(m.VoteTypes)}
		for j, ch := range c.Choices {
			ct.choices[ch.ID] = j
		}
		var err error
		if subtree, err = e.scope(ct, subtree); err != nil {
			return nil, err
		}
		e.contestIx[c.ID] = i
		e.contests = append(e.contests, ct)
	}
	return e, nil
}

// scope sets the units a contest tracks, and at each its scope and leaves.
func (e *Election) scope(c *contest, scratch []int) ([]int, error) {
	roots := make([]int, 0, len(c.def.Units))
	for _, r := range c.def.Units {
		ri, ok := e.unitIdx[r]
		if !ok {
			return scratch, fmt.Errorf("manifest of %s: contest %q names unknown unit %q", e.id, c.def.ID, r)
		}
		roots = append(roots, ri)
	}
	if len(roots) == 0 || slices.Contains(roots, 0) {
		if e.allInScope == nil { // shared by the contests voted everywhere
			e.allInScope = make([]bool, len(e.units))
			e.allLeaves = make([]int64, len(e.units))
			for u := range e.units {
				e.allInScope[u], e.allLeaves[u] = true, e.units[u].leaves
			}
		}
		c.all, c.inScope, c.leaves = true, e.allInScope, e.allLeaves
		c.nodes = make([]*node, len(e.units))
		return scratch, nil
	}
	// The units in scope are the subtrees of the roots; the ancestors of
	// a root outside them are tracked too, with the leaves of the roots
	// beneath them.
	isRoot := make(map[int]bool, len(roots))
	for _, r := range roots {
		isRoot[r] = true
	}
	inScope := map[int]bool{}
	above := map[int]int64{}
	for _, r := range roots {
		if inScope[r] {
			continue
		}
		covered := false // under another root
		for p := e.units[r].parent; p >= 0 && !covered; p = e.units[p].parent {
			covered = isRoot[p]
		}
		if covered {
			continue
		}
		scratch = append(scratch[:0], r)
		for len(scratch) > 0 {
			u := scratch[len(scratch)-1]
			scratch = scratch[:len(scratch)-1]
			inScope[u] = true
			scratch = append(scratch, e.units[u].children...)
		}
		for p := e.units[r].parent; p >= 0; p = e.units[p].parent {
			above[p] += e.units[r].leaves
		}
	}
	c.units = make([]int, 0, len(inScope)+len(above))
	for u := range inScope {
		c.units = append(c.units, u)
	}
	for u := range above {
		c.units = append(c.units, u)
	}
	slices.Sort(c.units)
	c.inScope = make([]bool, len(c.units))
	c.leaves = make([]int64, len(c.units))
	c.nodes = make([]*node, len(c.units))
	for s, u := range c.units {
		if inScope[u] {
			c.inScope[s], c.leaves[s] = true, e.units[u].leaves
		} else {
			c.leaves[s] = above[u]
		}
	}
	return scratch, nil
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
		all = all && r == c.leaves[0]
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

// reportedLeaves is the number of in-scope leaves with a report under the
// unit at slot s.
func (c *contest) reportedLeaves(s int) int64 {
	n := c.nodes[s]
	switch {
	case n == nil:
		return 0
	case n.hasOwn:
		return c.leaves[s]
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

// node returns the node at slot s, made if need be.
func (c *contest) node(s int) *node {
	if c.nodes[s] == nil {
		c.nodes[s] = &node{}
	}
	return c.nodes[s]
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
	case *events.ManifestPart:
		// The projection was made from the whole manifest (New): its
		// parts are the entries after the first.
		if en.Index == 0 || en.Index >= uint64(events.ManifestEvents(e.manifest)) || b.Part != int(en.Index) {
			return fmt.Errorf("projection of %s: manifest part %d accepted at entry %d", e.id, b.Part, en.Index)
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
		e.change(ref, uuid.Nil, nil, false)
	case *events.Certification:
		e.certified, e.recount = true, false
	case *events.RecountOrder:
		e.recount = true
	case *events.KeyRegistration, *events.KeyRevocation:
		return e.applyKey(en.Index, b)
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
	if s := c.slot(ui); s < 0 || !c.inScope[s] {
		return fmt.Errorf("projection of %s: unit %q does not vote in contest %q", e.id, r.Unit, r.Contest)
	}
	own := make([]cell, 0, len(r.Counts))
	if res := &e.resolved; res.r == r && res.ref == (nodeRef{ci, ui}) {
		for i, cnt := range r.Counts {
			if cnt.Votes != 0 {
				own = append(own, cell{res.cells[i], cnt.Votes})
			}
		}
		res.r = nil
	} else {
		nv := len(e.voteTypes)
		for _, cnt := range r.Counts {
			ch, ok1 := c.choices[cnt.Choice]
			vt, ok2 := e.voteTypes[cnt.VoteType]
			if !ok1 || !ok2 {
				return fmt.Errorf("projection of %s: unknown choice %q or vote type %q", e.id, cnt.Choice, cnt.VoteType)
			}
			if cnt.Votes != 0 {
				own = append(own, cell{ch*nv + vt, cnt.Votes})
			}
		}
	}
	sortCells(own)
	e.change(nodeRef{ci, ui}, id, own, true)
	return nil
}

// change replaces the own report of a node and rolls the difference up.
func (e *Election) change(ref nodeRef, id uuid.UUID, own []cell, hasOwn bool) {
	c := e.contests[ref.contest]
	s := c.slot(ref.unit)
	n := c.node(s)
	// Not a copy: below, n.own is replaced, never written to, and n.child
	// changes only when a descendant's report does.
	oldTotal := n.total()
	oldLeaves := c.reportedLeaves(s)
	if n.current != uuid.Nil {
		delete(e.current, n.current)
	}
	n.version++
	n.current, n.own, n.hasOwn = id, own, hasOwn
	if id != uuid.Nil {
		e.current[id] = ref
	}
	e.markDirty(n, ref)

	c.delta = diffCells(c.delta[:0], n.total(), oldTotal)
	dLeaves := c.reportedLeaves(s) - oldLeaves
	for p := e.units[ref.unit].parent; p >= 0; p = e.units[p].parent {
		pn := c.node(c.slot(p))
		pn.hasChild = true
		pn.child, c.merged = addCells(pn.child, c.delta, c.merged)
		pn.childLeaves += dLeaves
		e.markDirty(pn, nodeRef{ref.contest, p})
		if pn.hasOwn {
			break // its own report stands; its total, and its parent's, are unchanged
		}
	}
}
