package openelections

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/election-audit/ledger/importer"
)

// Contest identity and scope, as officials see them: a local office that
// several counties fill separately (each its own sheriff) is a contest per
// county, not one statewide contest; and a contest's scope is the units
// that vote in it, learned from the rows, so that reconciliation names as
// unreported only units that should have reported.

// outContest is a contest of the manifest: one of the builder's contests,
// or the part of one that some of its counties fill, when a same-named
// local office of several counties is split.
type outContest struct {
	src      *contest
	id, name string
	used     []bool   // the choices of src that have rows in it
	counties []int32  // the counties it is in, in order; -1 the state
	scope    []string // its units, nil for the whole election
}

// identify makes the manifest's contests from the builder's: it splits a
// race whose counties share no named candidate into one contest per group
// of counties that do (a county's sheriff race), its turnout companion
// with it, and works out each contest's scope.
func (b *builder) identify() []*outContest {
	used := make([]map[int32][]bool, len(b.contests)) // contest → county → choices with rows
	for _, rep := range b.reports {
		ct, ci := rep.contest, rep.group.county.idx
		if used[ct.idx] == nil {
			used[ct.idx] = map[int32][]bool{}
		}
		u := used[ct.idx][ci]
		if u == nil {
			u = make([]bool, len(ct.choices))
			used[ct.idx][ci] = u
		}
		for _, c := range rep.counts {
			u[ct.byID[c.Choice]] = true
		}
	}
	b.outBy = make([]map[int32]*outContest, len(b.contests))
	split := map[string][][]int32{} // race ID → its groups of counties, when split
	var outs []*outContest
	for _, ct := range b.contests {
		var groups [][]int32
		switch {
		case ct.kind == "" && ct.race == "":
			groups = b.partition(ct, used[ct.idx])
			if len(groups) > 1 {
				split[ct.id] = groups
			}
		case ct.race != "" && split[ct.race] != nil:
			groups = b.companionGroups(ct, split[ct.race])
		}
		if len(groups) <= 1 {
			groups = [][]int32{b.countiesOf(ct, used[ct.idx])}
		}
		b.outBy[ct.idx] = map[int32]*outContest{}
		for _, g := range groups {
			oc := &outContest{src: ct, id: ct.id, name: ct.name, counties: g, used: make([]bool, len(ct.choices))}
			if len(groups) > 1 {
				oc.id, oc.name = b.localContest(ct, g)
			}
			for _, ci := range g {
				b.outBy[ct.idx][ci] = oc
				for i, ok := range used[ct.idx][ci] {
					oc.used[i] = oc.used[i] || ok
				}
			}
			outs = append(outs, oc)
		}
	}
	b.scopes(outs)
	return outs
}

// outOf returns the manifest contest that a contest's rows of a county go
// to.
func (b *builder) outOf(ct *contest, county int32) *outContest {
	return b.outBy[ct.idx][county]
}

// countiesOf lists the counties (and -1, the state) with reports for a
// contest, in order.
func (b *builder) countiesOf(ct *contest, used map[int32][]bool) []int32 {
	out := slices.Clone(ct.counties)
	if used[-1] != nil {
		out = append(out, -1)
	}
	return out
}

// partition groups a race's counties: two counties are in one group when
// they have a named candidate (not a write-in, not Yes or No) in common.
// Counties without a named candidate join the only group if there is one,
// or else stand alone. It returns one group when the race is not split.
func (b *builder) partition(ct *contest, used map[int32][]bool) [][]int32 {
	counties := b.countiesOf(ct, used)
	if len(ct.counties) < 2 || strings.HasPrefix(ct.id, UnassignedContest+"-") || statewideOffice(ct.name) {
		return [][]int32{counties}
	}
	parent := make(map[int32]int32, len(counties))
	var find func(int32) int32
	find = func(c int32) int32 {
		if parent[c] != c {
			parent[c] = find(parent[c])
		}
		return parent[c]
	}
	owner := make([]int32, len(ct.choices)) // choice → a county naming it, +1
	named := map[int32]bool{}
	for _, c := range counties {
		parent[c] = c
		for i, ok := range used[c] {
			if !ok || importer.GenericChoice(ct.choices[i].id) {
				continue
			}
			named[c] = true
			if o := owner[i]; o != 0 {
				parent[find(c)] = find(o - 1)
			} else {
				owner[i] = c + 1
			}
		}
	}
	var groups [][]int32
	root := map[int32]int{}
	var loose []int32
	for _, c := range counties {
		if !named[c] {
			loose = append(loose, c)
			continue
		}
		r := find(c)
		if i, ok := root[r]; ok {
			groups[i] = append(groups[i], c)
			continue
		}
		root[r] = len(groups)
		groups = append(groups, []int32{c})
	}
	if len(groups) <= 1 {
		return [][]int32{counties}
	}
	for _, c := range loose {
		groups = append(groups, []int32{c})
	}
	return groups
}

// statewideWords are parts of the names of offices that are one race
// across counties (federal and statewide offices, the legislature, straight
// party): never split, even where counties spell the candidates apart
// ("Joseph R. Biden/Kamala D. Harris" and "Joseph R. Biden").
var statewideWords = []string{
	" president ", " vice president ", " senate ", " senator ", " congress ", " u s house ",
	" u s representative ", " united states ", " governor ", " lieutenant governor ", " lt governor ",
	" secretary of state ", " attorney general ", " of state ", " state treasurer ", " state auditor ",
	" auditor general ", " comptroller ", " supreme court ", " straight party ", " state house ",
	" state representative ", " state assembly ", " general assembly ", " house of delegates ",
	" house of representatives ", " presidential ",
}

// statewideOffice reports whether a contest's name is that of an office
// that is one race across counties.
func statewideOffice(name string) bool {
	w := " " + words(name) + " "
	for _, s := range statewideWords {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// companionGroups splits a race's turnout companion as the race is split;
// a county with turnout rows but no race rows stands alone.
func (b *builder) companionGroups(ct *contest, race [][]int32) [][]int32 {
	in := map[int32]bool{}
	for _, c := range ct.counties {
		in[c] = true
	}
	var groups [][]int32
	seen := map[int32]bool{}
	for _, g := range race {
		var mine []int32
		for _, c := range g {
			if in[c] {
				mine = append(mine, c)
				seen[c] = true
			}
		}
		if len(mine) > 0 {
			groups = append(groups, mine)
		}
	}
	for _, c := range ct.counties {
		if !seen[c] {
			groups = append(groups, []int32{c})
		}
	}
	return groups
}

// localContest names the part of a split contest in a group of counties:
// the contest's ID and the lowest of the counties' IDs ("sheriff-cobb"),
// and its name with the counties' names ("Sheriff (Cobb)"). A turnout
// companion follows its race ("sheriff-cobb-turnout").
func (b *builder) localContest(ct *contest, g []int32) (id, name string) {
	names := make([]string, 0, len(g))
	low := ""
	for _, c := range g {
		cid, cname := b.meta.state, b.meta.stateName
		if c >= 0 {
			cid, cname = b.counties[c].id, b.units[b.counties[c].unit].Name
		}
		if low == "" || cid < low {
			low = cid
		}
		names = append(names, cname)
	}
	if ct.race != "" {
		race := b.contestByID[ct.race]
		if race != nil {
			for _, c := range g {
				if oc := b.outOf(race, c); oc != nil {
					return oc.id + "-turnout", oc.name + " (turnout)"
				}
			}
		}
	}
	id = ct.id + "-" + low
	for n := 2; b.contestByID[id] != nil; n++ {
		id = fmt.Sprintf("%s-%s-%d", ct.id, low, n)
	}
	return id, ct.name + " (" + strings.Join(names, ", ") + ")"
}

// scopes works out each contest's units: a county whose precincts all
// have a report for it (or that reports at county level) is in scope
// whole; of a county that it covers in part, the precincts that report. A
// contest in every precinct of every county has no scope (the whole
// election).
func (b *builder) scopes(outs []*outContest) {
	reported := map[*outContest]map[int32][]int32{} // → county → precinct units
	for _, rep := range b.reports {
		c := rep.group.county
		oc := b.outOf(rep.contest, c.idx)
		if reported[oc] == nil {
			reported[oc] = map[int32][]int32{}
		}
		if rep.unit != c.unit {
			reported[oc][c.idx] = append(reported[oc][c.idx], rep.unit)
		} else if reported[oc][c.idx] == nil {
			reported[oc][c.idx] = []int32{} // the county's own report
		}
	}
outs:
	for _, oc := range outs {
		whole := true
		var scope []string
		counties := slices.Clone(oc.counties)
		slices.SortFunc(counties, func(x, y int32) int { return cmp.Compare(x, y) })
		for _, ci := range counties {
			if ci < 0 {
				continue outs // a statewide report: the whole election
			}
			c := b.counties[ci]
			precincts := reported[oc][ci]
			if len(precincts) == 0 || len(precincts) == len(c.byID) {
				scope = append(scope, c.id)
				continue
			}
			whole = false
			for _, u := range precincts {
				scope = append(scope, b.units[u].ID)
			}
		}
		if whole && len(counties) == len(b.counties) {
			continue
		}
		oc.scope = scope
	}
}
