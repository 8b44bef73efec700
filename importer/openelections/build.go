package openelections

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// builder collects the rows of one or more files into a manifest and
// reports. It stops at the first problem.
type builder struct {
	meta          meta
	voteFor       map[string]int
	prefer        string
	trustLastLine bool
	blankOffice   bool
	ignore        map[string]bool // column keys to read past
	asVoteType    map[string]bool // column keys to read as vote types
	files         []fileInfo

	// state stands for the state in rows without a county (a statewide
	// file, or a county-level file's statewide roll-up rows); it is not one
	// of counties.
	state *county

	units   []events.Unit
	unitIDs map[string]int32 // unit ID → index in units

	counties    []*county
	countyByRaw map[string]*county
	countyByID  map[string]*county

	contests    []*contest
	contestByID map[string]*contest
	offices     map[officeKey]*office

	voteTypes []events.VoteType
	vtByID    map[string]int32

	reports  []*report
	reportBy map[[2]int32]*report // unit, contest
	groups   []*group
	groupBy  map[[2]int32]*group     // county, contest
	stated   map[statedKey]int64     // the file's own totals of the rows reported
	outBy    []map[int32]*outContest // contest → county → manifest contest
	dups     map[[2]int32]partyRow   // report, choice → its row
	rollDups map[[2]int32]partyRow   // group, choice → its roll-up row
	// fusion are the candidates (contest ID, NUL, choice ID) that stand
	// on several party lines: each line is a choice of its own.
	fusion   map[string]bool
	findings []finding
}

type fileInfo struct {
	name    string
	src     events.Source
	win1252 bool // not UTF-8: read as Windows-1252
}

type rowRef struct{ file, line int32 }

// partyRow is a row and its party, to tell a duplicated row from a
// candidate on another party's line.
type partyRow struct {
	rowRef
	party string
}

type finding struct {
	file, line int32
	importer.Finding
}

type county struct {
	idx   int32
	unit  int32
	id    string
	byRaw map[string]int32 // precinct as written → unit, -1 for a roll-up
	byID  map[string]int32 // precinct unit ID → unit
}

type officeKey struct{ office, district string }

// office is one spelling of an office and district: the contest its
// candidates go to, and their choices.
type office struct {
	pseudo     bool
	unassigned bool   // a blank office: its rows go to contest "unassigned"
	folded     string // words of a pseudo-office
	spelt      string // a pseudo-office as written
	id         string // the race's contest ID
	name       string // the race's contest name
	cands      map[officeKey]target
}

// target is where a candidate's votes go.
type target struct {
	contest *contest
	choice  int32
}

type contest struct {
	idx      int32
	id, name string
	kind     string
	choices  []*choice
	byID     map[string]int32
	counties []int32 // that have rows for it, in order
	// race is, for a race's turnout companion, the race's contest ID.
	race string
}

// statedKey keys the file's own totals: a contest and choice in a county
// (-1 for the state).
type statedKey struct {
	target
	county int32
}

type choice struct {
	id, name, party string
	cased           bool // name is spelt by the file, not title-cased by us
	aliases         []string
}

type report struct {
	idx     int32
	unit    int32
	contest *contest
	file    int32
	counts  []events.Count
	group   *group
}

// group is one county's rows for one contest: the sums of its precinct rows
// and its roll-up rows.
type group struct {
	idx       int32
	county    *county
	contest   *contest
	precincts bool
	sums      [][]int64 // choice → vote type → votes over the precincts
	rollups   []rollup
}

// rollup is one roll-up row.
type rollup struct {
	rowRef
	choice   int32
	votes    int64
	hasVotes bool
	byType   bool
	vals     []vtVal
	stated   int64 // the row's votes as the file states them
}

func newBuilder(m meta, opts Options) *builder {
	b := &builder{
		meta:          m,
		voteFor:       opts.VoteFor,
		prefer:        opts.Prefer,
		trustLastLine: opts.TrustLastLine,
		blankOffice:   opts.BlankOffice,
		ignore:        map[string]bool{},
		asVoteType:    map[string]bool{},
		unitIDs:       map[string]int32{},
		countyByRaw:   map[string]*county{},
		countyByID:    map[string]*county{},
		contestByID:   map[string]*contest{},
		offices:       map[officeKey]*office{},
		vtByID:        map[string]int32{},
		reportBy:      map[[2]int32]*report{},
		groupBy:       map[[2]int32]*group{},
		dups:          map[[2]int32]partyRow{},
		stated:        map[statedKey]int64{},
		rollDups:      map[[2]int32]partyRow{},
	}
	for _, c := range opts.IgnoreColumns {
		b.ignore[columnKey(c)] = true
	}
	for _, c := range opts.VoteTypeColumns {
		b.asVoteType[columnKey(c)] = true
	}
	b.units = append(b.units, events.Unit{ID: m.state, Name: m.stateName, Kind: "state"})
	b.unitIDs[m.state] = 0
	b.state = &county{idx: -1, unit: 0, id: m.state, byRaw: map[string]int32{}, byID: map[string]int32{}}
	return b
}

func (b *builder) voteType(vt figure) int32 {
	if i, ok := b.vtByID[vt.id]; ok {
		return i
	}
	i := int32(len(b.voteTypes))
	b.voteTypes = append(b.voteTypes, events.VoteType{ID: vt.id, Name: vt.name})
	b.vtByID[vt.id] = i
	return i
}

// addUnit adds a unit, refusing an ID already taken.
func (b *builder) addUnit(f *fileState, r *csv.Reader, line, col int, u events.Unit) (int32, error) {
	if j, dup := b.unitIDs[u.ID]; dup {
		return 0, b.colErr(f, r, line, col, "%s %s gives unit ID %q, already used by %s %s",
			u.Kind, quote(u.Name), u.ID, b.units[j].Kind, quote(b.units[j].Name))
	}
	i := int32(len(b.units))
	b.units = append(b.units, u)
	b.unitIDs[u.ID] = i
	return i, nil
}

// name trims a name field and checks it.
func (b *builder) name(f *fileState, r *csv.Reader, line, col int, raw string, required bool) (string, error) {
	s := importer.CleanName(raw)
	if s == "" && required {
		return "", b.colErr(f, r, line, col, "missing")
	}
	if msg := checkText(s); msg != "" {
		return "", b.colErr(f, r, line, col, "%s", msg)
	}
	return s, nil
}

// county returns a row's county: b.state for a row without one (a file
// without a county column, or a roll-up row whose county and precinct are
// blank).
func (b *builder) county(f *fileState, r *csv.Reader, line int, rec []string) (*county, error) {
	col := f.layout.col[fCounty]
	if col < 0 {
		return b.state, nil
	}
	raw := rec[col]
	if c, ok := b.countyByRaw[raw]; ok {
		return c, nil
	}
	name, err := b.name(f, r, line, col, raw, false)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if pc := f.layout.col[fPrecinct]; pc >= 0 && !isRollup(rec[pc]) {
			return nil, b.colErr(f, r, line, col, "missing (the row has precinct %s)", quote(strings.TrimSpace(rec[pc])))
		}
		return b.state, nil // a statewide roll-up row
	}
	id := countyID(name)
	if id == "" {
		return nil, b.colErr(f, r, line, col, "%s has no letters or digits to make an ID from", quote(name))
	}
	c := b.countyByID[id]
	if c == nil {
		u, err := b.addUnit(f, r, line, col, events.Unit{ID: id, Name: name, Kind: "county", Parent: b.meta.state})
		if err != nil {
			return nil, err
		}
		c = &county{idx: int32(len(b.counties)), unit: u, id: id, byRaw: map[string]int32{}, byID: map[string]int32{}}
		b.counties = append(b.counties, c)
		b.countyByID[id] = c
	}
	b.countyByRaw[strings.Clone(raw)] = c
	return c, nil
}

// precinct returns a precinct's unit, or -1 for a roll-up row.
func (b *builder) precinct(f *fileState, r *csv.Reader, line int, c *county, raw string) (int32, error) {
	if u, ok := c.byRaw[raw]; ok {
		return u, nil
	}
	col := f.layout.col[fPrecinct]
	name, err := b.name(f, r, line, col, raw, false)
	if err != nil {
		return 0, err
	}
	u := int32(-1)
	if !isRollup(name) {
		slug := importer.Slug(name)
		if slug == "" {
			return 0, b.colErr(f, r, line, col, "%s has no letters or digits to make an ID from", quote(name))
		}
		id := c.id + ":" + slug
		var ok bool
		if u, ok = c.byID[id]; !ok {
			if u, err = b.addUnit(f, r, line, col, events.Unit{ID: id, Name: name, Kind: "precinct", Parent: c.id}); err != nil {
				return 0, err
			}
			c.byID[id] = u
		}
	}
	c.byRaw[strings.Clone(raw)] = u
	return u, nil
}

func (b *builder) office(f *fileState, r *csv.Reader, line int, officeRaw, districtRaw string) (*office, error) {
	key := officeKey{officeRaw, districtRaw}
	if o := b.offices[key]; o != nil {
		return o, nil
	}
	l := &f.layout
	name, err := b.name(f, r, line, l.col[fOffice], officeRaw, false)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if !b.blankOffice {
			return nil, b.colErr(f, r, line, l.col[fOffice], "missing: which contest are this row's votes of? "+
				"Fix the file, or give --blank-office to log each row without an office as a contest of its own")
		}
		// Not cached: each row without an office is a contest of its own.
		src := b.files[f.idx].src
		id := fmt.Sprintf("%s-%s-%d", UnassignedContest, src.SHA256[:8], line)
		return &office{unassigned: true, id: id, cands: map[officeKey]target{},
			name: fmt.Sprintf("Unassigned: %s, line %d (no office)", src.File, line)}, nil
	}
	district := ""
	if l.col[fDistrict] >= 0 {
		if district, err = b.name(f, r, line, l.col[fDistrict], districtRaw, false); err != nil {
			return nil, err
		}
	}
	o := &office{cands: map[officeKey]target{}}
	if folded := words(name); isPseudoOffice(folded) {
		o.pseudo, o.folded, o.spelt = true, folded, name
	} else {
		o.id, o.name = contestName(name, district)
		switch {
		case o.id == "":
			return nil, b.colErr(f, r, line, l.col[fOffice], "%s has no letters or digits to make an ID from", quote(name))
		case len(o.name)+len(" (turnout)") > events.MaxNameLength:
			return nil, b.colErr(f, r, line, l.col[fOffice], "the contest's name %s is longer than %d bytes", quote(o.name), events.MaxNameLength-len(" (turnout)"))
		}
	}
	b.offices[officeKey{strings.Clone(officeRaw), strings.Clone(districtRaw)}] = o
	return o, nil
}

// contest returns the contest with an ID, adding it if it is new.
func (b *builder) contest(f *fileState, r *csv.Reader, line int, id, name, kind string) (*contest, error) {
	if ct := b.contestByID[id]; ct != nil {
		if ct.kind != kind {
			return nil, b.colErr(f, r, line, f.layout.col[fOffice], "contest ID %q of %s is also the ID of contest %s", id, quote(name), quote(ct.name))
		}
		return ct, nil
	}
	ct := &contest{idx: int32(len(b.contests)), id: id, name: name, kind: kind, byID: map[string]int32{}}
	b.contests = append(b.contests, ct)
	b.contestByID[id] = ct
	return ct, nil
}

// choice returns where a candidate's votes go, adding the contest and
// choice if they are new.
func (b *builder) choice(f *fileState, r *csv.Reader, line int, o *office, candRaw, partyRaw string) (target, error) {
	key := officeKey{candRaw, partyRaw}
	if t, ok := o.cands[key]; ok {
		return t, nil
	}
	l := &f.layout
	cand, err := b.name(f, r, line, l.col[fCandidate], candRaw, false)
	if err != nil {
		return target{}, err
	}
	party := ""
	if l.col[fParty] >= 0 {
		if party, err = b.name(f, r, line, l.col[fParty], partyRaw, false); err != nil {
			return target{}, err
		}
	}
	folded := words(cand)
	fig, isFigure := figures[folded]
	var (
		ct                           *contest
		id, name, choiceParty, alias string
		cased                        = true
	)
	switch {
	case o.pseudo:
		if ct, err = b.contest(f, r, line, TurnoutContest, "Turnout", events.KindTurnout); err != nil {
			return target{}, err
		}
		alias = cand
		if cand == "" {
			fig, isFigure, alias = figures[o.folded], true, o.spelt
			if fig.id == "" {
				fig = figure{importer.Slug(o.spelt), importer.TitleCase(o.spelt)}
			}
		}
		if !isFigure {
			fig = figure{importer.Slug(cand), importer.TitleCase(cand)}
		}
		id, name = fig.id, fig.name
	case isFigure && cand != "":
		if ct, err = b.contest(f, r, line, o.id+"-turnout", o.name+" (turnout)", events.KindTurnout); err != nil {
			return target{}, err
		}
		ct.race = o.id
		id, name, alias = fig.id, fig.name, cand
	case cand == "" && party == "":
		return target{}, b.colErr(f, r, line, l.col[fCandidate], "missing")
	default:
		cid, cname := o.id, o.name
		if b.meta.primary && party != "" && !o.unassigned && !nonpartisan[words(party)] {
			// In a primary each party's race is a contest of its own.
			cid, cname = importer.Slug(o.id+" "+party), o.name+" ("+party+")"
		}
		if ct, err = b.contest(f, r, line, cid, cname, ""); err != nil {
			return target{}, err
		}
		switch {
		case cand == "": // a straight-party vote
			id, name, choiceParty, alias = importer.Slug(party), party, party, party
		case writeInNames[folded]:
			id, name, alias = writeIns.id, writeIns.name, cand
		default:
			stripped := stripParty(cand, party)
			id, name, choiceParty, alias = importer.Slug(stripped), importer.TitleCase(stripped), party, cand
			cased = strings.IndexFunc(stripped, unicode.IsLower) >= 0
			if b.fusion[cid+"\x00"+id] && party != "" {
				// One candidate on several party lines: a choice per line.
				id, name = importer.Slug(stripped+" "+party), name+" ("+party+")"
			}
		}
	}
	col := l.col[fCandidate]
	if cand == "" && party != "" && !o.pseudo {
		col = l.col[fParty]
	}
	switch {
	case id == "":
		return target{}, b.colErr(f, r, line, col, "%s has no letters or digits to make an ID from", quote(alias))
	case len(name) > events.MaxNameLength:
		return target{}, b.colErr(f, r, line, col, "longer than %d bytes in title case", events.MaxNameLength)
	}
	t := target{contest: ct, choice: ct.add(id, name, choiceParty, alias, cased)}
	if raw := strings.TrimSpace(candRaw); raw != cand && raw != "" && len(raw) <= events.MaxNameLength && !strings.ContainsFunc(raw, isControl) {
		ct.alias(t.choice, raw) // the spelling as published, markup and all
	}
	o.cands[officeKey{strings.Clone(candRaw), strings.Clone(partyRaw)}] = t
	return t, nil
}

// add returns a choice's index, adding it or merging a new spelling into it.
func (ct *contest) add(id, name, party, alias string, cased bool) int32 {
	i, ok := ct.byID[id]
	if !ok {
		i = int32(len(ct.choices))
		ct.choices = append(ct.choices, &choice{id: id, name: name, party: party, cased: cased, aliases: []string{alias}})
		ct.byID[id] = i
		return i
	}
	ch := ct.choices[i]
	if ch.party == "" {
		ch.party = party
	}
	if !ch.cased && cased {
		ch.name, ch.cased = name, true
	}
	if !slices.Contains(ch.aliases, alias) {
		ch.aliases = append(ch.aliases, alias)
	}
	return i
}

// alias adds a spelling to a choice's aliases.
func (ct *contest) alias(i int32, a string) {
	if ch := ct.choices[i]; !slices.Contains(ch.aliases, a) {
		ch.aliases = append(ch.aliases, a)
	}
}

func (ct *contest) isTurnout() bool { return ct.kind == events.KindTurnout }

// describe names a row's county, precinct, contest and choice for a message.
func (b *builder) describe(c *county, unit int32, t target) string {
	where := b.units[c.unit].Name
	if unit >= 0 {
		where += ", " + b.units[unit].Name
	}
	return where + ", " + t.contest.name + ", " + t.contest.choices[t.choice].name
}

func (b *builder) group(c *county, ct *contest) *group {
	key := [2]int32{c.idx, ct.idx}
	g := b.groupBy[key]
	if g == nil {
		g = &group{idx: int32(len(b.groups)), county: c, contest: ct}
		b.groups = append(b.groups, g)
		b.groupBy[key] = g
		if c != b.state {
			ct.counties = append(ct.counties, c.idx)
		}
	}
	return g
}

// add records a row's figures: in its precinct's report, or as a roll-up.
func (b *builder) add(f *fileState, line int, c *county, unit int32, t target, vals []vtVal, votes int64, hasVotes, byType bool, stated int64) error {
	here := rowRef{f.idx, int32(line)}
	if unit < 0 {
		g := b.group(c, t.contest)
		key := [2]int32{g.idx, t.choice}
		if prev, dup := b.rollDups[key]; dup {
			if err := b.fusionLine(f, prev, t); err != nil {
				return err
			}
			what := b.describe(c, -1, t)
			if f.layout.col[fPrecinct] >= 0 {
				what += " (roll-up)"
			}
			return b.dupErr(f, here, prev.rowRef, what)
		}
		b.rollDups[key] = partyRow{here, f.party}
		g.rollups = append(g.rollups, rollup{rowRef: here, choice: t.choice, votes: votes, hasVotes: hasVotes, byType: byType, vals: slices.Clone(vals), stated: stated})
		return nil
	}
	b.stated[statedKey{t, c.idx}] += stated
	rk := [2]int32{unit, t.contest.idx}
	rep := b.reportBy[rk]
	if rep == nil {
		rep = &report{idx: int32(len(b.reports)), unit: unit, contest: t.contest, file: f.idx, group: b.group(c, t.contest)}
		// Room for every choice known so far: after the first precinct, all.
		rep.counts = make([]events.Count, 0, len(vals)*min(len(t.contest.choices), 64))
		b.reports = append(b.reports, rep)
		b.reportBy[rk] = rep
	} else if rep.file != f.idx {
		return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d", line), Msg: fmt.Sprintf(
			"%s, %s, %s is already reported by %s: one unit's results for a contest must come from one file",
			b.units[c.unit].Name, b.units[unit].Name, t.contest.name, b.files[rep.file].name)}
	}
	key := [2]int32{rep.idx, t.choice}
	if prev, dup := b.dups[key]; dup {
		if err := b.fusionLine(f, prev, t); err != nil {
			return err
		}
		return b.dupErr(f, here, prev.rowRef, b.describe(c, unit, t))
	}
	b.dups[key] = partyRow{here, f.party}
	g := rep.group
	g.precincts = true
	for len(g.sums) <= int(t.choice) {
		g.sums = append(g.sums, nil)
	}
	sums := g.sums[t.choice]
	ch := t.contest.choices[t.choice]
	for _, v := range vals {
		rep.counts = append(rep.counts, events.Count{Choice: ch.id, VoteType: b.voteTypes[v.vt].ID, Votes: v.n})
		for len(sums) <= int(v.vt) {
			sums = append(sums, 0)
		}
		sums[v.vt] += v.n
	}
	g.sums[t.choice] = sums
	return nil
}

// fusionError says that a candidate stands on several party lines, so
// that the files are read again with a choice per line.
type fusionError struct{ key string }

func (e *fusionError) Error() string { return "a candidate on several party lines: " + e.key }

// fusionLine returns a fusionError when a row repeats an earlier one's
// candidate on another party's line.
func (b *builder) fusionLine(f *fileState, prev partyRow, t target) error {
	p := prev.party
	ch := t.contest.choices[t.choice]
	if p == "" || f.party == "" || p == f.party || importer.GenericChoice(ch.id) || t.contest.kind != "" {
		return nil
	}
	return &fusionError{key: t.contest.id + "\x00" + ch.id}
}

func (b *builder) dupErr(f *fileState, here, prev rowRef, what string) error {
	at := fmt.Sprintf("line %d", prev.line)
	if prev.file != here.file {
		at = fmt.Sprintf("%s, line %d", b.files[prev.file].name, prev.line)
	}
	return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d", here.line), Msg: fmt.Sprintf(
		"duplicate row: %s is also on %s", what, at)}
}

// finish checks the roll-ups and assembles the import.
func (b *builder) finish(election string) (*importer.Import, error) {
	for _, g := range b.groups {
		if len(g.rollups) == 0 {
			continue
		}
		if g.precincts {
			b.compare(g, g.sums)
			continue
		}
		if g.county == b.state && len(g.contest.counties) > 0 {
			b.compare(g, b.countySums(g.contest)) // statewide roll-up rows
			continue
		}
		// No precincts: the roll-ups are the county's (or the state's) own results.
		first := g.rollups[0]
		rep := &report{idx: int32(len(b.reports)), unit: g.county.unit, contest: g.contest, file: first.file, group: g}
		for _, ru := range g.rollups {
			if ru.file != first.file {
				return nil, &importer.Error{File: b.files[ru.file].name, Where: fmt.Sprintf("line %d", ru.line), Msg: fmt.Sprintf(
					"%s, %s is already reported by %s: one unit's results for a contest must come from one file",
					b.units[g.county.unit].Name, g.contest.name, b.files[first.file].name)}
			}
			ch := g.contest.choices[ru.choice]
			for _, v := range ru.vals {
				rep.counts = append(rep.counts, events.Count{Choice: ch.id, VoteType: b.voteTypes[v.vt].ID, Votes: v.n})
			}
			b.stated[statedKey{target{g.contest, ru.choice}, g.county.idx}] += ru.stated
		}
		b.reports = append(b.reports, rep)
	}

	m := &events.Manifest{Name: b.meta.name, Date: b.meta.date, VoteTypes: b.voteTypes, Units: b.units}
	if b.meta.derived {
		m.Name = b.derivedName()
	}
	for id := range b.voteFor {
		if b.contestByID[id] == nil || b.contestByID[id].kind != "" {
			return nil, fmt.Errorf("couldn't import %s: Options.VoteFor names %q, which is not a contest of the files", b.files[0].name, id)
		}
	}
	outs := b.identify()
	for _, oc := range outs {
		ct := oc.src
		c := events.Contest{ID: oc.id, Name: oc.name, Kind: ct.kind, Units: oc.scope}
		if ct.kind == "" {
			c.VoteFor = 1
			if n, ok := b.voteFor[ct.id]; ok {
				if n < 1 || n > len(ct.choices) {
					return nil, fmt.Errorf("couldn't import %s: Options.VoteFor gives %q %d, not between 1 and its %d choices", b.files[0].name, ct.id, n, len(ct.choices))
				}
				c.VoteFor = n
			}
		}
		for i, ch := range ct.choices {
			if oc.used[i] {
				c.Choices = append(c.Choices, events.Choice{ID: ch.id, Name: ch.name, Party: ch.party, Aliases: ch.aliases})
			}
		}
		m.Contests = append(m.Contests, c)
	}
	imp := &importer.Import{Election: election, Manifest: m, Reports: make([]*events.CountReport, len(b.reports))}
	for i, rep := range b.reports {
		slices.SortFunc(rep.counts, func(a, b events.Count) int {
			return cmp.Or(strings.Compare(a.Choice, b.Choice), strings.Compare(a.VoteType, b.VoteType))
		})
		imp.Reports[i] = &events.CountReport{Unit: b.units[rep.unit].ID, Contest: b.outOf(rep.contest, rep.group.county.idx).id, Counts: rep.counts, Source: b.files[rep.file].src}
	}
	want := make(map[importer.ContestChoice]int64, len(b.stated))
	for k, n := range b.stated {
		want[importer.ContestChoice{Contest: b.outOf(k.contest, k.county).id, Choice: k.contest.choices[k.choice].id}] += n
	}
	var err error
	if imp.Totals, err = importer.CheckTotals(b.files[0].name, imp.Reports, want); err != nil {
		return nil, err
	}
	slices.SortStableFunc(b.findings, func(x, y finding) int {
		return cmp.Or(cmp.Compare(x.file, y.file), cmp.Compare(x.line, y.line))
	})
	for _, f := range b.findings {
		imp.Findings = append(imp.Findings, f.Finding)
	}
	return imp, nil
}

// countySums sums a contest's figures over its counties, by choice and
// vote type: each county's precincts, or its roll-up rows where it has no
// precincts.
func (b *builder) countySums(ct *contest) [][]int64 {
	sums := make([][]int64, len(ct.choices))
	add := func(ch int32, vt int32, n int64) {
		for len(sums[ch]) <= int(vt) {
			sums[ch] = append(sums[ch], 0)
		}
		sums[ch][vt] += n
	}
	for _, ci := range ct.counties {
		g := b.groupBy[[2]int32{ci, ct.idx}]
		if g.precincts {
			for ch, bytype := range g.sums {
				for vt, n := range bytype {
					add(int32(ch), int32(vt), n)
				}
			}
			continue
		}
		for _, ru := range g.rollups {
			for _, v := range ru.vals {
				add(ru.choice, v.vt, v.n)
			}
		}
	}
	return sums
}

// compare checks a group's roll-up rows against the sums of what they roll
// up (a county's precincts, or the state's counties).
func (b *builder) compare(g *group, groupSums [][]int64) {
	under := "precincts"
	if g.county == b.state {
		under = "counties"
	}
	cname := b.units[g.county.unit].Name
	seen := make([]bool, len(g.contest.choices))
	for _, ru := range g.rollups {
		seen[ru.choice] = true
		var sums []int64
		if int(ru.choice) < len(groupSums) {
			sums = groupSums[ru.choice]
		}
		var total, rolled int64
		for _, n := range sums {
			total += n
		}
		for _, v := range ru.vals {
			rolled += v.n
		}
		if ru.hasVotes {
			rolled = ru.votes
		}
		var diffs []string
		if rolled != total {
			diffs = append(diffs, fmt.Sprintf("%d votes, but the %s sum to %d", rolled, under, total))
		}
		if ru.byType {
			for _, v := range ru.vals {
				var n int64
				if int(v.vt) < len(sums) {
					n = sums[v.vt]
				}
				if v.n != n {
					diffs = append(diffs, fmt.Sprintf("%s %d, but the %s sum to %d", b.voteTypes[v.vt].Name, v.n, under, n))
				}
			}
		}
		if len(diffs) > 0 {
			b.rollupFinding(ru.rowRef, fmt.Sprintf("roll-up of %s, %s, %s: %s",
				cname, g.contest.name, g.contest.choices[ru.choice].name, strings.Join(diffs, "; ")))
		}
	}
	for i, sums := range groupSums {
		if sums == nil || seen[i] {
			continue
		}
		var total int64
		for _, n := range sums {
			total += n
		}
		b.rollupFinding(g.rollups[0].rowRef, fmt.Sprintf("the roll-up of %s, %s has no row for %s, whose %s sum to %d",
			cname, g.contest.name, g.contest.choices[i].name, under, total))
	}
}

func (b *builder) rollupFinding(at rowRef, msg string) {
	b.findings = append(b.findings, finding{file: at.file, line: at.line, Finding: importer.Finding{
		Kind: importer.FindingRollup, File: b.files[at.file].name, Where: fmt.Sprintf("line %d", at.line), Msg: msg}})
}

// derivedName names the election from the state, the file name's words
// without county names, and the date.
func (b *builder) derivedName() string {
	var kept []string
	for _, w := range strings.Fields(b.meta.name) {
		if b.countyByID[importer.Slug(w)] == nil {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		kept = []string{"election"}
	}
	name := b.meta.stateName + " " + strings.Join(kept, " ") + ", " + b.meta.date
	if len(name) > events.MaxNameLength {
		name = b.meta.stateName + " election, " + b.meta.date
	}
	return name
}
