package nist_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/importer/nist/nisttest"
)

const exampleFile = "testdata/err-gen-03.json"

// TestNISTExample parses NIST's own example report (test deck GEN-03), which
// also validates against the shipped schema.
func TestNISTExample(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := nisttest.Validate(nisttest.Schema(t), data); err != nil {
		t.Errorf("the NIST example does not validate against the shipped schema: %v", err)
	}
	imp, err := nist.Parse(bytes.NewReader(data), exampleFile, "gen-03")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "Unnamed Election")
	importertest.Equal(t, "date", m.Date, "2004-11-02")
	importertest.Equal(t, "units", pretty(m.Units), pretty([]events.Unit{
		{ID: "ru-county-3", Name: "Test County", Kind: "other"},
		{ID: "prec-fs-23", Name: "Fire Station 23", Kind: "precinct", Parent: "ru-county-3"},
		{ID: "prec-ac", Name: "Aldersgate Church", Kind: "precinct", Parent: "ru-county-3"},
	}))
	importertest.Equal(t, "vote types", pretty(m.VoteTypes), pretty([]events.VoteType{{ID: "total", Name: "Total"}}))
	var ids []string
	for _, c := range m.Contests {
		ids = append(ids, c.ID)
	}
	importertest.Equal(t, "contests", strings.Join(ids, ","), "cc-president,cc-senate,cc-congress-1,cc-congress-2,cc-assembly-1,cc-assembly-2,bm-22.6,bm-25.3")
	importertest.Equal(t, "president", pretty(m.Contests[0].Choices), pretty([]events.Choice{
		{ID: "can-ak", Name: "Arthur Kumar", Party: "Republican"},
		{ID: "can-bg", Name: "Brian Getz", Party: "Democrat"},
		{ID: "cs-president-wi", Name: "Write-in"},
	}))
	importertest.Equal(t, "measure", pretty(m.Contests[6].Choices), pretty([]events.Choice{{ID: "cs-22.6-yes", Name: "YES"}, {ID: "cs-22.6-no", Name: "NO"}}))
	importertest.Equal(t, "reports", len(imp.Reports), 24)
	r := imp.Reports[0]
	importertest.Equal(t, "first report", r.Unit+" "+r.Contest, "ru-county-3 cc-president")
	importertest.Equal(t, "first counts", pretty(r.Counts), pretty([]events.Count{
		{Choice: "can-ak", VoteType: "total", Votes: 10}, {Choice: "can-bg", VoteType: "total", Votes: 9}, {Choice: "cs-president-wi", VoteType: "total", Votes: 1},
	}))
	importertest.Equal(t, "source", r.Source.File, "err-gen-03.json")
	if len(imp.Findings) != 0 {
		t.Errorf("findings: %v", imp.Findings)
	}
	// The county's counts equal its precincts' in every contest.
	tl := tallyOf(t, imp).e.Tally()
	importertest.Equal(t, "status", tl.Status, "unofficial-complete")
	importertest.Equal(t, "president votes", tl.Contests[0].TotalVotes, 20)
}

// TestRoundTripDetails exports and parses back a manifest with precincts,
// a contest scoped to one county, a turnout contest, a vote type that NIST
// has no name for, parties, and one choice ID used for two people.
func TestRoundTripDetails(t *testing.T) {
	m := &events.Manifest{
		Name: "County General", Date: "2024-11-05",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "mail-ballot", Name: "Mail Ballot"}},
		Units: []events.Unit{
			{ID: "st", Name: "State", Kind: "state"},
			{ID: "north", Name: "North County", Kind: "county", Parent: "st"},
			{ID: "south", Name: "South County", Kind: "county", Parent: "st"},
			{ID: "n-1", Name: "North 1", Kind: "precinct", Parent: "north"},
			{ID: "n-2", Name: "North 2", Kind: "precinct", Parent: "north"},
			{ID: "s-1", Name: "South 1", Kind: "precinct", Parent: "south"},
			{ID: "s-2", Name: "South 2", Kind: "district-part", Parent: "south"},
		},
		Contests: []events.Contest{
			{ID: "governor", Name: "Governor", VoteFor: 1, Choices: []events.Choice{
				{ID: "smith", Name: "Ann Smith", Party: "DEM"}, {ID: "jones", Name: "Bob Jones", Party: "REP"}}},
			{ID: "sheriff", Name: "North Sheriff", VoteFor: 1, Units: []string{"north"}, Choices: []events.Choice{
				{ID: "smith", Name: "Carl Smith", Party: "REP"}, {ID: "lee", Name: "Dana Lee"}}},
			{ID: "turnout", Name: "Turnout", Kind: events.KindTurnout, Choices: []events.Choice{
				{ID: "registered", Name: "Registered voters"}, {ID: "ballots-cast", Name: "Ballots cast"}}},
		},
	}
	r := newRig(t, "details", m)
	rep := func(unit, contest string, counts ...events.Count) {
		r.body(&events.CountReport{Unit: unit, Contest: contest, Counts: counts, Source: events.Source{Operator: "clerk"}})
	}
	c := func(choice, vt string, n int64) events.Count {
		return events.Count{Choice: choice, VoteType: vt, Votes: n}
	}
	for i, u := range []string{"n-1", "n-2", "s-1"} {
		n := int64(10 * (i + 1))
		rep(u, "governor", c("jones", "election-day", n+1), c("jones", "mail-ballot", 2), c("smith", "election-day", n), c("smith", "mail-ballot", 3))
		rep(u, "turnout", c("ballots-cast", "election-day", 2*n+1), c("ballots-cast", "mail-ballot", 5), c("registered", "election-day", 100))
	}
	rep("north", "sheriff", c("lee", "election-day", 7), c("smith", "election-day", 8))
	tl := r.e.Tally()
	data := export(t, m, tl, opts)
	if err := nisttest.Validate(nisttest.Schema(t), data); err != nil {
		t.Fatalf("the export does not validate: %v", err)
	}
	for _, want := range []string{
		`"OtherType": "district-part"`, `"OtherType": "mail-ballot"`, `"@id": "cand-sheriff-smith"`,
		`"OtherType": "ledger-choice-id"`, `"ElectionDistrictId": "gpu-north"`, `"VotersRegistered": 200`,
		`"BallotsCast": 123`, `"Format": "precinct-level"`,
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("no %s in\n%s", want, data)
		}
	}
	back, err := nist.Parse(bytes.NewReader(data), "details.json", "details")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, back)
	if len(back.Findings) != 0 {
		t.Errorf("findings: %v", back.Findings)
	}
	sameManifest(t, m, back.Manifest)
	// Every unit with results gives its figures (st, the counties, the
	// precincts): governor 414, sheriff 15, registered 900, ballots cast 414.
	importertest.Equal(t, "checked", back.Totals, importer.Totals{Contests: 3, Choices: 6, Votes: 414 + 15 + 900 + 414})
	importertest.Equal(t, "vote types", voteTypeIDs(back.Manifest), "election-day,mail-ballot,total")
	sameTotals(t, tl, tallyOf(t, back).e.Tally(), nil, m)
}

// TestFindings checks that totals that differ from their vote types, and
// units that differ from their parts, are reported and not counted.
func TestFindings(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := edit(t, string(data), `{ "Count" : 9,`, `{ "Count" : 90,`)
	doc = edit(t, doc,
		`{ "Count" : 4,
          "@type" : "ElectionResults.VoteCounts",
          "GpUnitId" : "prec-fs-23",
          "Type" : "total" } ] },
       
       { "IsWriteIn" : true,
        "@type" : "ElectionResults.CandidateSelection",
        "@id" : "cs-president-wi",`,
		`{ "Count" : 4,
          "@type" : "ElectionResults.VoteCounts",
          "GpUnitId" : "prec-fs-23",
          "Type" : "total" },
         { "Count" : 3, "@type" : "ElectionResults.VoteCounts", "GpUnitId" : "prec-fs-23", "Type" : "election-day" },
         { "Count" : 2, "@type" : "ElectionResults.VoteCounts", "GpUnitId" : "prec-fs-23", "Type" : "early" } ] },
       
       { "IsWriteIn" : true,
        "@type" : "ElectionResults.CandidateSelection",
        "@id" : "cs-president-wi",`)
	imp, err := nist.Parse(strings.NewReader(doc), "f.json", "gen-03")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range imp.Findings {
		got = append(got, f.String())
	}
	importertest.Equal(t, "findings", strings.Join(got, "\n"), strings.Join([]string{
		importer.FindingVoteTypes + `: f.json: Election[0].Contest[0].ContestSelection[1].VoteCounts[2]: "can-bg" in GpUnit "prec-fs-23": the total is 4 but its vote types sum to 5`,
		importer.FindingRollup + `: f.json: Election[0].Contest[0]: GpUnit "ru-county-3": "can-bg" has 90 votes, but the units it is composed of sum to 10`,
	}, "\n"))
	importertest.Equal(t, "vote types", voteTypeIDs(imp.Manifest), "total,election-day,early")
	// The checked totals count the vote types, not the total beside them,
	// and the county's 90 as read: the findings stay findings.
	importertest.Equal(t, "checked votes", imp.Totals.Votes, 240-9+90-4+3+2)
}
