package events

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits of a valid event.
const (
	MaxVotes        = 1_000_000_000 // per count: sums over 10,000 counts × 175,000 units stay below int64's limit
	MaxCountRows    = 600           // counts in one report: as many as a contest has cells (MaxContestCells)
	MaxNameLength   = 256           // names, labels and operators, in bytes
	MaxReasonLength = 2048
	MaxIDLength     = 128
	// MaxVoteFor caps a race's vote_for. A race may elect more than it has
	// choices (two seats and a single write-in line), so the number of
	// choices is no bound; this one only keeps absurd values out.
	MaxVoteFor = 1000
)

// Limits of a manifest. MaxEventSize caps a manifest's bytes, but not what
// the ledger derives from them: a contest's cells are its choices × vote
// types, and its tally shows every choice on the row of every unit it is
// voted in, so a few hundred kilobytes could declare billions of numbers.
// These limits bound the derived sizes too; docs/events.md (Limits) says
// why each is what it is. Every real election fits them with room: the
// largest manifests of the importers' corpus have 3,546 units, depth 3,
// 1,168 contests, 30 choices, 8 vote types, 120 cells in a contest and
// 109,012 tally numbers (South Carolina 2020, 2,446 units).
const (
	// MaxUnits is the most reporting units: a state's ~10,000 precincts
	// five times over. A national manifest (~175,000 precincts) would not
	// fit one submission (MaxSubmissionSize) anyway; a nation is a
	// manifest per state.
	MaxUnits = 50_000
	// MaxUnitDepth is the most levels of the unit tree, the root being
	// level 1 (state ⊃ county ⊃ precinct is 3). Each report rolls up
	// through every level above its unit.
	MaxUnitDepth = 16
	// MaxContests is the most contests: a statewide ballot with every
	// local race, several times over.
	MaxContests = 10_000
	// MaxChoices is the most choices of one contest; few have 100 (135
	// ran in California's 2003 recall).
	MaxChoices = 500
	// MaxVoteTypes is the most vote types; few elections have 20.
	MaxVoteTypes = 64
	// MaxContestCells is the most cells (choices × vote types) of one
	// contest: as many as one report may count (MaxCountRows). A contest
	// must also fit MaxReportCounts, which with IDs of a few bytes allows
	// about 750 cells, so that a single report can always carry a whole
	// contest. With MaxVotes and MaxUnits
	// it keeps every sum of a tally below int64's limit (10⁹ × 5·10⁴ ×
	// 10⁴ = 5·10¹⁷ < 9.2·10¹⁸).
	MaxContestCells = MaxCountRows
	// MaxTallyNumbers is the most numbers a tally document holds, summed
	// over contests: each contest's choices × vote types (its totals by
	// vote type), and for each unit its tally shows (those it is voted in,
	// and their ancestors) a row of the choices' votes and 4 more numbers.
	// It bounds the tally's size (tens of bytes a number, as JSON and in
	// memory) whatever a manifest declares. A state of 5,000 precincts
	// with 40 statewide contests of 5 choices needs 1,800,000.
	MaxTallyNumbers = 2_000_000
	// MaxScopeUnits is the most units a reporter key's registration
	// names; each covers its sub-units too, so a county office names one.
	// 256 of the longest IDs fit one event.
	MaxScopeUnits = 256
	// MaxManifestParts is the most events one manifest may be split into
	// (Manifest.Parts): as many as fit one submission (MaxSubmissionSize).
	MaxManifestParts = 128
	// MaxReportCounts is the most bytes the counts of a report of every
	// cell of a contest may take, each count at MaxVotes: what an event
	// holds (MaxEventSize) less 16 KiB for the rest of a correction (IDs,
	// source, reason).
	MaxReportCounts = MaxEventSize - 16<<10
)

// ValidElectionID reports whether s can name an election: 1–64 characters of
// lowercase letters, digits, '-' and '_', starting with a letter or digit.
// Election IDs appear in NATS subjects and URL paths.
func ValidElectionID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validSHA256 reports whether s is 64 lowercase hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validID reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._:-]*$; a loop,
// because IDs are checked a dozen times per count report.
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

// Validate checks the rules an event must meet on its own, without knowing
// the election's state, and normalises it (sorts counts). Decode calls it.
func (e *Event) Validate() error {
	v := &validator{}
	if e.ID.Version() != 7 || e.ID.Variant() != uuid.RFC4122 {
		v.fail("id", "%s is not a UUIDv7", e.ID)
	}
	if !ValidElectionID(e.Election) {
		v.fail("election", "%q is not a valid election ID (1–64 of a-z, 0-9, '-', '_')", clip(e.Election))
	}
	if e.Body == nil {
		v.fail("data", "missing")
		return v.err
	}
	if e.ExpectedVersion != nil {
		switch e.Body.Type() {
		case TypeCountReported, TypeCountCorrected, TypeCountRetracted:
		default:
			v.fail("expected_version", "only count events (reported, corrected, retracted) take an expected version")
		}
	}
	v.push("data")
	e.Body.validate(v)
	return v.err
}

// validator collects the first error, with the JSON path where it happened.
// Path segments are kept unformatted, so a valid event costs no formatting.
type validator struct {
	path []segment
	err  error
}

// segment is one step of a JSON path: a field name, with an array index
// when idx >= 0.
type segment struct {
	name string
	idx  int
}

func (s segment) String() string {
	if s.idx < 0 {
		return s.name
	}
	return s.name + "[" + strconv.Itoa(s.idx) + "]"
}

func (v *validator) push(p string)             { v.path = append(v.path, segment{p, -1}) }
func (v *validator) pushIndex(p string, i int) { v.path = append(v.path, segment{p, i}) }
func (v *validator) pop()                      { v.path = v.path[:len(v.path)-1] }

func (v *validator) fail(field, format string, args ...any) {
	if v.err != nil {
		return
	}
	p := make([]string, 0, len(v.path)+1)
	for _, s := range v.path {
		p = append(p, s.String())
	}
	if field != "" {
		p = append(p, field)
	}
	v.err = &Error{Field: strings.Join(p, "."), Msg: fmt.Sprintf(format, args...)}
}

func (v *validator) id(field, s string) {
	switch {
	case s == "":
		v.fail(field, "missing")
	case len(s) > MaxIDLength:
		v.fail(field, "longer than %d bytes", MaxIDLength)
	case !validID(s):
		v.fail(field, "%q is not a valid ID (letters, digits, '.', '_', ':', '-')", s)
	}
}

func (v *validator) text(field, s string, required bool, max int) {
	switch {
	case s == "" && required:
		v.fail(field, "missing")
	case len(s) > max:
		v.fail(field, "longer than %d bytes", max)
	case !utf8.ValidString(s):
		v.fail(field, "not valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		v.fail(field, "contains control characters")
	case s != strings.TrimSpace(s):
		v.fail(field, "has leading or trailing space")
	}
}

func (v *validator) uniq(field string, seen map[string]bool, id string) {
	if seen[id] {
		v.fail(field, "duplicate ID %q", id)
	}
	seen[id] = true
}

func (m *Manifest) validate(v *validator) {
	m.validateHead(v)
	switch {
	case v.err != nil:
		return
	case m.Parts == 1:
		v.fail("parts", "is 1: leave it out for a manifest in one event")
	case m.Parts < 0 || m.Parts > MaxManifestParts:
		v.fail("parts", "%d is not between 2 and %d", m.Parts, MaxManifestParts)
	case m.Parts > 1:
		// The first of several parts: each unit and contest on its own.
		// AssembleManifest checks the whole.
		validateItems(v, m.Units, m.Contests, true)
	default:
		m.validateWhole(v)
	}
}

// validateHead checks what only the first event of a manifest holds.
func (m *Manifest) validateHead(v *validator) {
	v.text("name", m.Name, true, MaxNameLength)
	if _, err := time.Parse(time.DateOnly, m.Date); err != nil {
		v.fail("date", "%q is not a date in the form YYYY-MM-DD", clip(m.Date))
	}
	if m.Authority != "" {
		v.key("authority", m.Authority)
	}
	switch {
	case len(m.VoteTypes) == 0:
		v.fail("vote_types", "at least one vote type is needed")
	case len(m.VoteTypes) > MaxVoteTypes:
		v.fail("vote_types", "%d vote types, more than the limit of %d", len(m.VoteTypes), MaxVoteTypes)
	}
	seen := map[string]bool{}
	for i, t := range m.VoteTypes {
		v.pushIndex("vote_types", i)
		v.id("id", t.ID)
		v.text("name", t.Name, true, MaxNameLength)
		v.uniq("id", seen, t.ID)
		v.pop()
	}
}

// validateWhole checks a whole manifest, all of its units and contests
// together: one event's, or the one AssembleManifest made of several.
func (m *Manifest) validateWhole(v *validator) {
	switch {
	case len(m.Units) == 0:
		v.fail("units", "at least one reporting unit is needed")
	case len(m.Units) > MaxUnits:
		v.fail("units", "%d reporting units, more than the limit of %d", len(m.Units), MaxUnits)
		return
	}
	units := make(map[string]int, len(m.Units)) // ID → index
	depth := make([]int, len(m.Units))          // the root is at 1
	for i, u := range m.Units {
		v.pushIndex("units", i)
		unitFields(v, u)
		p, known := units[u.Parent]
		switch {
		case i == 0 && u.Parent != "":
			v.fail("parent", "the first unit is the root and has no parent")
		case i > 0 && u.Parent == "":
			v.fail("parent", "missing: only the first unit is a root")
		case i > 0 && !known:
			v.fail("parent", "%q is not a unit listed before this one", clip(u.Parent))
		}
		if depth[i] = 1; known {
			depth[i] = depth[p] + 1
		}
		if depth[i] > MaxUnitDepth {
			v.fail("parent", "unit %q would be at depth %d of the unit tree (the root is at 1), more than the limit of %d", u.ID, depth[i], MaxUnitDepth)
		}
		if _, dup := units[u.ID]; dup {
			v.fail("id", "duplicate ID %q", u.ID)
		} else {
			units[u.ID] = i
		}
		v.pop()
	}
	switch {
	case len(m.Contests) == 0:
		v.fail("contests", "at least one contest is needed")
	case len(m.Contests) > MaxContests:
		v.fail("contests", "%d contests, more than the limit of %d", len(m.Contests), MaxContests)
		return
	}
	contests := map[string]bool{}
	typeIDs := 0
	for _, t := range m.VoteTypes {
		typeIDs += len(t.ID)
	}
	for i, c := range m.Contests {
		v.pushIndex("contests", i)
		if !contestFields(v, c) {
			v.pop()
			return
		}
		v.uniq("id", contests, c.ID)
		n, types := len(c.Choices), len(m.VoteTypes)
		if n*types > MaxContestCells {
			v.fail("choices", "%d choices × %d vote types = %d cells, more than the limit of %d cells per contest",
				n, types, n*types, MaxContestCells)
		}
		// The counts of a report of every cell, each at MaxVotes: a row
		// is {"choice":"…","vote_type":"…","votes":1000000000}, and a
		// comma, 48 bytes besides the two IDs.
		choiceIDs := 0
		for _, ch := range c.Choices {
			choiceIDs += len(ch.ID)
		}
		if b := n*types*48 + choiceIDs*types + typeIDs*n; b > MaxReportCounts {
			v.fail("choices", "a report of this contest's %d cells (%d choices × %d vote types) needs %d bytes of counts, more than the %d that fit in one event: shorten its choice and vote type IDs, or split the contest",
				n*types, n, types, b, MaxReportCounts)
		}
		for j, u := range c.Units {
			if _, ok := units[u]; !ok {
				v.fail(fmt.Sprintf("units[%d]", j), "%q is not a unit of this election", clip(u))
			}
		}
		v.pop()
	}
	if v.err == nil {
		m.checkTallySize(v, units, depth)
	}
}

// validateItems checks the units and contests of one part of a manifest
// in several (the first when first is set) on their own: the parents and
// scopes they name may be in other parts.
func validateItems(v *validator, units []Unit, contests []Contest, first bool) {
	for i, u := range units {
		v.pushIndex("units", i)
		unitFields(v, u)
		switch root := first && i == 0; {
		case root && u.Parent != "":
			v.fail("parent", "the first unit is the root and has no parent")
		case !root && u.Parent == "":
			v.fail("parent", "missing: only the first unit of the manifest is a root")
		case !root:
			v.id("parent", u.Parent)
		}
		v.pop()
	}
	for i, c := range contests {
		v.pushIndex("contests", i)
		contestFields(v, c)
		for j, u := range c.Units {
			v.id(fmt.Sprintf("units[%d]", j), u)
		}
		v.pop()
	}
}

func unitFields(v *validator, u Unit) {
	v.id("id", u.ID)
	v.text("name", u.Name, true, MaxNameLength)
	v.text("kind", u.Kind, true, MaxNameLength)
}

// contestFields checks a contest on its own: what it says of itself and
// its choices, and that its scope names no unit twice. It returns false
// when the contest has too many choices to look further.
func contestFields(v *validator, c Contest) bool {
	v.id("id", c.ID)
	v.text("name", c.Name, true, MaxNameLength)
	switch c.Kind {
	case "":
		if c.VoteFor < 1 || c.VoteFor > MaxVoteFor {
			v.fail("vote_for", "%d is not between 1 and %d", c.VoteFor, MaxVoteFor)
		}
	case KindTurnout:
		if c.VoteFor != 0 {
			v.fail("vote_for", "is %d; a turnout contest has no vote_for, so it must be 0", c.VoteFor)
		}
	default:
		v.fail("kind", "%q is not a contest kind (leave it out for a race, or use %q)", clip(c.Kind), KindTurnout)
	}
	switch n := len(c.Choices); {
	case n == 0:
		v.fail("choices", "at least one choice is needed")
	case n > MaxChoices:
		v.fail("choices", "%d choices, more than the limit of %d per contest", n, MaxChoices)
		return false
	}
	choices := map[string]bool{}
	for j, ch := range c.Choices {
		v.pushIndex("choices", j)
		v.id("id", ch.ID)
		v.text("name", ch.Name, true, MaxNameLength)
		v.text("party", ch.Party, false, MaxNameLength)
		for k, a := range ch.Aliases {
			v.text(fmt.Sprintf("aliases[%d]", k), a, true, MaxNameLength)
		}
		v.uniq("id", choices, ch.ID)
		v.pop()
	}
	scope := map[string]bool{}
	for j, u := range c.Units {
		v.uniq(fmt.Sprintf("units[%d]", j), scope, u)
	}
	return true
}

// checkTallySize refuses a manifest whose tally would hold more than
// MaxTallyNumbers numbers: for each contest, its choices by vote type, and
// a row of its choices and 4 more numbers for each unit its tally shows
// (the units it is voted in, and their ancestors). The manifest is
// otherwise valid.
func (m *Manifest) checkTallySize(v *validator, units map[string]int, depth []int) {
	parent := make([]int, len(m.Units))
	subtree := make([]int, len(m.Units)) // units in each one's subtree, itself included
	for i, u := range m.Units {
		parent[i] = -1
		if i > 0 {
			parent[i] = units[u.Parent]
		}
	}
	for i := len(m.Units) - 1; i >= 0; i-- { // parents come first: children are summed first
		subtree[i]++
		if parent[i] >= 0 {
			subtree[parent[i]] += subtree[i]
		}
	}
	// seen[u] == c+1 when unit u is already counted for contest c, so that
	// ancestors shared by several scope roots count once.
	seen := make([]int, len(m.Units))
	var total int64
	for ci, c := range m.Contests {
		shown := len(m.Units)
		if len(c.Units) > 0 {
			roots := make(map[int]bool, len(c.Units))
			for _, id := range c.Units {
				roots[units[id]] = true
			}
			shown = 0
			for r := range roots {
				covered := false // under another root: counted in its subtree
				for p := parent[r]; p >= 0 && !covered; p = parent[p] {
					covered = roots[p]
				}
				if covered {
					continue
				}
				shown += subtree[r]
				for p := parent[r]; p >= 0 && seen[p] != ci+1; p = parent[p] {
					seen[p] = ci + 1
					shown++
				}
			}
		}
		total += int64(len(c.Choices))*int64(len(m.VoteTypes)) + int64(shown)*int64(len(c.Choices)+4)
		if total > MaxTallyNumbers {
			v.pushIndex("contests", ci)
			v.fail("", "with this contest (%d choices, shown on %d units) the tally would hold %d numbers (choices × vote types + units shown × (choices + 4), summed over contests), more than the limit of %d",
				len(c.Choices), shown, total, MaxTallyNumbers)
			v.pop()
			return
		}
	}
}

// clip shortens a value quoted in an error message, so that a refusal is
// never much longer than the rules it cites.
func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func (r *CountReport) validate(v *validator) {
	v.id("unit", r.Unit)
	v.id("contest", r.Contest)
	if len(r.Counts) == 0 {
		v.fail("counts", "at least one count is needed")
	}
	if len(r.Counts) > MaxCountRows {
		v.fail("counts", "%d counts, more than the limit of %d", len(r.Counts), MaxCountRows)
	}
	for i, c := range r.Counts {
		v.pushIndex("counts", i)
		v.id("choice", c.Choice)
		v.id("vote_type", c.VoteType)
		switch {
		case c.Votes < 0:
			v.fail("votes", "%d is negative", c.Votes)
		case c.Votes > MaxVotes:
			v.fail("votes", "%d is more than the limit of %d", c.Votes, int64(MaxVotes))
		}
		v.pop()
	}
	slices.SortFunc(r.Counts, compareCount)
	for i := 1; i < len(r.Counts); i++ {
		if a, b := r.Counts[i-1], r.Counts[i]; a.Choice == b.Choice && a.VoteType == b.VoteType {
			v.fail("counts", "choice %q, vote type %q is counted twice", a.Choice, a.VoteType)
		}
	}
	v.push("source")
	r.Source.validate(v)
	v.pop()
}

func compareCount(a, b Count) int {
	if c := strings.Compare(a.Choice, b.Choice); c != 0 {
		return c
	}
	return strings.Compare(a.VoteType, b.VoteType)
}

func (s *Source) validate(v *validator) {
	v.text("file", s.File, false, MaxNameLength)
	v.text("version", s.Version, false, MaxNameLength)
	v.text("operator", s.Operator, false, MaxNameLength)
	switch {
	case s.File == "" && s.Operator == "":
		v.fail("", "name a file (with its sha256) or an operator")
	case s.File != "" && !validSHA256(s.SHA256):
		v.fail("sha256", "%q is not a lowercase hex SHA-256 of the file", s.SHA256)
	case s.File == "" && s.SHA256 != "":
		v.fail("file", "missing: a sha256 needs the file it is the hash of")
	}
}

func eventRef(v *validator, field string, id uuid.UUID) {
	if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		v.fail(field, "%s is not an event ID (UUIDv7)", id)
	}
}

func (c *Correction) validate(v *validator) {
	eventRef(v, "corrects", c.Corrects)
	v.text("reason", c.Reason, true, MaxReasonLength)
	c.CountReport.validate(v)
}

func (r *Retraction) validate(v *validator) {
	eventRef(v, "retracts", r.Retracts)
	v.text("reason", r.Reason, true, MaxReasonLength)
	v.push("source")
	r.Source.validate(v)
	v.pop()
}

func (c *Certification) validate(v *validator) {
	v.text("by", c.By, true, MaxNameLength)
	v.text("note", c.Note, false, MaxReasonLength)
}

func (r *RecountOrder) validate(v *validator) {
	v.text("by", r.By, true, MaxNameLength)
	v.text("reason", r.Reason, true, MaxReasonLength)
}

func (r *KeyRegistration) validate(v *validator) {
	v.key("key", r.Key)
	switch {
	case len(r.Units) == 0:
		v.fail("units", "missing: the units the key may report for (each with its sub-units)")
	case len(r.Units) > MaxScopeUnits:
		v.fail("units", "%d units, more than the limit of %d: name the units above them", len(r.Units), MaxScopeUnits)
		return
	}
	seen := make(map[string]bool, len(r.Units))
	for i, u := range r.Units {
		f := segment{"units", i}.String()
		v.id(f, u)
		if seen[u] {
			v.fail(f, "unit %q is listed twice", clip(u))
		}
		seen[u] = true
	}
}

func (r *KeyRevocation) validate(v *validator) {
	v.key("key", r.Key)
	v.text("reason", r.Reason, true, MaxReasonLength)
}

// key checks a verifier key: an Ed25519 key in the C2SP signed-note form.
func (v *validator) key(field, s string) {
	if s == "" {
		v.fail(field, "missing: a verifier key (name+hash+base64, as `ledger keygen` prints)")
		return
	}
	if len(s) > MaxNameLength {
		v.fail(field, "%d bytes, more than the limit of %d", len(s), MaxNameLength)
		return
	}
	if _, err := ParseKey(s); err != nil {
		v.fail(field, "%v", err)
	}
}

func (p *ManifestPart) validate(v *validator) {
	if p.Part < 1 || p.Part >= MaxManifestParts {
		v.fail("part", "%d is not between 1 and %d", p.Part, MaxManifestParts-1)
	}
	if len(p.Units) == 0 && len(p.Contests) == 0 {
		v.fail("", "a manifest part holds at least one unit or contest")
	}
	if len(p.Units) > MaxUnits || len(p.Contests) > MaxContests {
		v.fail("", "%d units and %d contests, more than the limits of %d and %d", len(p.Units), len(p.Contests), MaxUnits, MaxContests)
		return
	}
	validateItems(v, p.Units, p.Contests, false)
}
