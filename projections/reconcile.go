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
	// covered[u]: unit u or an ancestor has its own report, for the
	// contest at hand. Only the contest's units are read and written.
	covered := make([]bool, len(e.units))
	var used [2][]bool // scratch for sameVoteTypes
	for _, c := range e.contests {
		for s, n := range c.nodes {
			if n != nil && n.hasOwn && n.hasChild && n.childLeaves > 0 {
				f.Rollup = e.rollup(f.Rollup, c, s, n, nv, &used)
			}
		}
		un := UnreportedFinding{Contest: c.def.ID, UnitsTotal: c.leaves[0], Units: []string{}}
		// Units come parents first, and a unit's parent is in the contest's
		// tally too, so covered[parent] is known.
		for s, n := range c.nodes {
			u := c.unitAt(s)
			unit := &e.units[u]
			covered[u] = n != nil && n.hasOwn
			if unit.parent >= 0 && covered[unit.parent] {
				covered[u] = true
			}
			if c.inScope[s] && len(unit.children) == 0 && !covered[u] {
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
// children's sum, choice by choice in manifest order, each followed by its
// vote types' differences when they are compared.
func (e *Election) rollup(out []RollupFinding, c *contest, s int, n *node, nv int, used *[2][]bool) []RollupFinding {
	base := RollupFinding{
		Contest: c.def.ID, Unit: e.units[c.unitAt(s)].id,
		UnitsReported: n.childLeaves, UnitsTotal: c.leaves[s], Complete: n.childLeaves == c.leaves[s],
	}
	byType := sameVoteTypes(n.own, n.child, nv, used)
	own, child := n.own, n.child
	// Both vectors are sorted by cell, so choice by choice: a choice with
	// no count on either side differs in nothing.
	for len(own) > 0 || len(child) > 0 {
		ch := firstCell(own, child) / nv
		end := (ch + 1) * nv
		i, j := 0, 0
		for i < len(own) && own[i].at < end {
			i++
		}
		for j < len(child) && child[j].at < end {
			j++
		}
		co, cc := own[:i], child[:j]
		own, child = own[i:], child[j:]
		var ownSum, childSum int64
		for _, x := range co {
			ownSum += x.votes
		}
		for _, x := range cc {
			childSum += x.votes
		}
		id := c.def.Choices[ch].ID
		if ownSum != childSum {
			d := base
			d.Choice, d.Own, d.Children = id, ownSum, childSum
			out = append(out, d)
		}
		if !byType {
			continue
		}
		for a, b := 0, 0; a < len(co) || b < len(cc); {
			var at int
			var o, k int64
			switch {
			case b == len(cc) || (a < len(co) && co[a].at < cc[b].at):
				at, o = co[a].at, co[a].votes
				a++
			case a == len(co) || cc[b].at < co[a].at:
				at, k = cc[b].at, cc[b].votes
				b++
			default:
				at, o, k = co[a].at, co[a].votes, cc[b].votes
				a++
				b++
			}
			if o != k {
				d := base
				d.Choice, d.VoteType, d.Own, d.Children = id, e.manifest.VoteTypes[at%nv].ID, o, k
				out = append(out, d)
			}
		}
	}
	return out
}

// firstCell returns the first cell of two sorted vectors, not both empty.
func firstCell(a, b []cell) int {
	switch {
	case len(a) == 0:
		return b[0].at
	case len(b) == 0:
		return a[0].at
	}
	return min(a[0].at, b[0].at)
}

// sameVoteTypes reports whether two count vectors use the same vote types
// (those with a count that is not zero), and more than one: only then does
// comparing them vote type by vote type say more than comparing totals.
func sameVoteTypes(a, b []cell, nv int, used *[2][]bool) bool {
	for k, v := range [2][]cell{a, b} {
		if cap(used[k]) < nv {
			used[k] = make([]bool, nv)
		}
		used[k] = used[k][:nv]
		clear(used[k])
		for _, x := range v {
			used[k][x.at%nv] = true
		}
	}
	n := 0
	for j := range nv {
		if used[0][j] != used[1][j] {
			return false
		}
		if used[0][j] {
			n++
		}
	}
	return n > 1
}
