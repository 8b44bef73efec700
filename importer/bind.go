package importer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/election-audit/ledger/events"
)

// Bind maps an import onto the manifest its election already has in the
// ledger, so that its reports can be logged there: a manifest, once
// logged, does not change. The result has existing as its manifest and
// reports rewritten to existing's IDs; its Findings are imp's.
//
// Things are matched as follows, and anything that does not match is an
// error naming it, so that nothing is logged:
//
//   - vote types: by ID, or by the slug of the name;
//   - units: by ID (importers derive them from names by one rule);
//   - contests: by ID and kind, or else among the contests of the same
//     kind that are parts of it (a local office that a wider import split
//     by county, "sheriff-carbon" for "sheriff") or that have a match for
//     every choice of the imported one ("U.S. House, District 6" in a CSV
//     and "U.S. Representative, District 6" in the state's export have the
//     same candidates), the one that each report's unit votes in and that
//     has every choice the report counts;
//   - choices: by ID, or by a shared name: the slug of the name, of an
//     alias or of an alias without its party tag ("JON OSSOFF (DEM)",
//     "Jon Ossoff" and the ID "jon-ossoff" are one choice).
//
// Before anything else, the import's date (which every importer reads from
// the file, or the OpenElections file name) must be the election's: files
// of another election are refused, naming both dates, even where their
// contests and candidates would match (a runoff has the candidates of the
// election before it).
func Bind(existing *events.Manifest, imp *Import) (*Import, error) {
	if imp.Manifest.Date != existing.Date {
		return nil, fmt.Errorf("couldn't match %s with election %s: the files are of an election on %s, but election %s is on %s",
			sourceFiles(imp), imp.Election, imp.Manifest.Date, imp.Election, existing.Date)
	}
	b := newBinder(existing, false)
	return b.bind(imp)
}

// Merge combines imports of one election, such as a state's county-level
// export and its counties' precinct files, into one: the first import's
// manifest extended with what the others add (units, vote types, contests,
// choices, aliases), matched as [Bind] matches, and every import's reports
// and findings in order. Imports of different dates are refused: they are
// of different elections.
func Merge(imps ...*Import) (*Import, error) {
	if len(imps) == 0 {
		return nil, fmt.Errorf("couldn't merge imports: none given")
	}
	for _, imp := range imps[1:] {
		if d, d0 := imp.Manifest.Date, imps[0].Manifest.Date; d != d0 {
			return nil, fmt.Errorf("couldn't merge %s (an election on %s) with %s (an election on %s): the files of one import must be of one election",
				sourceFiles(imps[0]), d0, sourceFiles(imp), d)
		}
	}
	m := cloneManifest(imps[0].Manifest)
	b := newBinder(m, true)
	out := &Import{Election: imps[0].Election, Manifest: m}
	for _, imp := range imps {
		if imp.Election != out.Election {
			return nil, fmt.Errorf("couldn't merge imports of elections %q and %q: one election at a time", out.Election, imp.Election)
		}
		bound, err := b.bind(imp)
		if err != nil {
			return nil, err
		}
		out.Reports = append(out.Reports, bound.Reports...)
		out.Findings = append(out.Findings, bound.Findings...)
		out.Totals = out.Totals.Add(imp.Totals)
	}
	if err := Check("the merged import", out); err != nil {
		return nil, err
	}
	return out, nil
}

// binder matches imported manifests against a target manifest, which it
// extends when extend is set.
type binder struct {
	m      *events.Manifest
	extend bool
	units  map[string]bool
	parent map[string]string // unit → parent, made when first needed
}

func newBinder(m *events.Manifest, extend bool) *binder {
	b := &binder{m: m, extend: extend, units: map[string]bool{}}
	for _, u := range m.Units {
		b.units[u.ID] = true
	}
	return b
}

// contestMap maps one imported contest's choice IDs to the target's.
type contestMap struct {
	id      string
	idx     int // its index in the target manifest (set by candidates)
	choices map[string]string
}

func (b *binder) bind(imp *Import) (*Import, error) {
	src := imp.Manifest
	skip, err := b.roots(src)
	if err != nil {
		return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
	}
	for _, u := range src.Units {
		if skip[u.ID] {
			continue
		}
		if err := b.unit(u); err != nil {
			return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
		}
	}
	vts := map[string]string{}
	for _, vt := range src.VoteTypes {
		id, err := b.voteType(vt)
		if err != nil {
			return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
		}
		vts[vt.ID] = id
	}
	contests := map[string]contestMap{}
	var logged map[string][]contestMap // not extending: the logged contests each may go to
	if b.extend {
		before := len(b.m.Contests) // an import's contests are not matched to each other
		for _, c := range src.Contests {
			cm, err := b.contest(c, before)
			if err != nil {
				return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
			}
			contests[c.ID] = cm
		}
	} else {
		logged = make(map[string][]contestMap, len(src.Contests))
		for _, c := range src.Contests {
			cms, err := b.candidates(c)
			if err != nil {
				return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
			}
			logged[c.ID] = cms
		}
	}
	out := &Import{Election: imp.Election, Manifest: b.m, Findings: imp.Findings, Totals: imp.Totals}
	for _, r := range imp.Reports {
		if !b.units[r.Unit] {
			return nil, fmt.Errorf("couldn't match %s with election %s: a report is for unit %q, which is not a reporting unit of the election", what(imp), imp.Election, r.Unit)
		}
		cm, ok := contests[r.Contest]
		cms, known := logged[r.Contest]
		switch {
		case !ok && !known:
			return nil, fmt.Errorf("couldn't match %s: a report names contest %q, which its manifest does not define", what(imp), r.Contest)
		case known:
			var err error
			if cm, err = b.reportTarget(r, cms); err != nil {
				return nil, fmt.Errorf("couldn't match %s with election %s: %w", what(imp), imp.Election, err)
			}
		}
		nr := &events.CountReport{Unit: r.Unit, Contest: cm.id, Source: r.Source, Counts: make([]events.Count, len(r.Counts))}
		for i, c := range r.Counts {
			ch, ok1 := cm.choices[c.Choice]
			vt, ok2 := vts[c.VoteType]
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("couldn't match %s: a report for unit %q names choice %q or vote type %q, which its manifest does not define", what(imp), r.Unit, c.Choice, c.VoteType)
			}
			nr.Counts[i] = events.Count{Choice: ch, VoteType: vt, Votes: c.Votes}
		}
		slices.SortFunc(nr.Counts, func(a, b events.Count) int {
			if c := strings.Compare(a.Choice, b.Choice); c != 0 {
				return c
			}
			return strings.Compare(a.VoteType, b.VoteType)
		})
		out.Reports = append(out.Reports, nr)
	}
	return out, nil
}

func what(imp *Import) string {
	for _, r := range imp.Reports {
		if r.Source.File != "" {
			return r.Source.File
		}
	}
	return "the import"
}

// sourceFiles names the files of the import's reports: "a.csv", "a.csv
// and b.csv", "a.csv, b.csv and 3 more".
func sourceFiles(imp *Import) string {
	var names []string
	for _, r := range imp.Reports {
		if f := r.Source.File; f != "" && !slices.Contains(names, f) {
			names = append(names, f)
		}
	}
	switch n := len(names); {
	case n == 0:
		return "the import"
	case n == 1:
		return names[0]
	case n == 2:
		return names[0] + " and " + names[1]
	case n == 3:
		return names[0] + ", " + names[1] + " and " + names[2]
	default:
		return fmt.Sprintf("%s, %s and %d more", names[0], names[1], n-2)
	}
}

func (b *binder) voteType(vt events.VoteType) (string, error) {
	for _, t := range b.m.VoteTypes {
		if t.ID == vt.ID {
			return t.ID, nil
		}
	}
	s := Slug(vt.Name)
	for _, t := range b.m.VoteTypes {
		if s != "" && (Slug(t.Name) == s || t.ID == s) {
			return t.ID, nil
		}
	}
	if !b.extend {
		return "", fmt.Errorf("vote type %q (%s) is not one of the election's (%s)", vt.ID, vt.Name, voteTypeIDs(b.m))
	}
	b.m.VoteTypes = append(b.m.VoteTypes, vt)
	return vt.ID, nil
}

// roots reconciles the import's root unit with the target's when they
// differ and the import covers a wider area: a state's file (root "pa",
// counties under it) into an election that a county's file defined (root
// "luzerne"). Extending, the target is re-rooted under the import's
// ancestors of its root, and its contests that covered the whole election
// keep covering the old root alone. Binding to a logged manifest, which
// cannot change, those ancestors are left out (skip), and a report for one
// of them does not match. An import of a narrower area (a county's file
// into a state's election) needs nothing: its root is a unit of the
// target.
func (b *binder) roots(src *events.Manifest) (skip map[string]bool, err error) {
	if len(src.Units) == 0 || len(b.m.Units) == 0 {
		return nil, nil
	}
	tRoot, sRoot := b.m.Units[0].ID, src.Units[0].ID
	if tRoot == sRoot || b.units[sRoot] {
		return nil, nil
	}
	byID := make(map[string]events.Unit, len(src.Units))
	for _, u := range src.Units {
		byID[u.ID] = u
	}
	under, ok := byID[tRoot]
	if !ok || under.Parent == "" {
		return nil, nil // unrelated roots: unit says so
	}
	var chain []events.Unit // the target root's ancestors in the import, root last
	for id := under.Parent; id != ""; id = byID[id].Parent {
		if b.units[id] || len(chain) > len(src.Units) {
			return nil, fmt.Errorf("unit %q is the election's root, but under %q in the files", tRoot, under.Parent)
		}
		chain = append(chain, byID[id])
	}
	if !b.extend {
		skip = make(map[string]bool, len(chain))
		for _, u := range chain {
			skip[u.ID] = true
		}
		return skip, nil
	}
	units := make([]events.Unit, 0, len(chain)+len(b.m.Units))
	for i := len(chain) - 1; i >= 0; i-- {
		units = append(units, chain[i])
		b.units[chain[i].ID] = true
	}
	for i := range b.m.Contests {
		if len(b.m.Contests[i].Units) == 0 {
			b.m.Contests[i].Units = []string{tRoot}
		}
	}
	root := b.m.Units[0]
	root.Parent = under.Parent
	units = append(units, root)
	b.m.Units = append(units, b.m.Units[1:]...)
	return nil, nil
}

// GenericChoice reports whether a choice ID does not tell two contests
// apart: any race may have write-ins, and any question Yes and No.
func GenericChoice(id string) bool { return genericChoices[id] }

var genericChoices = map[string]bool{
	"write-ins": true, "write-in": true, "scattering": true, "personal-choice": true,
	"write-in-totals": true, "total-write-ins": true, "unresolved-write-in": true, "not-assigned": true,
	"yes": true, "no": true, "for": true, "against": true,
}

// namesCandidates reports whether a contest has a choice that tells it
// apart: a contest of write-ins alone, or of Yes and No, is matched by ID
// only.
func namesCandidates(c events.Contest) bool {
	for _, ch := range c.Choices {
		if !GenericChoice(ch.ID) {
			return true
		}
	}
	return false
}

func voteTypeIDs(m *events.Manifest) string {
	ids := make([]string, len(m.VoteTypes))
	for i, t := range m.VoteTypes {
		ids[i] = t.ID
	}
	return strings.Join(ids, ", ")
}

func (b *binder) unit(u events.Unit) error {
	if b.units[u.ID] {
		return nil
	}
	if !b.extend {
		return fmt.Errorf("unit %q (%s %s) is not a reporting unit of the election; a logged manifest cannot gain units", u.ID, u.Kind, u.Name)
	}
	if u.Parent == "" {
		return fmt.Errorf("the root unit %q is not the election's root %q", u.ID, b.m.Units[0].ID)
	}
	if !b.units[u.Parent] {
		return fmt.Errorf("unit %q has parent %q, which is not a unit of the election", u.ID, u.Parent)
	}
	b.m.Units = append(b.m.Units, u)
	b.units[u.ID] = true
	return nil
}

// contest matches an imported contest to one of the target's first
// `before` contests (those that were there before this import), or adds it
// when extending.
func (b *binder) contest(c events.Contest, before int) (contestMap, error) {
	target := -1
	for i := range b.m.Contests {
		if t := &b.m.Contests[i]; t.ID == c.ID && t.Kind == c.Kind {
			target = i
			break
		}
	}
	if target < 0 {
		var found []int
		for i := range b.m.Contests[:before] {
			t := &b.m.Contests[i]
			if t.Kind != c.Kind || !namesCandidates(c) {
				continue
			}
			all := true
			for _, ch := range c.Choices {
				if matchChoice(t, ch) < 0 {
					all = false
					break
				}
			}
			if all {
				found = append(found, i)
			}
		}
		switch {
		case len(found) == 1:
			target = found[0]
		case len(found) > 1:
			return contestMap{}, fmt.Errorf("contest %q (%s) has the choices of %d of the election's contests (%s): it cannot be told which", c.ID, c.Name, len(found), contestIDs(b.m, found))
		case !b.extend:
			return contestMap{}, fmt.Errorf("contest %q (%s) is not a contest of the election, by ID or by its choices%s", c.ID, c.Name, b.nearest(c))
		default:
			nc := c
			nc.Choices = slices.Clone(c.Choices)
			nc.Units = slices.Clone(c.Units)
			b.m.Contests = append(b.m.Contests, nc)
			cm := contestMap{id: c.ID, choices: map[string]string{}}
			for _, ch := range c.Choices {
				cm.choices[ch.ID] = ch.ID
			}
			return cm, nil
		}
	}
	t := &b.m.Contests[target]
	cm := contestMap{id: t.ID, choices: map[string]string{}}
	for _, ch := range c.Choices {
		j := matchChoice(t, ch)
		if j < 0 {
			if !b.extend {
				return contestMap{}, fmt.Errorf("choice %q (%s) of contest %q is not a choice of the election's contest %q", ch.ID, ch.Name, c.ID, t.ID)
			}
			t.Choices = append(t.Choices, ch)
			j = len(t.Choices) - 1
		} else if b.extend {
			for _, a := range append([]string{ch.Name}, ch.Aliases...) {
				if a != t.Choices[j].Name && !slices.Contains(t.Choices[j].Aliases, a) {
					t.Choices[j].Aliases = append(t.Choices[j].Aliases, a)
				}
			}
		}
		cm.choices[ch.ID] = t.Choices[j].ID
	}
	if b.extend && len(t.Units) > 0 {
		if len(c.Units) == 0 {
			t.Units = nil // in the whole election now
		} else {
			for _, u := range c.Units {
				if !slices.Contains(t.Units, u) {
					t.Units = append(t.Units, u)
				}
			}
		}
	}
	return cm, nil
}

// candidates lists the logged contests that an imported contest's reports
// may go to, with its choices mapped to theirs: the contest of its ID and
// kind; or else those of its kind that are parts of it (a local office
// that a wider import split by county: "sheriff-carbon" for "sheriff", its
// turnout "sheriff-carbon-turnout" for "sheriff-turnout"), and those that
// have a match for every one of its choices when it names candidates. Each
// of its choices must be a choice of one of them. Which one a report goes
// to is decided by its unit ([binder.reportTarget]).
func (b *binder) candidates(c events.Contest) ([]contestMap, error) {
	var cms []contestMap
	for i := range b.m.Contests {
		if t := &b.m.Contests[i]; t.ID == c.ID && t.Kind == c.Kind {
			cms = []contestMap{b.choiceMap(i, c)}
			break
		}
	}
	if cms == nil {
		base := strings.TrimSuffix(c.ID, "-turnout") + "-"
		for i := range b.m.Contests {
			t := &b.m.Contests[i]
			if t.Kind != c.Kind {
				continue
			}
			part := strings.HasPrefix(t.ID, base) && strings.HasSuffix(t.ID, "-turnout") == strings.HasSuffix(c.ID, "-turnout")
			cm := b.choiceMap(i, c)
			if part || namesCandidates(c) && len(cm.choices) == len(c.Choices) {
				cms = append(cms, cm)
			}
		}
	}
	if len(cms) == 0 {
		return nil, fmt.Errorf("contest %q (%s) is not a contest of the election, by ID or by its choices%s", c.ID, c.Name, b.nearest(c))
	}
	for _, ch := range c.Choices {
		if !slices.ContainsFunc(cms, func(cm contestMap) bool { _, ok := cm.choices[ch.ID]; return ok }) {
			ids := make([]int, len(cms))
			for k, cm := range cms {
				ids[k] = cm.idx
			}
			return nil, fmt.Errorf("choice %q (%s) of contest %q is not a choice of the election's contest %s", ch.ID, ch.Name, c.ID, contestIDs(b.m, ids))
		}
	}
	return cms, nil
}

// choiceMap maps the choices of an imported contest c that the target's
// contest i has to that contest's choices.
func (b *binder) choiceMap(i int, c events.Contest) contestMap {
	t := &b.m.Contests[i]
	cm := contestMap{id: t.ID, idx: i, choices: map[string]string{}}
	for _, ch := range c.Choices {
		if j := matchChoice(t, ch); j >= 0 {
			cm.choices[ch.ID] = t.Choices[j].ID
		}
	}
	return cm
}

// reportTarget picks, of the logged contests a report's contest may go to,
// the one its unit votes in (the unit or an ancestor is in its scope, or
// it has none) that has every choice the report counts. One must, or the
// report is refused here rather than by the ledger.
func (b *binder) reportTarget(r *events.CountReport, cms []contestMap) (contestMap, error) {
	var fits []contestMap
	var out []string // the ones its unit does not vote in
	for _, cm := range cms {
		if !b.votesIn(r.Unit, &b.m.Contests[cm.idx]) {
			out = append(out, fmt.Sprintf("%q", cm.id))
			continue
		}
		all := true
		for _, c := range r.Counts {
			_, ok := cm.choices[c.Choice]
			all = all && ok
		}
		if all {
			fits = append(fits, cm)
		}
	}
	switch {
	case len(fits) == 1:
		return fits[0], nil
	case len(fits) > 1:
		ids := make([]string, len(fits))
		for i, f := range fits {
			ids[i] = f.id
		}
		return contestMap{}, fmt.Errorf("a report for unit %q in contest %q fits %d of the election's contests (%s): it cannot be told which", r.Unit, r.Contest, len(fits), strings.Join(ids, ", "))
	case len(out) == len(cms):
		return contestMap{}, fmt.Errorf("a report for unit %q is in contest %q, which matches the election's %s, but unit %q does not vote in it: "+
			"a logged manifest cannot change a contest's units", r.Unit, r.Contest, strings.Join(out, ", "), r.Unit)
	}
	return contestMap{}, fmt.Errorf("a report for unit %q in contest %q counts a choice that the election's contest for that unit does not have", r.Unit, r.Contest)
}

// votesIn reports whether a unit is in a contest's scope: the contest has
// none (the whole election), or the unit or one of its ancestors is listed.
func (b *binder) votesIn(unit string, t *events.Contest) bool {
	if len(t.Units) == 0 {
		return true
	}
	if b.parent == nil {
		b.parent = make(map[string]string, len(b.m.Units))
		for _, u := range b.m.Units {
			b.parent[u.ID] = u.Parent
		}
	}
	for u, n := unit, 0; u != "" && n <= len(b.m.Units); u, n = b.parent[u], n+1 {
		if slices.Contains(t.Units, u) {
			return true
		}
	}
	return false
}

// nearest describes the contest of the same kind that matches most of c's
// choices, and the choices it lacks.
func (b *binder) nearest(c events.Contest) string {
	if !namesCandidates(c) {
		return ": a contest whose choices are only write-ins, or Yes and No, is matched by its ID alone"
	}
	best, bestN := -1, 0
	var missing []string
	for i := range b.m.Contests {
		t := &b.m.Contests[i]
		if t.Kind != c.Kind {
			continue
		}
		n := 0
		var miss []string
		for _, ch := range c.Choices {
			if matchChoice(t, ch) >= 0 {
				n++
			} else {
				miss = append(miss, fmt.Sprintf("%q", ch.ID))
			}
		}
		if n > bestN {
			best, bestN, missing = i, n, miss
		}
	}
	if best < 0 || len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf(": the nearest, %q, has no choice for %s", b.m.Contests[best].ID, strings.Join(missing, ", "))
}

func contestIDs(m *events.Manifest, idx []int) string {
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = m.Contests[j].ID
	}
	return strings.Join(ids, ", ")
}

// matchChoice returns the index of the choice of t that ch names, or -1.
func matchChoice(t *events.Contest, ch events.Choice) int {
	keys := choiceKeys(ch)
	for i, tc := range t.Choices {
		if tc.ID == ch.ID {
			return i
		}
		for _, k := range choiceKeys(tc) {
			if slices.Contains(keys, k) {
				return i
			}
		}
	}
	return -1
}

// choiceKeys are the slugs a choice is known by: its ID, its name, its
// aliases, and those without a trailing party tag.
func choiceKeys(ch events.Choice) []string {
	keys := []string{ch.ID}
	add := func(s string) {
		if k := Slug(s); k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, n := range append([]string{ch.Name}, ch.Aliases...) {
		add(n)
		add(StripParty(n, ch.Party))
		if i := strings.LastIndexByte(n, '('); i > 0 && strings.HasSuffix(n, ")") {
			add(n[:i]) // "JON OSSOFF (DEM)" whatever the party is called
		}
	}
	return keys
}

func cloneManifest(m *events.Manifest) *events.Manifest {
	c := *m
	c.VoteTypes = slices.Clone(m.VoteTypes)
	c.Units = slices.Clone(m.Units)
	c.Contests = slices.Clone(m.Contests)
	for i := range c.Contests {
		c.Contests[i].Choices = slices.Clone(c.Contests[i].Choices)
		for j := range c.Contests[i].Choices {
			c.Contests[i].Choices[j].Aliases = slices.Clone(c.Contests[i].Choices[j].Aliases)
		}
		c.Contests[i].Units = slices.Clone(c.Contests[i].Units)
	}
	return &c
}
