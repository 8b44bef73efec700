package gasos

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// builder turns a decoded export into a manifest and reports, checking it
// as it goes. It stops at the first problem.
type builder struct {
	file       string
	m          *events.Manifest
	voteTypes  map[string]int  // vote type ID → index in m.VoteTypes
	units      map[string]bool // unit IDs in m.Units
	contests   []*contest      // parallel to m.Contests
	contestIDs map[string]bool // IDs in m.Contests
	byID       map[string]int  // ballot item id → index in contests
	bySlug     map[string]int  // slug of the item's name → index, -1 if ambiguous
	reports    []*events.CountReport
	// stated is the file's own votes by contest and choice: the sums of the
	// counties' voteCount, added apart from the reports, which are built
	// from groupResults.
	stated map[importer.ContestChoice]int64
}

// contest is what the builder knows of one ballot item of "results".
type contest struct {
	path     string   // "results.ballotItems[i]"
	name     string   // as in the file
	slug     string   // of the name, before disambiguation
	voteFor  int64    //
	choices  []choice // parallel to the manifest contest's Choices
	byID     map[string]int
	bySlug   map[string]int // choice ID → index
	state    map[cell]int64 // statewide counts
	counties map[cell]int64 // sums of the county counts
	units    []string       // counties that report it, in file order
}

type choice struct {
	path    string // "results.ballotItems[i].ballotOptions[j]"
	name    string // as in the file
	id      string
	party   string
	aliases map[string]bool // the manifest choice's Aliases
}

// cell is a (choice, vote type) pair, by index.
type cell struct{ choice, voteType int }

// group is one groupResults entry: the votes of one vote type.
type group struct {
	voteType int // index in m.VoteTypes
	votes    int64
}

func newBuilder(file string) *builder {
	return &builder{
		file:       file,
		m:          &events.Manifest{},
		voteTypes:  map[string]int{},
		units:      map[string]bool{},
		contestIDs: map[string]bool{},
		byID:       map[string]int{},
		bySlug:     map[string]int{},
		stated:     map[importer.ContestChoice]int64{},
	}
}

func (b *builder) errf(path, format string, args ...any) error {
	return &importer.Error{File: b.file, Where: path, Msg: fmt.Sprintf(format, args...)}
}

func (b *builder) build(x *exportWire) error {
	var err error
	if b.m.Name, err = b.name("", "electionName", x.ElectionName); err != nil {
		return err
	}
	if b.m.Date, err = b.date(x.ElectionDate); err != nil {
		return err
	}
	if x.Results == nil {
		return b.errf("", "results: missing: the statewide results define the contests")
	}
	state, err := b.name("results", "name", x.Results.Name)
	if err != nil {
		return err
	}
	b.m.Units = append(b.m.Units, events.Unit{ID: RootUnit, Name: state, Kind: "state"})
	b.units[RootUnit] = true
	if len(x.Results.BallotItems) == 0 {
		return b.errf("results", "ballotItems: none: the file has no contests")
	}
	for i := range x.Results.BallotItems {
		if err := b.stateItem(fmt.Sprintf("results.ballotItems[%d]", i), &x.Results.BallotItems[i]); err != nil {
			return err
		}
	}
	if len(x.LocalResults) == 0 {
		return b.errf("", "localResults: none: the file has no county results")
	}
	for i := range x.LocalResults {
		if err := b.county(fmt.Sprintf("localResults[%d]", i), &x.LocalResults[i]); err != nil {
			return err
		}
	}
	counties := len(x.LocalResults)
	for i, c := range b.contests {
		if len(c.units) == 0 {
			return b.errf(c.path, "%q is in no county of localResults: only counties report", c.name)
		}
		if len(c.units) < counties {
			b.m.Contests[i].Units = c.units
		}
		if err := b.reconcile(c); err != nil {
			return err
		}
	}
	return nil
}

// date reads electionDate: YYYY-MM-DD, or a timestamp whose date part is kept.
func (b *builder) date(raw []byte) (string, error) {
	s, err := b.name("", "electionDate", raw)
	if err != nil {
		return "", err
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return s[:len(time.DateOnly)], nil
		}
	}
	return "", b.errf("", "electionDate: %q is not a date (YYYY-MM-DD)", s)
}

// stateItem adds a contest from a statewide ballot item.
func (b *builder) stateItem(path string, it *itemWire) error {
	id, err := b.id(path, it.ID)
	if err != nil {
		return err
	}
	name, err := b.name(path, "name", it.Name)
	if err != nil {
		return err
	}
	voteFor, err := b.count(path, "voteFor", it.VoteFor)
	if err != nil {
		return err
	}
	if len(it.BallotOptions) == 0 {
		return b.errf(path, "ballotOptions: none: %q has no candidates", name)
	}
	if voteFor < 1 || voteFor > events.MaxVoteFor {
		return b.errf(path, "voteFor %d is not between 1 and %d (a race may elect more than it has candidates: seats left to write-ins)", voteFor, events.MaxVoteFor)
	}
	if id != "" {
		if j, ok := b.byID[id]; ok {
			return b.errf(path, "id %q is used twice (also by %s)", id, b.contests[j].path)
		}
		b.byID[id] = len(b.contests)
	}
	c := &contest{
		path: path, name: name, slug: importer.Slug(name), voteFor: voteFor,
		byID: map[string]int{}, bySlug: map[string]int{},
		state: map[cell]int64{}, counties: map[cell]int64{},
	}
	cid, err := b.contestID(path, c.slug, id)
	if err != nil {
		return err
	}
	b.contestIDs[cid] = true
	if _, ok := b.bySlug[c.slug]; ok {
		b.bySlug[c.slug] = -1
	} else {
		b.bySlug[c.slug] = len(b.contests)
	}
	mc := events.Contest{ID: cid, Name: name, VoteFor: int(voteFor)}
	for j := range it.BallotOptions {
		opath := fmt.Sprintf("%s.ballotOptions[%d]", path, j)
		ch, err := b.stateOption(opath, c, &it.BallotOptions[j])
		if err != nil {
			return err
		}
		mc.Choices = append(mc.Choices, ch)
	}
	b.contests = append(b.contests, c)
	b.m.Contests = append(b.m.Contests, mc)
	return nil
}

// contestID picks a free ID for a contest; see the package doc.
func (b *builder) contestID(path, base, fileID string) (string, error) {
	if base == "" {
		base = "contest"
	}
	taken := func(id string) bool { return b.contestIDs[id] }
	if !taken(base) {
		return base, nil
	}
	if s := importer.Slug(fileID); s != "" && !taken(base+"-"+s) {
		return base + "-" + s, nil
	}
	for n := 2; n <= len(b.m.Contests)+1; n++ {
		if id := fmt.Sprintf("%s-%d", base, n); !taken(id) {
			return id, nil
		}
	}
	return "", b.errf(path, "couldn't find a free ID for contest %q", base)
}

// stateOption adds a choice from a statewide ballot option.
func (b *builder) stateOption(path string, c *contest, o *optionWire) (events.Choice, error) {
	id, err := b.id(path, o.ID)
	if err != nil {
		return events.Choice{}, err
	}
	name, err := b.name(path, "name", o.Name)
	if err != nil {
		return events.Choice{}, err
	}
	party, err := b.text(path, "politicalParty", o.PoliticalParty)
	if err != nil {
		return events.Choice{}, err
	}
	bare := importer.StripParty(name, party)
	title := importer.TitleCase(bare)
	if len(title) > events.MaxNameLength {
		title = bare // a few letters grow when their case changes
	}
	ch := events.Choice{ID: importer.Slug(bare), Name: title, Party: party, Aliases: []string{name}}
	if bare != name {
		ch.Aliases = append(ch.Aliases, bare)
	}
	if ch.ID == "" {
		return events.Choice{}, b.errf(path, "name %q has no letters or digits to make an ID from", name)
	}
	if k, ok := c.bySlug[ch.ID]; ok {
		if prev := c.choices[k]; strings.EqualFold(prev.name, name) {
			return events.Choice{}, b.errf(path, "duplicate candidate name %q in %q (also %s)", name, c.name, prev.path)
		}
		return events.Choice{}, b.errf(path, "candidate names %q and %q (%s) in %q are the same person or too alike to tell apart (both give ID %q)", name, c.choices[k].name, c.choices[k].path, c.name, ch.ID)
	}
	if id != "" {
		if k, ok := c.byID[id]; ok {
			return events.Choice{}, b.errf(path, "id %q is used twice in %q (also by %s)", id, c.name, c.choices[k].path)
		}
		c.byID[id] = len(c.choices)
	}
	k := len(c.choices)
	c.bySlug[ch.ID] = k
	aliases := map[string]bool{}
	for _, a := range ch.Aliases {
		aliases[a] = true
	}
	c.choices = append(c.choices, choice{path: path, name: name, id: ch.ID, party: party, aliases: aliases})
	groups, _, err := b.groups(path, o, fmt.Sprintf("statewide, %s, %s", c.name, name))
	if err != nil {
		return events.Choice{}, err
	}
	for _, g := range groups {
		c.state[cell{k, g.voteType}] = g.votes
	}
	return ch, nil
}

// groups reads an option's voteCount and groupResults, registers new vote
// types, and checks that the groups add up. It returns the groups and the
// voteCount; where names the option in messages.
func (b *builder) groups(path string, o *optionWire, where string) ([]group, int64, error) {
	total, err := b.count(path, "voteCount", o.VoteCount)
	if err != nil {
		return nil, 0, err
	}
	if len(o.GroupResults) == 0 {
		return nil, 0, b.errf(path, "groupResults: none: %s has no votes by vote type", where)
	}
	var (
		out  []group
		sum  int64
		seen map[int]bool // for many groups; a few are searched
	)
	if len(o.GroupResults) > 8 {
		seen = map[int]bool{}
	}
	for i := range o.GroupResults {
		g := &o.GroupResults[i]
		gpath := fmt.Sprintf("%s.groupResults[%d]", path, i)
		name, err := b.name(gpath, "groupName", g.GroupName)
		if err != nil {
			return nil, 0, err
		}
		vt := importer.Slug(name)
		if vt == "" {
			return nil, 0, b.errf(gpath, "groupName %q has no letters or digits to make an ID from", name)
		}
		votes, err := b.count(gpath, "voteCount", g.VoteCount)
		if err != nil {
			return nil, 0, err
		}
		v, ok := b.voteTypes[vt]
		if !ok {
			v = len(b.m.VoteTypes)
			b.voteTypes[vt] = v
			b.m.VoteTypes = append(b.m.VoteTypes, events.VoteType{ID: vt, Name: name})
		}
		dup := seen[v]
		if seen == nil {
			dup = slices.ContainsFunc(out, func(g group) bool { return g.voteType == v })
		} else {
			seen[v] = true
		}
		if dup {
			return nil, 0, b.errf(gpath, "vote type %q (%q) appears twice for %s", vt, name, where)
		}
		out = append(out, group{v, votes})
		sum += votes // each is at most MaxVotes: no overflow for any file that fits in memory
	}
	if sum != total {
		return nil, 0, b.errf(path, "%s: groupResults sum to %d, but voteCount is %d", where, sum, total)
	}
	return out, total, nil
}

// county adds a county unit and its reports.
func (b *builder) county(path string, a *areaWire) error {
	name, err := b.name(path, "name", a.Name)
	if err != nil {
		return err
	}
	base := name
	if n := len(base) - len(" County"); n > 0 && strings.EqualFold(base[n:], " County") {
		base = base[:n]
	}
	id := importer.Slug(base)
	switch {
	case id == "":
		return b.errf(path, "name %q has no letters or digits to make an ID from", name)
	case b.units[id]:
		i := slices.IndexFunc(b.m.Units, func(u events.Unit) bool { return u.ID == id })
		return b.errf(path, "county %q gives unit ID %q, already used by %q: a county listed twice?", name, id, b.m.Units[i].Name)
	}
	b.units[id] = true
	b.m.Units = append(b.m.Units, events.Unit{ID: id, Name: name, Kind: "county", Parent: RootUnit})
	seen := map[int]string{} // contest → path of the item reporting it
	for i := range a.BallotItems {
		ipath := fmt.Sprintf("%s.ballotItems[%d]", path, i)
		rep, k, err := b.countyItem(ipath, name, id, &a.BallotItems[i])
		if err != nil {
			return err
		}
		if prev, ok := seen[k]; ok {
			return b.errf(ipath, "%s reports %q twice (also %s)", name, b.contests[k].name, prev)
		}
		seen[k] = ipath
		b.contests[k].units = append(b.contests[k].units, id)
		b.reports = append(b.reports, rep)
	}
	return nil
}

// countyItem reads one county's results for one contest. It returns the
// report and the contest's index.
func (b *builder) countyItem(path, county, unit string, it *itemWire) (*events.CountReport, int, error) {
	id, err := b.id(path, it.ID)
	if err != nil {
		return nil, 0, err
	}
	name, err := b.name(path, "name", it.Name)
	if err != nil {
		return nil, 0, err
	}
	k, ok := b.byID[id] // ids are never ""
	if !ok {
		k, ok = b.bySlug[importer.Slug(name)]
	}
	switch {
	case !ok:
		return nil, 0, b.errf(path, "%q (id %q) is not among the statewide results.ballotItems", name, id)
	case k < 0:
		return nil, 0, b.errf(path, "%q matches several statewide ballot items by name; it needs a matching id", name)
	}
	c := b.contests[k]
	if importer.Slug(name) != c.slug {
		return nil, 0, b.errf(path, "name %q differs from %q, the statewide item with id %q", name, c.name, id)
	}
	voteFor, err := b.count(path, "voteFor", it.VoteFor)
	if err != nil {
		return nil, 0, err
	}
	if voteFor != c.voteFor {
		return nil, 0, b.errf(path, "voteFor %d differs from the statewide %d (%s)", voteFor, c.voteFor, c.path)
	}
	if len(it.BallotOptions) == 0 {
		return nil, 0, b.errf(path, "ballotOptions: none: %s has no candidates for %q", county, name)
	}
	mc := &b.m.Contests[k]
	rep := &events.CountReport{Unit: unit, Contest: mc.ID}
	seen := map[int]string{}
	for j := range it.BallotOptions {
		o := &it.BallotOptions[j]
		opath := fmt.Sprintf("%s.ballotOptions[%d]", path, j)
		ch, optName, err := b.countyOption(opath, c, o)
		if err != nil {
			return nil, 0, err
		}
		if prev, ok := seen[ch]; ok {
			return nil, 0, b.errf(opath, "duplicate candidate %q in %s, %q (also %s)", c.choices[ch].name, county, c.name, prev)
		}
		seen[ch] = opath
		if !c.choices[ch].aliases[optName] {
			c.choices[ch].aliases[optName] = true
			mc.Choices[ch].Aliases = append(mc.Choices[ch].Aliases, optName)
		}
		groups, total, err := b.groups(opath, o, fmt.Sprintf("%s, %s, %s", county, c.name, optName))
		if err != nil {
			return nil, 0, err
		}
		b.stated[importer.ContestChoice{Contest: mc.ID, Choice: mc.Choices[ch].ID}] += total
		for _, g := range groups {
			rep.Counts = append(rep.Counts, events.Count{Choice: mc.Choices[ch].ID, VoteType: b.m.VoteTypes[g.voteType].ID, Votes: g.votes})
			c.counties[cell{ch, g.voteType}] += g.votes
		}
		if len(rep.Counts) > events.MaxCountRows {
			return nil, 0, b.errf(opath, "%s, %q has more than %d counts (candidates × vote types), too many for one report", county, c.name, events.MaxCountRows)
		}
	}
	slices.SortFunc(rep.Counts, func(a, b events.Count) int {
		if c := strings.Compare(a.Choice, b.Choice); c != 0 {
			return c
		}
		return strings.Compare(a.VoteType, b.VoteType)
	})
	return rep, k, nil
}

// countyOption finds the choice a county's ballot option is for, by id or
// else by name, and returns it with the option's name.
func (b *builder) countyOption(path string, c *contest, o *optionWire) (int, string, error) {
	id, err := b.id(path, o.ID)
	if err != nil {
		return 0, "", err
	}
	name, err := b.name(path, "name", o.Name)
	if err != nil {
		return 0, "", err
	}
	party, err := b.text(path, "politicalParty", o.PoliticalParty)
	if err != nil {
		return 0, "", err
	}
	s := importer.Slug(importer.StripParty(name, party))
	k, byID := c.byID[id] // ids are never ""
	if !byID {
		var ok bool
		if k, ok = c.bySlug[s]; !ok {
			return 0, "", b.errf(path, "candidate %q (id %q) is not among the statewide candidates for %q (%s)", name, id, c.name, c.path)
		}
	}
	// Matched by id, the names must still agree, party tags aside.
	if ch := c.choices[k]; s != ch.id && importer.Slug(importer.StripParty(name, ch.party)) != ch.id {
		return 0, "", b.errf(path, "name %q differs from %q, the statewide candidate with id %q (%s)", name, ch.name, id, ch.path)
	}
	return k, name, nil
}

// reconcile checks that the statewide counts of a contest are the sums of
// its county counts, and reports the first mismatch in file order.
func (b *builder) reconcile(c *contest) error {
	var (
		bad   cell
		found bool
	)
	check := func(key cell) {
		if c.state[key] != c.counties[key] && (!found || key.choice < bad.choice || key.choice == bad.choice && key.voteType < bad.voteType) {
			bad, found = key, true
		}
	}
	for key := range c.state {
		check(key)
	}
	for key := range c.counties {
		check(key)
	}
	if !found {
		return nil
	}
	ch := c.choices[bad.choice]
	return b.errf(ch.path, "%s, %s, %s: the statewide count is %d but the counties sum to %d",
		c.name, ch.name, b.m.VoteTypes[bad.voteType].Name, c.state[bad], c.counties[bad])
}
