package nist

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// builder turns a decoded report into a manifest and reports, checking it
// as it goes. It stops at the first problem.
type builder struct {
	file     string
	m        *events.Manifest
	reports  []*events.CountReport
	findings []importer.Finding
	// stated is the file's own votes by contest and choice, summed from the
	// counts as read, apart from the reports (see state).
	stated map[importer.ContestChoice]int64

	defined    map[string]string    // @id → path of the element it names
	units      map[string]*unitInfo // by @id
	unitList   []*unitInfo          // file order
	unitIDs    map[string]*unitInfo // by ledger ID
	root       *unitInfo
	subtrees   map[*unitInfo]map[*unitInfo]bool // district → units in it
	parties    map[string]string                // @id → party abbreviation or name
	candidates map[string]candidate             // by @id
	voteTypes  map[string]int                   // ID → index in m.VoteTypes
	contestIDs map[string]bool
}

type unitInfo struct {
	atID, id, path, name, kind string
	parent                     *unitInfo
	parentPath                 string // the GpUnit that composes it
	children                   []*unitInfo
	order                      int // index in m.Units, -1 until placed
	registered                 json.RawMessage
}

type candidate struct {
	choice, name, party string
}

// entry is one count of a selection (or a turnout figure) for one unit.
type entry struct {
	choice   int // index in the contest's choices
	unit     *unitInfo
	voteType string
	vtName   string
	rollup   bool // Type "total": the sum of the other types, if any
	votes    int64
	path     string
}

// contestBuild is what the builder knows of one contest while reading it.
type contestBuild struct {
	path     string
	def      *events.Contest
	district *unitInfo
	entries  []entry
	// scope holds the units that may report; outside holds the counts of
	// their ancestors, which are roll-ups only checked, when the scope is
	// several units under the district.
	scope      map[*unitInfo]bool
	scopeRoots []*unitInfo
	outside    []entry
}

const (
	typeReport       = "ElectionResults.ElectionReport"
	typeUnit         = "ElectionResults.ReportingUnit"
	typeDevice       = "ElectionResults.ReportingDevice"
	typeParty        = "ElectionResults.Party"
	typeCoalition    = "ElectionResults.Coalition"
	typeCandidate    = "ElectionResults.Candidate"
	typeCandContest  = "ElectionResults.CandidateContest"
	typeMeasure      = "ElectionResults.BallotMeasureContest"
	typeRetention    = "ElectionResults.RetentionContest"
	typePartyContest = "ElectionResults.PartyContest"
	typeCandSel      = "ElectionResults.CandidateSelection"
	typeMeasureSel   = "ElectionResults.BallotMeasureSelection"
	typePartySel     = "ElectionResults.PartySelection"

	// ledgerChoiceID is the OtherType of the ExternalIdentifier that carries
	// a choice ID when a candidate's @id could not.
	ledgerChoiceID = "ledger-choice-id"
	// ledgerContestUnits is the OtherType of the ExternalIdentifier that
	// carries a contest's scope when it is more than one unit: their IDs,
	// separated by spaces.
	ledgerContestUnits = "ledger-contest-units"
	// Turnout contest and choice IDs that Parse creates.
	turnoutID   = "turnout"
	registered  = "registered"
	ballotsCast = "ballots-cast"
	totalType   = "total"
)

func newBuilder(file string) *builder {
	return &builder{
		file: file, m: &events.Manifest{},
		defined: map[string]string{}, units: map[string]*unitInfo{}, unitIDs: map[string]*unitInfo{},
		subtrees: map[*unitInfo]map[*unitInfo]bool{}, parties: map[string]string{},
		candidates: map[string]candidate{}, voteTypes: map[string]int{}, contestIDs: map[string]bool{},
		stated: map[importer.ContestChoice]int64{},
	}
}

func (b *builder) errf(path, format string, args ...any) error {
	return &importer.Error{File: b.file, Where: path, Msg: fmt.Sprintf(format, args...)}
}

func (b *builder) finding(kind, path, format string, args ...any) {
	b.findings = append(b.findings, importer.Finding{Kind: kind, File: b.file, Where: path, Msg: fmt.Sprintf(format, args...)})
}

// atType checks an element's @type against the ones allowed and returns it.
func (b *builder) atType(path string, raw json.RawMessage, allowed ...string) (string, error) {
	t, err := b.reqStr(path, "@type", raw)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, t) {
		return "", b.errf(path, "@type %q is not %s", t, strings.Join(allowed, " or "))
	}
	return t, nil
}

// define reads an element's @id and checks that no other element has it.
func (b *builder) define(path string, raw json.RawMessage) (string, error) {
	id, err := b.reqStr(path, "@id", raw)
	if err != nil {
		return "", err
	}
	if prev, ok := b.defined[id]; ok {
		return "", b.errf(path, "@id %q is used twice (also %s)", id, prev)
	}
	b.defined[id] = path
	return id, nil
}

// localID derives a ledger ID from an @id; see the package doc.
func (b *builder) localID(path, atID, prefix string) (string, error) {
	s := atID
	if len(s) > len(prefix) && strings.HasPrefix(s, prefix) {
		s = s[len(prefix):]
	}
	if validID(s) && len(s) <= events.MaxIDLength {
		return s, nil
	}
	if slug := importer.Slug(s); slug != "" {
		return slug, nil
	}
	return "", b.errf(path, "@id %q has no letters or digits to make an ID from", atID)
}

// validID is events' rule for IDs: ^[A-Za-z0-9][A-Za-z0-9._:-]*$.
func validID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return s != ""
}

func (b *builder) build(x *reportWire) error {
	if _, err := b.atType("", x.AtType, typeReport); err != nil {
		return err
	}
	if len(x.Election) != 1 {
		return b.errf("", "Election: want exactly one election, found %d", len(x.Election))
	}
	e := &x.Election[0]
	const epath = "Election[0]"
	if _, err := b.atType(epath, e.AtType, "ElectionResults.Election"); err != nil {
		return err
	}
	name, err := b.text(epath, "Name", e.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return b.errf(epath, "Name: missing")
	}
	b.m.Name = name
	if b.m.Date, err = b.date(epath, e); err != nil {
		return err
	}
	if err := b.readUnits(x.GpUnit, e); err != nil {
		return err
	}
	for i := range x.Party {
		if err := b.party(fmt.Sprintf("Party[%d]", i), &x.Party[i]); err != nil {
			return err
		}
	}
	for i := range e.Candidate {
		if err := b.candidate(fmt.Sprintf("%s.Candidate[%d]", epath, i), &e.Candidate[i]); err != nil {
			return err
		}
	}
	if len(e.Contest) == 0 && len(e.BallotCounts) == 0 {
		return b.errf(epath, "Contest: none: the report has no contests")
	}
	for i := range e.Contest {
		c, err := b.contest(fmt.Sprintf("%s.Contest[%d]", epath, i), &e.Contest[i])
		if err != nil {
			return err
		}
		if err := b.finish(c); err != nil {
			return err
		}
	}
	return b.turnout(epath, e)
}

// date reads the election day: EndDate, or StartDate when there is none.
func (b *builder) date(path string, e *electionWire) (string, error) {
	field, raw := "EndDate", e.EndDate
	if importer.IsNull(raw) {
		field, raw = "StartDate", e.StartDate
	}
	s, err := b.reqStr(path, field, raw)
	if err != nil {
		return "", err
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", b.errf(path, "%s: %q is not a date (YYYY-MM-DD)", field, s)
	}
	return s, nil
}

// readUnits reads the GpUnits, links them into one tree under the
// election's scope and lists them in the manifest, parents first.
func (b *builder) readUnits(gps []gpUnitWire, e *electionWire) error {
	for i := range gps {
		g := &gps[i]
		path := fmt.Sprintf("GpUnit[%d]", i)
		t, err := b.atType(path, g.AtType, typeUnit, typeDevice)
		if err != nil {
			return err
		}
		atID, err := b.define(path, g.AtID)
		if err != nil {
			return err
		}
		u := &unitInfo{atID: atID, path: path, order: -1, registered: g.VotersRegistered}
		if u.id, err = b.localID(path, atID, "gpu-"); err != nil {
			return err
		}
		if prev, ok := b.unitIDs[u.id]; ok {
			return b.errf(path, "@id %q gives unit ID %q, already used by %s", atID, u.id, prev.path)
		}
		if u.kind, err = b.str(path, "Type", g.Type); err != nil {
			return err
		}
		switch {
		case u.kind == "" && t == typeDevice:
			u.kind = "reporting-device"
		case u.kind == "":
			return b.errf(path, "Type: missing")
		case u.kind == "other":
			other, err := b.str(path, "OtherType", g.OtherType)
			if err != nil {
				return err
			}
			if other != "" {
				u.kind = other
			}
		}
		if u.name, err = b.text(path, "Name", g.Name); err != nil {
			return err
		}
		if u.name == "" {
			u.name = atID // Name is optional in the format, not in a manifest
		}
		b.units[atID], b.unitIDs[u.id] = u, u
		b.unitList = append(b.unitList, u)
	}
	for i := range gps {
		u := b.unitList[i]
		for j, raw := range gps[i].ComposingGpUnitIDs {
			field := fmt.Sprintf("ComposingGpUnitIds[%d]", j)
			ref, err := b.reqStr(u.path, field, raw)
			if err != nil {
				return err
			}
			c, ok := b.units[ref]
			switch {
			case !ok:
				return b.errf(u.path, "%s: %q is not the @id of a GpUnit", field, ref)
			case c == u:
				return b.errf(u.path, "%s: %q is composed of itself", field, ref)
			case c.parent == u:
				return b.errf(u.path, "%s: %q is listed twice", field, ref)
			case c.parent != nil:
				return b.errf(u.path, "%s: %q is already part of %q (%s): a unit has one parent", field, ref, c.parent.atID, c.parentPath)
			}
			c.parent, c.parentPath = u, u.path
		}
	}
	const epath = "Election[0]"
	scope, err := b.reqStr(epath, "ElectionScopeId", e.ElectionScopeID)
	if err != nil {
		return err
	}
	root, ok := b.units[scope]
	switch {
	case !ok:
		return b.errf(epath, "ElectionScopeId: %q is not the @id of a GpUnit", scope)
	case root.parent != nil:
		return b.errf(epath, "ElectionScopeId: %q is part of %q (%s): the election's scope must be the top unit", scope, root.parent.atID, root.parentPath)
	}
	b.root = root
	// Units that nothing composes belong to the election's scope.
	for _, u := range b.unitList {
		if u.parent == nil && u != root {
			u.parent = root
		}
	}
	if err := b.checkCycles(); err != nil {
		return err
	}
	b.place(root)
	for _, u := range b.unitList {
		b.place(u)
	}
	for _, u := range b.unitList {
		if u.parent != nil {
			u.parent.children = append(u.parent.children, u)
		}
	}
	return nil
}

// checkCycles makes sure that every unit's chain of parents ends at the root.
func (b *builder) checkCycles() error {
	ok := map[*unitInfo]bool{b.root: true}
	for _, u := range b.unitList {
		seen := map[*unitInfo]bool{}
		var chain []*unitInfo
		for v := u; !ok[v]; v = v.parent {
			if seen[v] {
				names := []string{}
				start := slices.Index(chain, v)
				for _, w := range chain[start:] {
					names = append(names, w.atID)
				}
				names = append(names, v.atID)
				return b.errf(v.path, "ComposingGpUnitIds form a cycle: %s", strings.Join(names, " ⊃ "))
			}
			seen[v] = true
			chain = append(chain, v)
		}
		for _, v := range chain {
			ok[v] = true
		}
	}
	return nil
}

// place adds u to the manifest after its ancestors.
func (b *builder) place(u *unitInfo) {
	var chain []*unitInfo
	for v := u; v != nil && v.order < 0; v = v.parent {
		chain = append(chain, v)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		v := chain[i]
		v.order = len(b.m.Units)
		mu := events.Unit{ID: v.id, Name: v.name, Kind: v.kind}
		if v.parent != nil {
			mu.Parent = v.parent.id
		}
		b.m.Units = append(b.m.Units, mu)
	}
}

// subtree returns the units in d's subtree, d included.
func (b *builder) subtree(d *unitInfo) map[*unitInfo]bool {
	if s, ok := b.subtrees[d]; ok {
		return s
	}
	s := map[*unitInfo]bool{}
	stack := []*unitInfo{d}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s[u] = true
		stack = append(stack, u.children...)
	}
	b.subtrees[d] = s
	return s
}

func (b *builder) party(path string, p *partyWire) error {
	if _, err := b.atType(path, p.AtType, typeParty, typeCoalition); err != nil {
		return err
	}
	atID, err := b.define(path, p.AtID)
	if err != nil {
		return err
	}
	abbr, err := b.text(path, "Abbreviation", p.Abbreviation)
	if err != nil {
		return err
	}
	if abbr == "" {
		if abbr, err = b.text(path, "Name", p.Name); err != nil {
			return err
		}
	}
	if abbr == "" {
		abbr = atID
	}
	b.parties[atID] = abbr
	return nil
}

func (b *builder) candidate(path string, c *candidateWire) error {
	if _, err := b.atType(path, c.AtType, typeCandidate); err != nil {
		return err
	}
	atID, err := b.define(path, c.AtID)
	if err != nil {
		return err
	}
	var cand candidate
	if cand.name, err = b.text(path, "BallotName", c.BallotName); err != nil {
		return err
	}
	if cand.name == "" {
		return b.errf(path, "BallotName: missing")
	}
	pid, err := b.str(path, "PartyId", c.PartyID)
	if err != nil {
		return err
	}
	if pid != "" {
		party, ok := b.parties[pid]
		if !ok {
			return b.errf(path, "PartyId: %q is not the @id of a Party", pid)
		}
		cand.party = party
	}
	for i, x := range c.ExternalIdentifier {
		xpath := fmt.Sprintf("%s.ExternalIdentifier[%d]", path, i)
		t, err := b.str(xpath, "Type", x.Type)
		if err != nil {
			return err
		}
		other, err := b.str(xpath, "OtherType", x.OtherType)
		if err != nil {
			return err
		}
		if t != "other" || other != ledgerChoiceID {
			continue
		}
		v, err := b.reqStr(xpath, "Value", x.Value)
		if err != nil {
			return err
		}
		if !validID(v) || len(v) > events.MaxIDLength {
			return b.errf(xpath, "Value: %q is not a valid choice ID", v)
		}
		cand.choice = v
	}
	if cand.choice == "" {
		if cand.choice, err = b.localID(path, atID, "cand-"); err != nil {
			return err
		}
	}
	b.candidates[atID] = cand
	return nil
}

// contest reads a contest, its choices and their counts.
func (b *builder) contest(path string, w *contestWire) (*contestBuild, error) {
	t, err := b.atType(path, w.AtType, typeCandContest, typeMeasure, typeRetention, typePartyContest)
	if err != nil {
		return nil, err
	}
	if t == typePartyContest {
		return nil, b.errf(path, "a PartyContest (straight-party votes) has no counterpart in the ledger")
	}
	atID, err := b.define(path, w.AtID)
	if err != nil {
		return nil, err
	}
	id, err := b.localID(path, atID, "con-")
	if err != nil {
		return nil, err
	}
	if b.contestIDs[id] {
		return nil, b.errf(path, "@id %q gives contest ID %q, already used by another contest", atID, id)
	}
	b.contestIDs[id] = true
	name, err := b.text(path, "Name", w.Name)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, b.errf(path, "Name: missing")
	}
	def := events.Contest{ID: id, Name: name}
	c := &contestBuild{path: path, district: b.root}
	field, raw := "ElectionDistrictId", w.ElectionDistrictID
	if importer.IsNull(raw) {
		field, raw = "ElectoralDistrictId", w.ElectoralDistrictID
	}
	dist, err := b.str(path, field, raw)
	if err != nil {
		return nil, err
	}
	if dist != "" {
		d, ok := b.units[dist]
		if !ok {
			return nil, b.errf(path, "%s: %q is not the @id of a GpUnit", field, dist)
		}
		if d != b.root {
			c.district = d
			def.Units = []string{d.id}
		}
	}
	if err := b.scope(c, &def, w); err != nil {
		return nil, err
	}
	sels, selField := w.ContestSelection, "ContestSelection"
	if len(sels) == 0 {
		sels, selField = w.BallotSelection, "BallotSelection"
	} else if len(w.BallotSelection) > 0 {
		return nil, b.errf(path, "has both ContestSelection and BallotSelection")
	}
	if len(sels) == 0 {
		return nil, b.errf(path, "ContestSelection: none: %q has no choices", name)
	}
	seen := map[string]string{} // choice ID → path
	for k := range sels {
		spath := fmt.Sprintf("%s.%s[%d]", path, selField, k)
		ch, err := b.selection(spath, &sels[k])
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[ch.ID]; ok {
			return nil, b.errf(spath, "gives choice ID %q, already used by %s", ch.ID, prev)
		}
		seen[ch.ID] = spath
		def.Choices = append(def.Choices, ch)
		first := len(c.entries)
		for n := range sels[k].VoteCounts {
			vpath := fmt.Sprintf("%s.VoteCounts[%d]", spath, n)
			en, err := b.countEntry(vpath, &sels[k].VoteCounts[n], "Count", sels[k].VoteCounts[n].Count)
			if err != nil {
				return nil, err
			}
			en.choice = k
			switch {
			case c.scope[en.unit]:
				c.entries = append(c.entries, en)
			case c.isAncestor(en.unit):
				c.outside = append(c.outside, en)
			default:
				return nil, b.errf(vpath, "GpUnitId: %q is not in the contest's district %q", en.unit.atID, c.district.atID)
			}
		}
		b.state(id, ch.ID, c.entries[first:])
	}
	switch t {
	case typeCandContest:
		v, err := b.count(path, "VotesAllowed", w.VotesAllowed)
		if err != nil {
			return nil, err
		}
		if v < 1 || v > int64(len(def.Choices)) {
			return nil, b.errf(path, "VotesAllowed %d is not between 1 and the number of selections, %d", v, len(def.Choices))
		}
		def.VoteFor = int(v)
	default:
		def.VoteFor = 1
	}
	b.m.Contests = append(b.m.Contests, def)
	c.def = &b.m.Contests[len(b.m.Contests)-1]
	return c, nil
}

// scope sets the units of a contest that may report: the district's
// subtree, or the subtrees of the units its ledger-contest-units identifier
// names.
func (b *builder) scope(c *contestBuild, def *events.Contest, w *contestWire) error {
	c.scope, c.scopeRoots = b.subtree(c.district), []*unitInfo{c.district}
	for i, x := range w.ExternalIdentifier {
		xpath := fmt.Sprintf("%s.ExternalIdentifier[%d]", c.path, i)
		t, err := b.str(xpath, "Type", x.Type)
		if err != nil {
			return err
		}
		other, err := b.str(xpath, "OtherType", x.OtherType)
		if err != nil {
			return err
		}
		if t != "other" || other != ledgerContestUnits {
			continue
		}
		v, err := b.reqStr(xpath, "Value", x.Value)
		if err != nil {
			return err
		}
		c.scope, c.scopeRoots, def.Units = map[*unitInfo]bool{}, nil, nil
		for _, id := range strings.Fields(v) {
			u, ok := b.unitIDs[id]
			switch {
			case !ok:
				return b.errf(xpath, "Value: %q is not the ID of a unit", id)
			case c.scope[u]:
				return b.errf(xpath, "Value: %q is listed twice, or is inside another unit listed", id)
			case !b.subtree(c.district)[u]:
				return b.errf(xpath, "Value: %q is not in the contest's district %q", id, c.district.atID)
			}
			for v := range b.subtree(u) {
				c.scope[v] = true
			}
			c.scopeRoots = append(c.scopeRoots, u)
			def.Units = append(def.Units, u.id)
		}
		for _, u := range c.scopeRoots {
			for v := u.parent; v != nil; v = v.parent {
				if c.scope[v] {
					return b.errf(xpath, "Value: %q is inside %q, also listed", u.id, v.id)
				}
			}
		}
	}
	return nil
}

// isAncestor reports whether u is an ancestor of one of the scope's units.
func (c *contestBuild) isAncestor(u *unitInfo) bool {
	for _, r := range c.scopeRoots {
		for v := r.parent; v != nil; v = v.parent {
			if v == u {
				return true
			}
		}
	}
	return false
}

// selection reads one selection as a choice.
func (b *builder) selection(path string, s *selectionWire) (events.Choice, error) {
	t, err := b.atType(path, s.AtType, typeCandSel, typeMeasureSel, typePartySel)
	if err != nil {
		return events.Choice{}, err
	}
	if t == typePartySel {
		return events.Choice{}, b.errf(path, "a PartySelection (straight-party votes) has no counterpart in the ledger")
	}
	atID, err := b.define(path, s.AtID)
	if err != nil {
		return events.Choice{}, err
	}
	if t == typeMeasureSel {
		name, err := b.text(path, "Selection", s.Selection)
		if err != nil {
			return events.Choice{}, err
		}
		if name == "" {
			return events.Choice{}, b.errf(path, "Selection: missing")
		}
		id, err := b.localID(path, atID, "sel-")
		return events.Choice{ID: id, Name: name}, err
	}
	var cands []candidate
	for j, raw := range s.CandidateIDs {
		field := fmt.Sprintf("CandidateIds[%d]", j)
		ref, err := b.reqStr(path, field, raw)
		if err != nil {
			return events.Choice{}, err
		}
		c, ok := b.candidates[ref]
		if !ok {
			return events.Choice{}, b.errf(path, "%s: %q is not the @id of a Candidate", field, ref)
		}
		cands = append(cands, c)
	}
	switch len(cands) {
	case 1:
		return events.Choice{ID: cands[0].choice, Name: cands[0].name, Party: cands[0].party}, nil
	case 0:
		if string(s.IsWriteIn) != "true" {
			return events.Choice{}, b.errf(path, "CandidateIds: none, and not a write-in (IsWriteIn)")
		}
		id, err := b.localID(path, atID, "sel-")
		return events.Choice{ID: id, Name: "Write-in"}, err
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.name
	}
	name, err := b.clean(path, "CandidateIds", strings.Join(names, " / "))
	if err != nil {
		return events.Choice{}, err
	}
	id, err := b.localID(path, atID, "sel-")
	return events.Choice{ID: id, Name: name, Party: cands[0].party}, err
}

// countEntry reads a VoteCounts or BallotCounts element; field and raw are
// its count.
func (b *builder) countEntry(path string, w *countWire, field string, raw json.RawMessage) (entry, error) {
	gp, err := b.reqStr(path, "GpUnitId", w.GpUnitID)
	if err != nil {
		return entry{}, err
	}
	u, ok := b.units[gp]
	if !ok {
		return entry{}, b.errf(path, "GpUnitId: %q is not the @id of a GpUnit", gp)
	}
	if !importer.IsNull(w.Round) {
		r, err := b.count(path, "Round", w.Round)
		if err != nil {
			return entry{}, err
		}
		if r != 1 {
			return entry{}, b.errf(path, "Round %d: counts of later ranked-choice rounds are not supported", r)
		}
	}
	if string(w.IsSuppressedForPrivacy) == "true" {
		return entry{}, b.errf(path, "IsSuppressedForPrivacy: the count is withheld, so there is nothing to import")
	}
	votes, err := b.count(path, field, raw)
	if err != nil {
		return entry{}, err
	}
	t, err := b.reqStr(path, "Type", w.Type)
	if err != nil {
		return entry{}, err
	}
	en := entry{unit: u, votes: votes, path: path}
	if t == "other" {
		other, err := b.reqStr(path, "OtherType", w.OtherType)
		if err != nil {
			return entry{}, err
		}
		en.vtName = other
		switch {
		case validID(other) && len(other) <= events.MaxIDLength:
			en.voteType = other
		default:
			if en.voteType = importer.Slug(other); en.voteType == "" {
				return entry{}, b.errf(path, "OtherType %q has no letters or digits to make an ID from", other)
			}
		}
		return en, nil
	}
	if !validID(t) || len(t) > events.MaxIDLength {
		return entry{}, b.errf(path, "Type %q is not a count type", t)
	}
	en.voteType, en.rollup = t, t == totalType
	en.vtName = countTypeNames[t]
	if en.vtName == "" {
		en.vtName = t
	}
	return en, nil
}

// countTypeNames names the CountItemTypes that become vote types.
var countTypeNames = map[string]string{
	"absentee": "Absentee", "absentee-fwab": "Absentee (FWAB)", "absentee-in-person": "Absentee in Person",
	"absentee-mail": "Absentee by Mail", "early": "Early", "election-day": "Election Day",
	"provisional": "Provisional", "seats": "Seats", "total": "Total", "uocava": "UOCAVA", "write-in": "Write-in",
}

// finish turns a contest's entries into reports, one per unit in manifest
// order, after checking the totals against their vote types.
func (b *builder) finish(c *contestBuild) error {
	type cell struct {
		choice int
		unit   *unitInfo
	}
	type group struct {
		parts  []int // indexes in c.entries
		rollup int   // -1 if none
	}
	groups := map[cell]*group{}
	var order []cell
	for i, en := range c.entries {
		k := cell{en.choice, en.unit}
		g := groups[k]
		if g == nil {
			g = &group{rollup: -1}
			groups[k] = g
			order = append(order, k)
		}
		dup := -1
		if en.rollup {
			dup, g.rollup = g.rollup, i
		} else {
			for _, j := range g.parts {
				if c.entries[j].voteType == en.voteType {
					dup = j
				}
			}
			g.parts = append(g.parts, i)
		}
		if dup >= 0 {
			return b.errf(en.path, "vote type %q appears twice for %q in GpUnit %q (also %s)", en.voteType, c.def.Choices[en.choice].ID, en.unit.atID, c.entries[dup].path)
		}
	}
	keep := make([]bool, len(c.entries))
	for _, k := range order {
		g := groups[k]
		for _, j := range g.parts {
			keep[j] = true
		}
		if g.rollup < 0 {
			continue
		}
		if len(g.parts) == 0 {
			keep[g.rollup] = true
			continue
		}
		var sum int64
		for _, j := range g.parts {
			sum += c.entries[j].votes
		}
		if t := c.entries[g.rollup].votes; t != sum {
			b.finding(importer.FindingVoteTypes, c.entries[g.rollup].path,
				"%q in GpUnit %q: the total is %d but its vote types sum to %d", c.def.Choices[k.choice].ID, k.unit.atID, t, sum)
		}
	}
	reps := map[*unitInfo]*events.CountReport{}
	for i, en := range c.entries {
		if !keep[i] {
			continue
		}
		if _, ok := b.voteTypes[en.voteType]; !ok {
			b.voteTypes[en.voteType] = len(b.m.VoteTypes)
			b.m.VoteTypes = append(b.m.VoteTypes, events.VoteType{ID: en.voteType, Name: en.vtName})
		}
		r := reps[en.unit]
		if r == nil {
			r = &events.CountReport{Unit: en.unit.id, Contest: c.def.ID}
			reps[en.unit] = r
		}
		if len(r.Counts) == events.MaxCountRows {
			return b.errf(en.path, "GpUnit %q has more than %d counts in %q (choices × vote types), too many for one report", en.unit.atID, events.MaxCountRows, c.def.Name)
		}
		r.Counts = append(r.Counts, events.Count{Choice: c.def.Choices[en.choice].ID, VoteType: en.voteType, Votes: en.votes})
	}
	units := make([]*unitInfo, 0, len(reps))
	for u := range reps {
		units = append(units, u)
	}
	slices.SortFunc(units, func(a, b *unitInfo) int { return a.order - b.order })
	for _, u := range units {
		r := reps[u]
		slices.SortFunc(r.Counts, func(a, b events.Count) int {
			if c := strings.Compare(a.Choice, b.Choice); c != 0 {
				return c
			}
			return strings.Compare(a.VoteType, b.VoteType)
		})
		b.reports = append(b.reports, r)
	}
	b.rollups(c, reps, units)
	b.outsideRollups(c, reps)
	return nil
}

// outsideRollups checks the counts of the scope's ancestors against the
// sum of the scope units' reports beneath them, when all of those report.
func (b *builder) outsideRollups(c *contestBuild, reps map[*unitInfo]*events.CountReport) {
	type cell struct {
		unit   *unitInfo
		choice int
	}
	parts, totals := map[cell]int64{}, map[cell]int64{}
	hasParts := map[cell]bool{}
	var order []*unitInfo
	seen := map[*unitInfo]bool{}
	for _, en := range c.outside {
		k := cell{en.unit, en.choice}
		if en.rollup {
			totals[k] += en.votes
		} else {
			parts[k] += en.votes
			hasParts[k] = true
		}
		if !seen[en.unit] {
			seen[en.unit] = true
			order = append(order, en.unit)
		}
	}
	for _, u := range order {
		sum := map[string]int64{}
		all := true
		for _, r := range c.scopeRoots {
			if !under(r, u) {
				continue
			}
			rep, ok := reps[r]
			if !ok {
				all = false
				break
			}
			for _, cnt := range rep.Counts {
				sum[cnt.Choice] += cnt.Votes
			}
		}
		if !all {
			continue
		}
		for k, ch := range c.def.Choices {
			got := totals[cell{u, k}]
			if hasParts[cell{u, k}] {
				got = parts[cell{u, k}]
			}
			if got != sum[ch.ID] {
				b.finding(importer.FindingRollup, c.path, "GpUnit %q: %q has %d votes, but the contest's units in it sum to %d", u.atID, ch.ID, got, sum[ch.ID])
				break
			}
		}
	}
}

// under reports whether u is a strict descendant of a.
func under(u, a *unitInfo) bool {
	for v := u.parent; v != nil; v = v.parent {
		if v == a {
			return true
		}
	}
	return false
}
