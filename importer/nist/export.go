package nist

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/projections"
)

// ExportOptions says what [Export] cannot know from the manifest and tally.
type ExportOptions struct {
	// GeneratedDate is the report's time stamp. Required: the export never
	// reads the clock, so the same inputs always give the same bytes. It is
	// written to the second, in its own time zone.
	GeneratedDate time.Time
	// Issuer and IssuerAbbreviation name who publishes the report
	// ("Georgia Secretary of State", "GA"). Required.
	Issuer             string
	IssuerAbbreviation string
	// VendorApplicationID names the software; [DefaultVendorApplicationID]
	// if empty.
	VendorApplicationID string
	// ElectionType is a NIST ElectionType (general, primary, runoff,
	// special, …). If empty, it is "special" when the manifest's name says
	// "special", else "general".
	ElectionType string
	// Correction marks the report as a correction of one published before:
	// its Status is "correction" whatever the tally's.
	Correction bool
}

// DefaultVendorApplicationID is the VendorApplicationId of an export whose
// options name none.
const DefaultVendorApplicationID = "election-audit ledger"

// electionTypes are the ElectionType values ExportOptions accepts ("other"
// would need an OtherType the options don't carry).
var electionTypes = []string{"general", "partisan-primary-closed", "partisan-primary-open", "primary", "runoff", "special"}

// unitTypes are the ReportingUnitType values other than "other".
var unitTypes = []string{
	"ballot-batch", "ballot-style-area", "borough", "city", "city-council", "combined-precinct",
	"congressional", "country", "county", "county-council", "drop-box", "judicial", "municipality",
	"polling-place", "precinct", "school", "special", "split-precinct", "state", "state-house",
	"state-senate", "town", "township", "utility", "village", "vote-center", "ward", "water",
}

// statuses are the tally statuses, all NIST ResultsStatus values.
var statuses = []string{"pre-election", "unofficial-partial", "unofficial-complete", "certified", "recount"}

// The wire shape Export writes, fields in the order they are written.
type reportOut struct {
	AtType              string        `json:"@type"`
	Format              string        `json:"Format"`
	Status              string        `json:"Status"`
	GeneratedDate       string        `json:"GeneratedDate"`
	Issuer              string        `json:"Issuer"`
	IssuerAbbreviation  string        `json:"IssuerAbbreviation"`
	VendorApplicationID string        `json:"VendorApplicationId"`
	SequenceStart       int           `json:"SequenceStart"`
	SequenceEnd         int           `json:"SequenceEnd"`
	Election            []electionOut `json:"Election"`
	GpUnit              []gpUnitOut   `json:"GpUnit"`
	Party               []partyOut    `json:"Party,omitempty"`
}

type electionOut struct {
	AtType          string         `json:"@type"`
	Name            textOut        `json:"Name"`
	Type            string         `json:"Type"`
	StartDate       string         `json:"StartDate"`
	EndDate         string         `json:"EndDate"`
	ElectionScopeID string         `json:"ElectionScopeId"`
	Candidate       []candidateOut `json:"Candidate,omitempty"`
	Contest         []contestOut   `json:"Contest,omitempty"`
	BallotCounts    []countOut     `json:"BallotCounts,omitempty"`
}

type textOut struct {
	AtType string    `json:"@type"`
	Text   []langOut `json:"Text"`
}

type langOut struct {
	AtType   string `json:"@type"`
	Language string `json:"Language"`
	Content  string `json:"Content"`
}

type gpUnitOut struct {
	AtType             string   `json:"@type"`
	AtID               string   `json:"@id"`
	Name               textOut  `json:"Name"`
	Type               string   `json:"Type"`
	OtherType          string   `json:"OtherType,omitempty"`
	ComposingGpUnitIDs []string `json:"ComposingGpUnitIds,omitempty"`
	VotersRegistered   *int64   `json:"VotersRegistered,omitempty"`
}

type partyOut struct {
	AtType       string  `json:"@type"`
	AtID         string  `json:"@id"`
	Name         textOut `json:"Name"`
	Abbreviation textOut `json:"Abbreviation"`
}

type candidateOut struct {
	AtType             string     `json:"@type"`
	AtID               string     `json:"@id"`
	BallotName         textOut    `json:"BallotName"`
	PartyID            string     `json:"PartyId,omitempty"`
	ExternalIdentifier []extIDOut `json:"ExternalIdentifier,omitempty"`
}

type extIDOut struct {
	AtType    string `json:"@type"`
	Type      string `json:"Type"`
	OtherType string `json:"OtherType"`
	Value     string `json:"Value"`
}

type contestOut struct {
	AtType             string         `json:"@type"`
	AtID               string         `json:"@id"`
	Name               string         `json:"Name"`
	ElectionDistrictID string         `json:"ElectionDistrictId"`
	ExternalIdentifier []extIDOut     `json:"ExternalIdentifier,omitempty"`
	VotesAllowed       int            `json:"VotesAllowed"`
	SubUnitsReported   int64          `json:"SubUnitsReported"`
	TotalSubUnits      int64          `json:"TotalSubUnits"`
	ContestSelection   []selectionOut `json:"ContestSelection"`
}

type selectionOut struct {
	AtType       string     `json:"@type"`
	AtID         string     `json:"@id"`
	CandidateIDs []string   `json:"CandidateIds"`
	VoteCounts   []countOut `json:"VoteCounts,omitempty"`
}

// countOut is a VoteCounts (Count set) or a BallotCounts (BallotsCast set).
type countOut struct {
	AtType      string `json:"@type"`
	GpUnitID    string `json:"GpUnitId"`
	Type        string `json:"Type"`
	OtherType   string `json:"OtherType,omitempty"`
	Count       *int64 `json:"Count,omitempty"`
	BallotsCast *int64 `json:"BallotsCast,omitempty"`
}

func text(s string) textOut {
	return textOut{AtType: "ElectionResults.InternationalizedText", Text: []langOut{{AtType: "ElectionResults.LanguageString", Language: "en", Content: s}}}
}

// Export renders a tally of the election m defines as a NIST SP 1500-100
// ElectionReport, indented JSON ending in a newline. The tally must be of
// that manifest. The mapping is in the package doc; the output is a pure
// function of the arguments.
func Export(m *events.Manifest, t *projections.Tally, opts ExportOptions) ([]byte, error) {
	x, err := newExporter(m, t, opts)
	if err != nil {
		return nil, fmt.Errorf("couldn't export %s as a NIST report: %w", t.Election, err)
	}
	out, err := x.report()
	if err != nil {
		return nil, fmt.Errorf("couldn't export %s as a NIST report: %w", t.Election, err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the NIST report of %s: %w", t.Election, err)
	}
	return append(b, '\n'), nil
}

type exporter struct {
	m      *events.Manifest
	t      *projections.Tally
	opts   ExportOptions
	parent map[string]string // unit → parent
	kinds  map[string]string // unit → kind
	used   map[string]bool   // @ids given out
	vtypes []countType       // parallel to m.VoteTypes
	below  bool              // counts given below a contest's district
}

// countType is a vote type as a CountItemType.
type countType struct{ typ, other string }

func newExporter(m *events.Manifest, t *projections.Tally, opts ExportOptions) (*exporter, error) {
	switch {
	case m == nil || t == nil:
		return nil, errors.New("a manifest and a tally are needed")
	case opts.GeneratedDate.IsZero():
		return nil, errors.New("ExportOptions.GeneratedDate is required (the export never reads the clock)")
	case opts.Issuer == "" || opts.IssuerAbbreviation == "":
		return nil, errors.New("ExportOptions.Issuer and IssuerAbbreviation are required")
	case opts.ElectionType != "" && !slices.Contains(electionTypes, opts.ElectionType):
		return nil, fmt.Errorf("ExportOptions.ElectionType %q is not one of %s", opts.ElectionType, strings.Join(electionTypes, ", "))
	case !slices.Contains(statuses, t.Status):
		return nil, fmt.Errorf("the tally's status %q is not a NIST results status", t.Status)
	case len(m.Units) == 0 || len(m.VoteTypes) == 0:
		return nil, errors.New("the manifest has no units or no vote types")
	case len(t.Contests) != len(m.Contests):
		return nil, fmt.Errorf("the tally has %d contests, the manifest %d: the tally is not of this manifest", len(t.Contests), len(m.Contests))
	}
	for i, c := range m.Contests {
		tc := &t.Contests[i]
		if tc.ID != c.ID || len(tc.Choices) != len(c.Choices) {
			return nil, fmt.Errorf("the tally's contest %d is %q with %d choices, the manifest's %q with %d: the tally is not of this manifest", i, tc.ID, len(tc.Choices), c.ID, len(c.Choices))
		}
		for j, ch := range c.Choices {
			if tc.Choices[j].ID != ch.ID {
				return nil, fmt.Errorf("contest %q: the tally's choice %d is %q, the manifest's %q", c.ID, j, tc.Choices[j].ID, ch.ID)
			}
		}
	}
	x := &exporter{m: m, t: t, opts: opts, parent: map[string]string{}, kinds: map[string]string{}, used: map[string]bool{}}
	for _, u := range m.Units {
		x.parent[u.ID], x.kinds[u.ID] = u.Parent, u.Kind
	}
	taken := map[string]bool{}
	for _, vt := range m.VoteTypes {
		ct := countTypeOf(vt.ID, len(m.VoteTypes))
		if ct.typ != "other" && taken[ct.typ] {
			ct = countType{"other", vt.ID} // two vote types can't share one CountItemType
		}
		taken[ct.typ] = true
		x.vtypes = append(x.vtypes, ct)
	}
	return x, nil
}

// countTypeOf maps a vote type ID to a CountItemType; n is the number of
// vote types in the manifest.
func countTypeOf(id string, n int) countType {
	switch id {
	case "advance-in-person", "early":
		return countType{typ: "early"}
	case "absentee-by-mail", "absentee":
		return countType{typ: "absentee"}
	case "total":
		if n == 1 {
			return countType{typ: "total"}
		}
	case "election-day", "provisional", "absentee-fwab", "absentee-in-person", "absentee-mail", "seats", "uocava", "write-in":
		return countType{typ: id}
	}
	return countType{"other", id}
}

// atID gives out an @id, with a suffix if it is taken.
func (x *exporter) atID(base string) string {
	id := base
	for n := 2; x.used[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	x.used[id] = true
	return id
}

func (x *exporter) report() (*reportOut, error) {
	status := x.t.Status
	if x.opts.Correction {
		status = "correction"
	}
	vendor := x.opts.VendorApplicationID
	if vendor == "" {
		vendor = DefaultVendorApplicationID
	}
	etype := x.opts.ElectionType
	if etype == "" {
		etype = "general"
		if strings.Contains(strings.ToLower(x.m.Name), "special") {
			etype = "special"
		}
	}
	r := &reportOut{
		AtType: typeReport, Status: status,
		GeneratedDate: x.opts.GeneratedDate.Truncate(time.Second).Format(time.RFC3339),
		Issuer:        x.opts.Issuer, IssuerAbbreviation: x.opts.IssuerAbbreviation,
		VendorApplicationID: vendor, SequenceStart: 1, SequenceEnd: 1,
	}
	e := electionOut{
		AtType: "ElectionResults.Election", Name: text(x.m.Name), Type: etype,
		StartDate: x.m.Date, EndDate: x.m.Date, ElectionScopeID: "gpu-" + x.m.Units[0].ID,
	}
	units := x.units()
	parties := x.parties(r)
	cands := map[string]string{} // choice ID + "\x00" + name + "\x00" + party → @id
	turnout := false
	for i := range x.m.Contests {
		c, tc := &x.m.Contests[i], &x.t.Contests[i]
		if c.Kind == events.KindTurnout {
			if !turnout {
				turnout = true
				if err := x.turnout(c, tc, units, &e); err != nil {
					return nil, err
				}
			}
			continue
		}
		co, err := x.contest(c, tc, parties, cands, &e)
		if err != nil {
			return nil, err
		}
		e.Contest = append(e.Contest, co)
	}
	r.Election = []electionOut{e}
	r.GpUnit = units
	r.Format = "summary-contest"
	if x.below {
		r.Format = "precinct-level"
	}
	return r, nil
}

func (x *exporter) units() []gpUnitOut {
	out := make([]gpUnitOut, len(x.m.Units))
	index := map[string]int{}
	for i, u := range x.m.Units {
		g := gpUnitOut{AtType: typeUnit, AtID: x.atID("gpu-" + u.ID), Name: text(u.Name), Type: u.Kind}
		if !slices.Contains(unitTypes, u.Kind) {
			g.Type, g.OtherType = "other", u.Kind
		}
		index[u.ID] = i
		if u.Parent != "" {
			p := &out[index[u.Parent]]
			p.ComposingGpUnitIDs = append(p.ComposingGpUnitIDs, g.AtID)
		}
		out[i] = g
	}
	return out
}

// parties lists the distinct parties of the choices, in manifest order, and
// returns their @ids by name.
func (x *exporter) parties(r *reportOut) map[string]string {
	ids := map[string]string{}
	for _, c := range x.m.Contests {
		if c.Kind == events.KindTurnout {
			continue
		}
		for _, ch := range c.Choices {
			if ch.Party == "" || ids[ch.Party] != "" {
				continue
			}
			base := importer.Slug(ch.Party)
			if base == "" {
				base = "party"
			}
			id := x.atID("par-" + base)
			ids[ch.Party] = id
			r.Party = append(r.Party, partyOut{AtType: typeParty, AtID: id, Name: text(ch.Party), Abbreviation: text(ch.Party)})
		}
	}
	return ids
}

// district returns a contest's ElectionDistrictId unit: its one scope unit,
// or the root.
func (x *exporter) district(c *events.Contest) string {
	if len(c.Units) == 1 {
		return c.Units[0]
	}
	return x.m.Units[0].ID
}

// within reports whether unit u is in d's subtree.
func (x *exporter) within(u, d string) bool {
	for n := 0; u != "" && n <= len(x.m.Units); n++ {
		if u == d {
			return true
		}
		u = x.parent[u]
	}
	return false
}

// counted returns the units of a contest's district that have results, in
// manifest order: the district first.
func (x *exporter) counted(c *events.Contest, tc *projections.ContestTally) (string, []*projections.UnitTally) {
	d := x.district(c)
	var out []*projections.UnitTally
	for i := range tc.Units {
		u := &tc.Units[i]
		if u.UnitsReported == 0 && !u.Reported || !x.within(u.ID, d) {
			continue
		}
		if u.ID == d {
			out = slices.Insert(out, 0, u)
			continue
		}
		out = append(out, u)
		x.below = true
	}
	return d, out
}

func (x *exporter) contest(c *events.Contest, tc *projections.ContestTally, parties, cands map[string]string, e *electionOut) (contestOut, error) {
	d, counted := x.counted(c, tc)
	co := contestOut{
		AtType: typeCandContest, AtID: x.atID("con-" + c.ID), Name: c.Name,
		ElectionDistrictID: "gpu-" + d, VotesAllowed: c.VoteFor,
		SubUnitsReported: tc.UnitsReported, TotalSubUnits: tc.UnitsTotal,
	}
	if len(c.Units) > 1 {
		// NIST has one district per contest: the scope goes in an identifier.
		co.ExternalIdentifier = []extIDOut{{AtType: "ElectionResults.ExternalIdentifier", Type: "other", OtherType: ledgerContestUnits, Value: strings.Join(c.Units, " ")}}
	}
	for j, ch := range c.Choices {
		key := ch.ID + "\x00" + ch.Name + "\x00" + ch.Party
		cid, ok := cands[key]
		if !ok {
			cand := candidateOut{AtType: typeCandidate, BallotName: text(ch.Name), PartyID: parties[ch.Party]}
			if !x.used["cand-"+ch.ID] {
				cand.AtID = x.atID("cand-" + ch.ID)
			} else {
				// The same choice ID for someone else in another contest.
				cand.AtID = x.atID("cand-" + c.ID + "-" + ch.ID)
				cand.ExternalIdentifier = []extIDOut{{AtType: "ElectionResults.ExternalIdentifier", Type: "other", OtherType: ledgerChoiceID, Value: ch.ID}}
			}
			cid = cand.AtID
			cands[key] = cid
			e.Candidate = append(e.Candidate, cand)
		}
		sel := selectionOut{AtType: typeCandSel, AtID: x.atID("sel-" + c.ID + "-" + ch.ID), CandidateIDs: []string{cid}}
		ct := &tc.Choices[j]
		for _, u := range counted {
			if u.ID == d {
				for k, vt := range x.m.VoteTypes {
					sel.VoteCounts = append(sel.VoteCounts, x.count(d, x.vtypes[k], ct.ByVoteType[vt.ID], false))
				}
				continue
			}
			sel.VoteCounts = append(sel.VoteCounts, x.count(u.ID, countType{typ: "total"}, u.Votes[ch.ID], false))
		}
		co.ContestSelection = append(co.ContestSelection, sel)
	}
	return co, nil
}

func (x *exporter) count(unit string, ct countType, n int64, ballots bool) countOut {
	out := countOut{GpUnitID: "gpu-" + unit, Type: ct.typ, OtherType: ct.other}
	if ballots {
		out.AtType, out.BallotsCast = "ElectionResults.BallotCounts", &n
	} else {
		out.AtType, out.Count = "ElectionResults.VoteCounts", &n
	}
	return out
}

// turnout writes a turnout contest's registered voters and ballots cast.
func (x *exporter) turnout(c *events.Contest, tc *projections.ContestTally, units []gpUnitOut, e *electionOut) error {
	d, counted := x.counted(c, tc)
	index := map[string]int{}
	for i, u := range x.m.Units {
		index[u.ID] = i
	}
	for j, ch := range c.Choices {
		switch ch.ID {
		case registered:
			for _, u := range counted {
				n := u.Votes[ch.ID]
				units[index[u.ID]].VotersRegistered = &n
			}
		case ballotsCast:
			for _, u := range counted {
				if u.ID == d {
					for k, vt := range x.m.VoteTypes {
						e.BallotCounts = append(e.BallotCounts, x.count(d, x.vtypes[k], tc.Choices[j].ByVoteType[vt.ID], true))
					}
					continue
				}
				e.BallotCounts = append(e.BallotCounts, x.count(u.ID, countType{typ: "total"}, u.Votes[ch.ID], true))
			}
		}
	}
	return nil
}
