package clarity

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// level says which leaves a file has.
type level int

const (
	levelUnknown level = iota
	levelState         // County leaves: the root is a state
	levelCounty        // Precinct leaves: the root is a county
)

// leafName is the element name of a level's units.
func (l level) leafName() string {
	if l == levelCounty {
		return "Precinct"
	}
	return "County"
}

type unit struct{ id, name string }

// contest is what the parser knows of one contest while and after reading
// it.
type contest struct {
	def     events.Contest
	scope   []int       // ParticipatingCounties, by unit index; nil if absent
	units   []int       // units that report it, in the order of its first VoteType
	slot    map[int]int // unit index → index in units and reports
	reports []*events.CountReport
	vts     []string       // vote type IDs, in the order of its first Choice
	vtPos   map[string]int // vote type ID → index in vts
	fixed   bool           // the first VoteType has been read: units is complete
	first   string         // where the first VoteType is, for messages
	choices map[string]int // choice ID → index in def.Choices
	keys    map[string]int // Choice key → index in def.Choices
}

// parser reads one file. It stops at the first problem.
type parser struct {
	walker
	opts Options
	// stated is the file's own votes by contest and choice: the sums of
	// its County or Precinct elements, added apart from the reports.
	stated    map[importer.ContestChoice]int64
	header    map[string]string // Timestamp, ElectionName, ElectionDate, Region
	date      string
	rootID    string
	level     level
	units     []unit
	byID      map[string]int // unit ID → index in units
	byName    map[string]int // unit element name as written → index in units
	stamp     []uint32       // per unit: the list it was last seen in, for duplicates
	gen       uint32
	voteTypes []events.VoteType
	vtIDs     map[string]bool
	turnout   bool // a turnout element was read
	turnoutVT bool // a report uses TurnoutVoteType
	ids       map[string]bool
	contests  []*contest
	reports   []*events.CountReport
	findings  []importer.Finding
}

func newParser(file string, data []byte, opts Options) *parser {
	return &parser{
		walker: walker{file: file, data: data},
		opts:   opts,
		header: map[string]string{},
		byID:   map[string]int{},
		byName: map[string]int{},
		vtIDs:  map[string]bool{},
		ids:    map[string]bool{},
		stated: map[importer.ContestChoice]int64{},
	}
}

var headers = []string{"Timestamp", "ElectionName", "ElectionDate", "Region"}

func (p *parser) parse() error {
	if err := p.init(); err != nil {
		return err
	}
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "ElectionResult" {
				line, _ := p.d.InputPos()
				return &importer.Error{File: p.file, Where: fmt.Sprintf("line %d", line), Msg: fmt.Sprintf("the root element is <%s>, want <ElectionResult>", t.Name.Local)}
			}
			p.push("ElectionResult", 0)
			if err := p.electionResult(); err != nil {
				return err
			}
			p.pop()
			return p.epilog()
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) > 0 {
				line, _ := p.d.InputPos()
				return &importer.Error{File: p.file, Where: fmt.Sprintf("line %d", line), Msg: "text before the root element: not a Clarity XML file"}
			}
		}
	}
}

// epilog reads what follows the root element: comments and space only.
func (p *parser) epilog() error {
	for {
		tok, err := p.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return p.decodeErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.Directive:
			line, _ := p.d.InputPos()
			return &importer.Error{File: p.file, Where: fmt.Sprintf("line %d", line), Msg: "data after the root element"}
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) > 0 {
				line, _ := p.d.InputPos()
				return &importer.Error{File: p.file, Where: fmt.Sprintf("line %d", line), Msg: "text after the root element"}
			}
		}
	}
}

func (p *parser) electionResult() error {
	err := p.children(func(se xml.StartElement) error {
		switch n := se.Name.Local; n {
		case "Timestamp", "ElectionName", "ElectionDate", "Region":
			return p.headerElement(n)
		case "VoterTurnout", "ElectionVoterTurnout":
			if err := p.requireHeader(); err != nil {
				return err
			}
			if p.turnout {
				return p.errf("a second turnout element: the file has one VoterTurnout or ElectionVoterTurnout")
			}
			p.turnout = true
			return p.readTurnout(se)
		case "Contest":
			if err := p.requireHeader(); err != nil {
				return err
			}
			return p.readContest(se)
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	if err := p.requireHeader(); err != nil {
		return err
	}
	if len(p.contests) == 0 {
		return p.errf("no contests: the file has no <Contest> and no turnout figures")
	}
	if p.level == levelUnknown {
		return p.errf("no results: the file has no County or Precinct elements")
	}
	return nil
}

func (p *parser) headerElement(n string) error {
	if _, ok := p.header[n]; ok {
		return p.errf("<%s> appears twice", n)
	}
	s, err := p.text()
	if err != nil {
		return err
	}
	clean, err := p.name("text", s)
	if err != nil {
		return err
	}
	if n == "Timestamp" {
		// Copied as written into every report's source version.
		if pr := importer.NameProblem(s); pr != "" {
			return p.errf("text: %s", pr)
		}
		clean = s
	}
	s = clean
	p.header[n] = s
	switch n {
	case "ElectionDate":
		for _, layout := range []string{"1/2/2006", time.DateOnly} {
			if d, err := time.Parse(layout, s); err == nil {
				p.date = d.Format(time.DateOnly)
				return nil
			}
		}
		return p.errf("%q is not a date (M/D/YYYY or YYYY-MM-DD)", s)
	case "Region":
		if p.opts.Root != "" {
			p.rootID = p.opts.Root
			return nil
		}
		p.rootID = importer.Slug(trimCounty(s))
		if p.rootID == "" {
			return p.errf("%q has no letters or digits to make the root unit's ID from", s)
		}
	}
	return nil
}

// requireHeader checks that the header elements came before the results.
func (p *parser) requireHeader() error {
	for _, h := range headers {
		if _, ok := p.header[h]; !ok {
			return p.errf("missing <%s>: Timestamp, ElectionName, ElectionDate and Region must come before the results", h)
		}
	}
	return nil
}

func trimCounty(s string) string {
	const suffix = " County"
	if n := len(s) - len(suffix); n > 0 && strings.EqualFold(s[n:], suffix) {
		return s[:n]
	}
	return s
}

// unitRef reads the name of a County or Precinct element and returns its
// unit, registering it when new.
func (p *parser) unitRef(se xml.StartElement) (int, error) {
	kind := levelState
	if se.Name.Local == "Precinct" {
		kind = levelCounty
	}
	switch p.level {
	case levelUnknown:
		p.level = kind
	case kind:
	default:
		return 0, p.errf("a <%s> in a file of <%s> results: one file has County or Precinct results, not both", se.Name.Local, p.level.leafName())
	}
	raw, _ := attr(se, "name")
	if i, ok := p.byName[raw]; ok {
		return i, nil
	}
	name, err := p.name("attribute name", raw)
	if err != nil {
		return 0, err
	}
	var id string
	if kind == levelState {
		id = importer.Slug(trimCounty(name))
	} else {
		id = importer.Slug(name)
	}
	if id == "" {
		return 0, p.errf("name %q has no letters or digits to make an ID from", name)
	}
	if kind == levelCounty {
		id = p.rootID + ":" + id
	}
	if id == p.rootID {
		return 0, p.errf("%s %q gives unit ID %q, the root unit's (Region %q)", se.Name.Local, name, id, p.header["Region"])
	}
	i, ok := p.byID[id]
	if !ok {
		i = len(p.units)
		p.units = append(p.units, unit{id, name})
		p.stamp = append(p.stamp, 0)
		p.byID[id] = i
	}
	p.byName[raw] = i
	return i, nil
}

// mark records that unit i is in the list numbered p.gen, and reports
// whether it already was.
func (p *parser) mark(i int) bool {
	if p.stamp[i] == p.gen {
		return true
	}
	p.stamp[i] = p.gen
	return false
}

// contestID picks a free ID for a contest; see the package doc.
func (p *parser) contestID(name, base, key string) (string, error) {
	if base == "" {
		return "", p.errf("text %q has no letters or digits to make an ID from", name)
	}
	if !p.ids[base] {
		return base, nil
	}
	if s := importer.Slug(key); s != "" && !p.ids[base+"-"+s] {
		return base + "-" + s, nil
	}
	for n := 2; ; n++ {
		if id := fmt.Sprintf("%s-%d", base, n); !p.ids[id] {
			return id, nil
		}
	}
}

func (p *parser) addContest(c *contest) {
	p.ids[c.def.ID] = true
	p.contests = append(p.contests, c)
	p.reports = append(p.reports, c.reports...)
}

func (p *parser) finding(kind, format string, args ...any) {
	p.findings = append(p.findings, importer.Finding{Kind: kind, File: p.file, Where: p.where(), Msg: fmt.Sprintf(format, args...)})
}

// readTurnout reads VoterTurnout or ElectionVoterTurnout.
func (p *parser) readTurnout(se xml.StartElement) error {
	tag := se.Name.Local
	regs, hasRegs, err := p.countAttr(se, "totalVoters")
	if err != nil {
		return err
	}
	cast, hasCast, err := p.countAttr(se, "ballotsCast")
	if err != nil {
		return err
	}
	if hasRegs != hasCast {
		return p.errf("has one of totalVoters and ballotsCast: want both or neither")
	}
	c := &contest{slot: map[int]int{}}
	var sumRegs, sumCast int64
	p.gen++
	err = p.children(func(list xml.StartElement) error {
		if list.Name.Local != "Counties" && list.Name.Local != "Precincts" {
			return p.skip()
		}
		return p.children(func(ue xml.StartElement) error {
			if ue.Name.Local != "County" && ue.Name.Local != "Precinct" {
				return p.skip()
			}
			i, err := p.unitRef(ue)
			if err != nil {
				return err
			}
			if p.mark(i) {
				return p.errf("%s %q (unit %q) is listed twice", ue.Name.Local, p.units[i].name, p.units[i].id)
			}
			r, hasR, err := p.countAttr(ue, "totalVoters")
			if err != nil {
				return err
			}
			b, hasB, err := p.countAttr(ue, "ballotsCast")
			if err != nil {
				return err
			}
			switch {
			case hasR != hasB:
				return p.errf("has one of totalVoters and ballotsCast: want both or neither")
			case hasR && !hasRegs:
				return p.errf("has turnout figures, but <%s> has none: want figures for the whole and for every unit, or none", tag)
			case !hasR && hasRegs:
				return p.errf("missing totalVoters and ballotsCast: <%s> has them, so every unit needs them", tag)
			}
			c.slot[i] = len(c.units)
			c.units = append(c.units, i)
			if hasR {
				sumRegs += r
				sumCast += b
				c.reports = append(c.reports, &events.CountReport{Unit: p.units[i].id, Contest: TurnoutContest, Counts: []events.Count{
					{Choice: BallotsCast, VoteType: TurnoutVoteType, Votes: b},
					{Choice: Registered, VoteType: TurnoutVoteType, Votes: r},
				}})
			}
			return p.skip()
		})
	})
	if err != nil || !hasRegs {
		return err
	}
	id, err := p.contestID("Voter Turnout", TurnoutContest, "")
	if err != nil {
		return err
	}
	for _, r := range c.reports {
		r.Contest = id
	}
	if len(c.reports) > 0 {
		p.stated[importer.ContestChoice{Contest: id, Choice: Registered}] += sumRegs
		p.stated[importer.ContestChoice{Contest: id, Choice: BallotsCast}] += sumCast
	}
	c.def = events.Contest{ID: id, Name: "Voter Turnout", Kind: events.KindTurnout, Choices: []events.Choice{
		{ID: Registered, Name: "Registered Voters"},
		{ID: BallotsCast, Name: "Ballots Cast"},
	}}
	if len(c.units) > 0 {
		if sumRegs != regs {
			p.finding(importer.FindingRollup, "totalVoters is %d but its units' sum to %d", regs, sumRegs)
		}
		if sumCast != cast {
			p.finding(importer.FindingRollup, "ballotsCast is %d but its units' sum to %d", cast, sumCast)
		}
	}
	p.turnoutVT = p.turnoutVT || len(c.reports) > 0
	p.addContest(c)
	return nil
}

// readContest reads a Contest and adds its reports.
func (p *parser) readContest(se xml.StartElement) error {
	text, err := p.nameAttr(se, "text")
	if err != nil {
		return err
	}
	key, _ := attr(se, "key")
	voteFor, ok, err := p.countAttr(se, "voteFor")
	switch {
	case err != nil:
		return err
	case !ok:
		voteFor = 1 // files whose contests all elect one may leave it out
	case voteFor < 1:
		return p.errf("attribute voteFor: %d, want at least 1", voteFor)
	case voteFor > events.MaxVoteFor:
		return p.errf("attribute voteFor: %d, more than the limit of %d", voteFor, events.MaxVoteFor)
	}
	if q, ok := attr(se, "isQuestion"); ok && !strings.EqualFold(q, "true") && !strings.EqualFold(q, "false") {
		return p.errf("attribute isQuestion: %s, want true or false", quoteShort(q))
	}
	id, err := p.contestID(text, importer.Slug(text), key)
	if err != nil {
		return err
	}
	c := &contest{
		def:  events.Contest{ID: id, Name: text, VoteFor: int(voteFor)},
		slot: map[int]int{}, vtPos: map[string]int{}, choices: map[string]int{}, keys: map[string]int{},
	}
	err = p.children(func(ce xml.StartElement) error {
		switch ce.Name.Local {
		case "ParticipatingCounties":
			return p.participating(c)
		case "Choice":
			return p.readChoice(c, ce)
		}
		return p.skip() // VoteType of the contest: undervotes, overvotes
	})
	if err != nil {
		return err
	}
	if len(c.def.Choices) == 0 {
		return p.errf("no <Choice> in %q", text)
	}
	if c.scope != nil {
		p.gen++
		for _, i := range c.scope {
			p.mark(i)
		}
		for _, i := range c.units {
			if p.stamp[i] != p.gen {
				return p.errf("%s %q reports %q but is not among its ParticipatingCounties", p.level.leafName(), p.units[i].name, text)
			}
		}
	}
	for _, r := range c.reports {
		slices.SortFunc(r.Counts, compareCount)
	}
	p.addContest(c)
	return nil
}

func compareCount(a, b events.Count) int {
	if c := strings.Compare(a.Choice, b.Choice); c != 0 {
		return c
	}
	return strings.Compare(a.VoteType, b.VoteType)
}

// participating reads ParticipatingCounties, the contest's scope.
func (p *parser) participating(c *contest) error {
	if c.scope != nil {
		return p.errf("<ParticipatingCounties> appears twice in one contest")
	}
	c.scope = []int{}
	p.gen++
	return p.children(func(ue xml.StartElement) error {
		if ue.Name.Local != "County" {
			return p.skip()
		}
		i, err := p.unitRef(ue)
		if err != nil {
			return err
		}
		if p.mark(i) {
			return p.errf("County %q (unit %q) is listed twice", p.units[i].name, p.units[i].id)
		}
		c.scope = append(c.scope, i)
		return p.skip()
	})
}

// readChoice reads a Choice of contest c.
func (p *parser) readChoice(c *contest, se xml.StartElement) error {
	raw, _ := attr(se, "text")
	text, err := p.name("attribute text", raw)
	if err != nil {
		return err
	}
	party, _ := attr(se, "party")
	if party = strings.TrimSpace(party); party != "" {
		if party, err = p.name("attribute party", party); err != nil {
			return err
		}
	}
	key, _ := attr(se, "key")
	total, hasTotal, err := p.countAttr(se, "totalVotes")
	if err != nil {
		return err
	}
	bare := text
	if code, rest := partyPrefix(text, party); code != "" {
		bare = rest
		if party == "" {
			party = code
		}
	}
	bare = importer.StripParty(bare, party)
	id := importer.Slug(bare)
	if id == "" {
		return p.errf("text %q has no letters or digits to make an ID from", text)
	}
	if k, ok := c.choices[id]; ok {
		return p.errf("Choice %q gives ID %q, as Choice[%d] %q does: a choice listed twice in %q?", text, id, k+1, c.def.Choices[k].Aliases[0], c.def.Name)
	}
	if k, ok := c.keys[key]; ok && key != "" {
		return p.errf("key %q is used twice in %q (also by Choice[%d])", key, c.def.Name, k+1)
	}
	ci := len(c.def.Choices)
	c.choices[id], c.keys[key] = ci, ci
	title := importer.TitleCase(bare)
	if len(title) > events.MaxNameLength {
		title = bare // a few letters grow when their case changes
	}
	ch := events.Choice{ID: id, Name: title, Party: party}
	for _, a := range []string{verbatim(raw, text), text, bare} {
		if a != "" && !slices.Contains(ch.Aliases, a) {
			ch.Aliases = append(ch.Aliases, a)
		}
	}
	c.def.Choices = append(c.def.Choices, ch)
	if rows := len(c.def.Choices) * len(c.vts); rows > events.MaxCountRows {
		return p.errf("%q has %d choices × %d vote types, more than %d counts for one report", c.def.Name, len(c.def.Choices), len(c.vts), events.MaxCountRows)
	}

	seen := make([]bool, len(c.vts))
	var sum int64
	err = p.children(func(ve xml.StartElement) error {
		if ve.Name.Local != "VoteType" {
			return p.skip()
		}
		vname, err := p.nameAttr(ve, "name")
		if err != nil {
			return err
		}
		vt := importer.Slug(vname)
		if vt == "" {
			return p.errf("name %q has no letters or digits to make an ID from", vname)
		}
		votes, hasVotes, err := p.countAttr(ve, "votes")
		if err != nil {
			return err
		}
		k, ok := c.vtPos[vt]
		if !ok {
			if ci > 0 {
				return p.errf("vote type %q is not among the VoteTypes of the first Choice of %q", vname, c.def.Name)
			}
			k = len(c.vts)
			c.vtPos[vt] = k
			c.vts = append(c.vts, vt)
			seen = append(seen, false)
			if !p.vtIDs[vt] {
				p.vtIDs[vt] = true
				p.voteTypes = append(p.voteTypes, events.VoteType{ID: vt, Name: vname})
			}
			if rows := len(c.def.Choices) * len(c.vts); rows > events.MaxCountRows {
				return p.errf("%q has more than %d counts (choices × vote types) for one report", c.def.Name, events.MaxCountRows)
			}
		}
		if seen[k] {
			return p.errf("vote type %q appears twice in Choice %q", vname, text)
		}
		seen[k] = true
		leaves, err := p.readLeaves(c, id, vt)
		if err != nil {
			return err
		}
		p.stated[importer.ContestChoice{Contest: c.def.ID, Choice: id}] += leaves
		if hasVotes && votes != leaves {
			p.finding(importer.FindingRollup, "%s, %s, %s: votes is %d but its %s elements sum to %d", c.def.Name, text, vname, votes, p.level.leafName(), leaves)
		} else {
			votes = leaves
		}
		sum += votes
		return nil
	})
	if err != nil {
		return err
	}
	for k, ok := range seen {
		if !ok {
			return p.errf("missing vote type %q in Choice %q: the first Choice of %q has it", p.vtName(c.vts[k]), text, c.def.Name)
		}
	}
	if hasTotal && total != sum {
		p.finding(importer.FindingVoteTypes, "%s, %s: totalVotes is %d but its VoteTypes sum to %d", c.def.Name, text, total, sum)
	}
	return nil
}

// partyPrefix splits a party code off the start of a choice's text: 2 to 5
// capital letters followed by " - " ("REP - Donald J. Trump"), or by a
// space when the code is the party attribute ("DEM Lindsay Powell" with
// party "DEM"). It returns the code and the rest, or "" and text when the
// text has no such prefix, when the party attribute names another party,
// when the code is an answer (YES, NO, FOR) rather than a party, or when
// the rest is not a candidate's name: it must start with a letter and
// give an ID.
func partyPrefix(text, party string) (code, rest string) {
	n := 0
	for n < len(text) && n <= 5 && 'A' <= text[n] && text[n] <= 'Z' {
		n++
	}
	if n < 2 || n > 5 {
		return "", text
	}
	code = text[:n]
	same := strings.EqualFold(code, party)
	switch {
	case party != "" && !same:
		return "", text
	case strings.HasPrefix(text[n:], " - "):
		rest = text[n+3:]
	case same && strings.HasPrefix(text[n:], " "):
		rest = text[n+1:]
	default:
		return "", text
	}
	switch code {
	case "YES", "NO", "FOR":
		return "", text
	}
	if r, _ := utf8.DecodeRuneInString(rest); !unicode.IsLetter(r) || importer.Slug(rest) == "" {
		return "", text
	}
	return code, rest
}

func (p *parser) vtName(id string) string {
	for _, v := range p.voteTypes {
		if v.ID == id {
			return v.Name
		}
	}
	return id
}

// readLeaves reads the County or Precinct elements of one VoteType of one
// choice, adds their counts to the contest's reports, and returns their sum.
func (p *parser) readLeaves(c *contest, choice, vt string) (int64, error) {
	p.gen++
	var sum int64
	n := 0
	err := p.children(func(ue xml.StartElement) error {
		if ue.Name.Local != "County" && ue.Name.Local != "Precinct" {
			return p.skip()
		}
		i, err := p.unitRef(ue)
		if err != nil {
			return err
		}
		if p.mark(i) {
			raw, _ := attr(ue, "name")
			return p.errf("%s %q (unit %q) appears twice in this VoteType", ue.Name.Local, raw, p.units[i].id)
		}
		votes, ok, err := p.countAttr(ue, "votes")
		switch {
		case err != nil:
			return err
		case !ok:
			return p.errf("attribute votes: missing")
		}
		s, ok := c.slot[i]
		if !ok {
			if c.fixed {
				return p.errf("%s %q is not under the first VoteType of %q (%s)", ue.Name.Local, p.units[i].name, c.def.Name, c.first)
			}
			s = len(c.units)
			c.slot[i] = s
			c.units = append(c.units, i)
			c.reports = append(c.reports, &events.CountReport{Unit: p.units[i].id, Contest: c.def.ID})
		}
		c.reports[s].Counts = append(c.reports[s].Counts, events.Count{Choice: choice, VoteType: vt, Votes: votes})
		sum += votes // each is at most MaxVotes: no overflow for a file that fits in MaxFileSize
		n++
		return p.skip()
	})
	if err != nil {
		return 0, err
	}
	if !c.fixed {
		c.fixed, c.first = true, p.where()
		return sum, nil
	}
	if n < len(c.units) {
		for _, i := range c.units {
			if p.stamp[i] != p.gen {
				return 0, p.errf("missing %s %q: it is under the first VoteType of %q (%s)", p.level.leafName(), p.units[i].name, c.def.Name, c.first)
			}
		}
	}
	return sum, nil
}

// result assembles the import.
func (p *parser) result(election string, src events.Source) *importer.Import {
	src.Version = p.header["Timestamp"]
	m := &events.Manifest{Name: p.header["ElectionName"], Date: p.date, VoteTypes: p.voteTypes}
	if p.turnoutVT && !p.vtIDs[TurnoutVoteType] {
		m.VoteTypes = append(m.VoteTypes, events.VoteType{ID: TurnoutVoteType, Name: "Total"})
	}
	rootKind, kind := "state", "county"
	if p.level == levelCounty {
		rootKind, kind = "county", "precinct"
	}
	m.Units = append(make([]events.Unit, 0, 1+len(p.units)), events.Unit{ID: p.rootID, Name: p.header["Region"], Kind: rootKind})
	for _, u := range p.units {
		m.Units = append(m.Units, events.Unit{ID: u.id, Name: u.name, Kind: kind, Parent: p.rootID})
	}
	for _, c := range p.contests {
		scope := c.scope
		if scope == nil {
			scope = c.units
		}
		if len(scope) < len(p.units) {
			c.def.Units = make([]string, len(scope))
			for k, i := range scope {
				c.def.Units[k] = p.units[i].id
			}
		}
		m.Contests = append(m.Contests, c.def)
	}
	for _, r := range p.reports {
		r.Source = src
	}
	return &importer.Import{Election: election, Manifest: m, Reports: p.reports, Findings: p.findings}
}
