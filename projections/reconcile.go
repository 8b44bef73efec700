package projections

// Reconciliation: a unit's own report and the reports beneath it are never
// added together (see the package doc), so where they differ the tally
// silently follows the unit's own report. [Election.Reconcile] names those
// differences, and the units that no report covers yet.

// RollupFinding is a unit whose own current report differs, for one choice,
// from the sum of its children's totals. VoteType is empty when the choice's
// total over all vote types differs; otherwise it names the vote type that
// differs (see [Election.Reconcile] for when vote types are compared).
//
// While some in-scope leaves beneath the unit have no report (UnitsReported
// < UnitsTotal, Complete false) a difference is expected: the children's
// sum is not final yet. With Complete set it is a discrepancy between two
// reports of the same votes.
type RollupFinding struct {
	Contest  string `json:"contest"`
	Unit     string `json:"unit"`
	Choice   string `json:"choice"`
	VoteType string `json:"vote_type,omitempty"`
	Own      int64  `json:"own"`      // the unit's own current report
	Children int64  `json:"children"` // the sum of its children's totals
	// UnitsReported is the number of in-scope leaf units beneath the unit
	// that a report beneath it covers; UnitsTotal the number of in-scope
	// leaf units beneath it.
	UnitsReported int64 `json:"units_reported"`
	UnitsTotal    int64 `json:"units_total"`
	Complete      bool  `json:"complete"`
}

// UnreportedFinding lists, for one contest, the in-scope leaf units that no
// current report covers: none of their own, and none of any ancestor's.
type UnreportedFinding struct {
	Contest    string   `json:"contest"`
	Count      int64    `json:"count"`       // len(Units)
	UnitsTotal int64    `json:"units_total"` // in-scope leaf units of the contest
	Units      []string `json:"units"`       // manifest order
}

// Findings are the reconciliation findings of an election's log, each list
// in manifest order of contests, then of units (then of choices and vote
// types). The lists are empty, never nil.
type Findings struct {
	Rollup     []RollupFinding     `json:"rollup"`
	Unreported []UnreportedFinding `json:"unreported"`
}

// Len returns the number of findings.
func (f *Findings) Len() int { return len(f.Rollup) + len(f.Unreported) }

// Reconcile returns the election's findings as they stand: a pure function
// of the entries applied.
//
// For every unit with its own current report and a report beneath it, it
// compares each choice's total over all vote types with its children's sum.
// It compares vote type by vote type as well only when both sides use the
// same vote types (those with a non-zero count for some choice), and more
// than one: precincts that report only a "total" while their county reports
// by vote type give no per-vote-type findings, only per-choice ones.
//
// For every contest it lists the in-scope leaf units that no report covers.
func (e *Election) Reconcile() *Findings {
	f := &Findings{Rollup: []RollupFinding{}, Unreported: []UnreportedFinding{}}
	nv := len(e.manifest.VoteTypes)
	covered := make([]bool, len(e.units))
	for _, c := range e.contests {
		for u := range e.units {
			n := c.nodes[u]
			if n != nil && n.own != nil && n.child != nil && n.childLeaves > 0 {
				f.Rollup = e.rollup(f.Rollup, c, u, n, nv)
			}
		}
		un := UnreportedFinding{Contest: c.def.ID, UnitsTotal: c.allLeafs, Units: []string{}}
		// Units come parents first, so covered[parent] is known.
		for u, unit := range e.units {
			covered[u] = c.nodes[u] != nil && c.nodes[u].own != nil
			if unit.parent >= 0 && covered[unit.parent] {
				covered[u] = true
			}
			if c.inScope[u] && len(unit.children) == 0 && !covered[u] {
				un.Units = append(un.Units, unit.id)
			}
		}
		if un.Count = int64(len(un.Units)); un.Count > 0 {
			f.Unreported = append(f.Unreported, un)
		}
	}
	return f
}

// rollup appends the differences between node n's own report and its
// children's sum.
func (e *Election) rollup(out []RollupFinding, c *contest, u int, n *node, nv int) []RollupFinding {
	base := RollupFinding{
		Contest: c.def.ID, Unit: e.units[u].id,
		UnitsReported: n.childLeaves, UnitsTotal: c.leaves[u], Complete: n.childLeaves == c.leaves[u],
	}
	byType := sameVoteTypes(n.own, n.child, nv)
	for i, ch := range c.def.Choices {
		own, child := n.own[i*nv:(i+1)*nv], n.child[i*nv:(i+1)*nv]
		var ownSum, childSum int64
		for j := range nv {
			ownSum += own[j]
			childSum += child[j]
		}
		if ownSum != childSum {
			d := base
			d.Choice, d.Own, d.Children = ch.ID, ownSum, childSum
			out = append(out, d)
		}
		if !byType {
			continue
		}
		for j, vt := range e.manifest.VoteTypes {
			if own[j] != child[j] {
				d := base
				d.Choice, d.VoteType, d.Own, d.Children = ch.ID, vt.ID, own[j], child[j]
				out = append(out, d)
			}
		}
	}
	return out
}

// sameVoteTypes reports whether two count vectors (choice-major, nv vote
// types per choice) use the same vote types, and more than one: only then
// does comparing them vote type by vote type say more than comparing
// totals.
func sameVoteTypes(a, b []int64, nv int) bool {
	used := 0
	for j := range nv {
		inA, inB := false, false
		for i := j; i < len(a); i += nv {
			inA = inA || a[i] != 0
			inB = inB || b[i] != 0
		}
		if inA != inB {
			return false
		}
		if inA {
			used++
		}
	}
	return used > 1
}
