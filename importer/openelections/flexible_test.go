package openelections_test

import (
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
)

// sampleName follows the OpenElections convention, so that the state and
// date come from it.
const sampleName = "20181106__pa__general__precinct.csv"

// sample is a small valid file: two counties with two precincts each, one
// contest with vote types, and roll-up rows that match. Every count is
// distinct so that a test can change one by text replacement.
const sample = `county,precinct,office,district,party,candidate,votes,election_day,absentee
Adams,Abbottstown,U.S. House,13,DEM,ANN SMITH,111,100,11
Adams,Abbottstown,U.S. House,13,REP,BOB JONES,222,200,22
Adams,Berwick,U.S. House,13,DEM,Ann Smith,333,300,33
Adams,Berwick,U.S. House,13,REP,Bob Jones,444,400,44
Adams,TOTAL,U.S. House,13,DEM,ANN SMITH (DEM),444,400,44
Adams,TOTAL,U.S. House,13,REP,BOB JONES (REP),666,600,66
Berks,Albany,U.S. House,13,DEM,ANN SMITH,5550,5000,550
Berks,Albany,U.S. House,13,REP,BOB JONES,7770,7000,770
Berks,Bern 1,U.S. House,13,DEM,ANN SMITH,8880,8000,880
Berks,Bern 1,U.S. House,13,REP,BOB JONES,9990,9000,990
`

// edit returns sample with each old string, which must occur exactly once,
// replaced by the new one.
func edit(t testing.TB, oldnew ...string) string {
	return importertest.Edit(t, sample, oldnew...)
}

func parse(t *testing.T, input string) *importer.Import {
	t.Helper()
	imp, err := openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	return imp
}

func TestSample(t *testing.T) {
	imp := parse(t, sample)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "Pennsylvania general, 2018-11-06")
	importertest.Equal(t, "units", fmtUnits(m.Units), "pa Pennsylvania state; adams Adams county pa; adams:abbottstown Abbottstown precinct adams; adams:berwick Berwick precinct adams; berks Berks county pa; berks:albany Albany precinct berks; berks:bern-1 Bern 1 precinct berks")
	importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), "election-day=Election Day, absentee=Absentee")
	c := importertest.Contest(t, m, "us-house-13")
	ann := importertest.Choice(t, c, "ann-smith")
	importertest.Equal(t, "ann", ann.Name, "Ann Smith")
	importertest.Equal(t, "ann party", ann.Party, "DEM")
	importertest.Equal(t, "ann aliases", strings.Join(ann.Aliases, "|"), "ANN SMITH|Ann Smith|ANN SMITH (DEM)")
	importertest.Equal(t, "reports", len(imp.Reports), 4)
	importertest.Equal(t, "findings", len(imp.Findings), 0)
	importertest.Equal(t, "report", fmtReport(imp.Reports[0]), "adams:abbottstown us-house-13: ann-smith/absentee=11 ann-smith/election-day=100 bob-jones/absentee=22 bob-jones/election-day=200")
	s := importertest.Sum(imp, "us-house-13")
	importertest.Equal(t, "total", s.All, 111+222+333+444+5550+7770+8880+9990)
	importertest.Equal(t, "absentee", s.VoteType["absentee"], 11+22+33+44+550+770+880+990)
}

// TestHeaders reads the sample under header layouts of real OpenElections
// files: other names, other orders, missing optional columns, extra columns.
func TestHeaders(t *testing.T) {
	rows := [][]string{
		{"Cobb", "Addison 01", "U.S. House", "6", "R", "Karen Handel", "737", "500", "237"},
		{"Cobb", "Addison 01", "U.S. House", "6", "D", "Jon Ossoff", "571", "500", "71"},
		{"Cobb", "Total", "U.S. House", "6", "R", "Karen Handel", "737", "500", "237"},
	}
	for _, tc := range []struct {
		header string
		order  []int // fields of rows in header order; -1 for an extra column
		types  string
	}{
		// openelections-data-ga, 2017
		{"county,precinct,office,district,candidate,party,votes", []int{0, 1, 2, 3, 5, 4, 6}, "total=Total"},
		// openelections-data-pa, 2020
		{"county,precinct,office,district,party,candidate,election_day,absentee,provisional,votes", []int{0, 1, 2, 3, 4, 5, 7, 8, -1, 6}, "election-day=Election Day, absentee=Absentee, provisional=Provisional"},
		// openelections-data-ga, 2020 (Clarity)
		{"county,precinct,office,district,party,candidate,election_day_votes,absentee_by_mail_votes,advanced_votes,provisional_votes,votes", []int{0, 1, 2, 3, 4, 5, 7, 8, -1, -1, 6}, "election-day=Election Day, absentee-by-mail=Absentee by Mail, advance-in-person=Advance in Person, provisional=Provisional"},
		// other spellings and orders, no district, no party
		{"Candidate Name,Total Votes,County,Precinct Name,Office", []int{5, 6, 0, 1, 2}, "total=Total"},
		{"COUNTY,PRECINCT,OFFICE,DISTRICT,NAME,TOTAL,Early-Voting,Election Day,notes", []int{0, 1, 2, 3, 5, 6, 7, 8, -1}, "early-voting=Early Voting, election-day=Election Day"},
		// vote types only, and an "_votes" column of New York
		{"county,precinct,office,district,party,candidate,public_counter_votes,absentee_military_votes", []int{0, 1, 2, 3, 4, 5, 7, 8}, "public-counter=Public Counter, absentee-military=Absentee Military"},
	} {
		t.Run(tc.header, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(tc.header + "\r\n")
			for _, r := range rows {
				for i, f := range tc.order {
					if i > 0 {
						b.WriteByte(',')
					}
					if f >= 0 {
						b.WriteString(r[f])
					} else {
						b.WriteString("0")
					}
				}
				b.WriteString("\r\n")
			}
			imp, err := openelections.Parse(strings.NewReader(b.String()), "x.csv", "test", openelections.Options{State: "GA", Date: "2017-06-20"})
			if err != nil {
				t.Fatal(err)
			}
			importertest.CheckValid(t, imp)
			importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), tc.types)
			importertest.Equal(t, "name", imp.Manifest.Name, "Georgia election, 2017-06-20")
			id := "us-house-6"
			if !strings.Contains(strings.ToLower(tc.header), "district") {
				id = "us-house"
			}
			s := importertest.Sum(imp, id)
			importertest.Equal(t, "handel", s.Choice["karen-handel"], 737)
			importertest.Equal(t, "ossoff", s.Choice["jon-ossoff"], 571)
			importertest.Equal(t, "reports", len(imp.Reports), 1)
			importertest.Equal(t, "findings", len(imp.Findings), 1) // no roll-up row for Ossoff
			importertest.Equal(t, "finding", imp.Findings[0].Kind, importer.FindingRollup)
		})
	}
}

// TestFlexible checks inputs that are unusual but valid.
func TestFlexible(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		check func(*testing.T, *importer.Import)
	}{
		{"bom", "\xef\xbb\xbf" + sample, nil},
		{"crlf", strings.ReplaceAll(sample, "\n", "\r\n"), nil},
		{"no final newline", strings.TrimSuffix(sample, "\n"), nil},
		{"quoted fields", edit(t, "Adams,Abbottstown,U.S. House,13,DEM,ANN SMITH,", `"Adams","Abbottstown","U.S. House","13","DEM","ANN SMITH",`), nil},
		{"pandas floats", edit(t, ",111,100,11", ",111.0,100.0,11.00"), nil},
		{"spaces", edit(t, "Adams,Abbottstown,U.S. House,13,DEM,ANN SMITH,111,100,11", " Adams , Abbottstown ,U.S. House , 13,DEM, ANN SMITH , 111 ,100,11"), nil},
		{"blank vote types", edit(t, ",5550,5000,550", ",5550,,"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, absentee=Absentee, total=Total")
				importertest.Equal(t, "total", importertest.Sum(imp, "us-house-13").VoteType["total"], 5550)
			}},
		{"roll-up by vote type differs", edit(t, "ANN SMITH (DEM),444,400,44", "ANN SMITH (DEM),444,401,43"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "findings", len(imp.Findings), 1)
				importertest.Equal(t, "finding", imp.Findings[0].String(), "rollup-sum: "+sampleName+": line 6: roll-up of Adams, U.S. House, District 13, Ann Smith: Election Day 401, but the precincts sum to 400; Absentee 43, but the precincts sum to 44")
			}},
		{"blank precinct roll-up", edit(t, "Adams,TOTAL,U.S. House,13,DEM", "Adams,,U.S. House,13,DEM", "Adams,TOTAL,U.S. House,13,REP", "Adams,total,U.S. House,13,REP"),
			func(t *testing.T, imp *importer.Import) { importertest.Equal(t, "findings", len(imp.Findings), 0) }},
		{"county-level rows", edit(t, "Berks,Albany,U.S. House,13,DEM", "Berks,,U.S. House,13,DEM", "Berks,Albany,U.S. House,13,REP", "Berks,,U.S. House,13,REP", "Berks,Bern 1,U.S. House,13,DEM,ANN SMITH,8880,8000,880\nBerks,Bern 1,U.S. House,13,REP,BOB JONES,9990,9000,990\n", ""),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "units", len(imp.Manifest.Units), 5)
				importertest.Equal(t, "last report", fmtReport(imp.Reports[len(imp.Reports)-1]), "berks us-house-13: ann-smith/absentee=550 ann-smith/election-day=5000 bob-jones/absentee=770 bob-jones/election-day=7000")
			}},
		{"pseudo-offices and figures",
			edit(t, "Berks,Albany,U.S. House,13,DEM,ANN SMITH,5550,5000,550\n", `Berks,Albany,U.S. House,13,DEM,ANN SMITH,5550,5000,550
Berks,Albany,Registered Voters,,,,9000,,
Berks,Albany,Ballots Cast,,,,7000,,
Berks,Albany,U.S. House,13,,Over Votes,3,2,1
Berks,Albany,U.S. House,13,,Under Votes,5,4,1
Berks,Albany,U.S. House,13,,Write-ins,2,2,0
Berks,Bern 1,U.S. House,13,,Scattering,1,1,0
`),
			func(t *testing.T, imp *importer.Import) {
				m := imp.Manifest
				c := importertest.Contest(t, m, "us-house-13")
				// Scattering is not folded into Write-ins: a file may list both, one the total of the other.
				importertest.Equal(t, "choices", len(c.Choices), 4)
				importertest.Equal(t, "write-ins", strings.Join(importertest.Choice(t, c, "write-ins").Aliases, "|"), "Write-ins")
				importertest.Equal(t, "scattering", importertest.Choice(t, c, "scattering").Name, "Scattering")
				to := importertest.Contest(t, m, "turnout")
				importertest.Equal(t, "turnout", to.Kind, events.KindTurnout)
				importertest.Equal(t, "turnout units", strings.Join(to.Units, ","), "berks:albany") // the one precinct with turnout rows
				importertest.Equal(t, "registered", strings.Join(importertest.Choice(t, to, "registered").Aliases, "|"), "Registered Voters")
				comp := importertest.Contest(t, m, "us-house-13-turnout")
				importertest.Equal(t, "companion", comp.Name, "U.S. House, District 13 (turnout)")
				importertest.Equal(t, "over", importertest.Choice(t, comp, "over-votes").Name, "Over Votes")
				importertest.Equal(t, "under", importertest.Sum(imp, "us-house-13-turnout").Choice["under-votes"], 5)
			}},
		{"straight party", edit(t, "Berks,Albany,U.S. House,13,DEM,ANN SMITH,5550,5000,550\n", "Berks,Albany,U.S. House,13,DEM,ANN SMITH,5550,5000,550\nBerks,Albany,Straight Party,,GRN,,4,4,0\n"),
			func(t *testing.T, imp *importer.Import) {
				sp := importertest.Contest(t, imp.Manifest, "straight-party")
				ch := sp.Choices[0]
				importertest.Equal(t, "choice", ch.ID+" "+ch.Name+" "+ch.Party+" "+strings.Join(ch.Aliases, "|"), "grn GRN GRN GRN")
			}},
		{"district in office", edit(t, "Adams,Abbottstown,U.S. House,13,DEM", "Adams,Abbottstown,U.S. House District 13,13,DEM"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "contest", importertest.Contest(t, imp.Manifest, "us-house-district-13").Name, "U.S. House District 13")
				importertest.Equal(t, "scope", strings.Join(importertest.Contest(t, imp.Manifest, "us-house-district-13").Units, ","), "adams:abbottstown")
				importertest.Equal(t, "unscoped", len(importertest.Contest(t, imp.Manifest, "us-house-13").Units), 0)
			}},
		{"windows-1252", strings.ReplaceAll(sample, "Berks,Bern 1,", "Berks,Bern\xe9 \x931\x94,"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "precinct", imp.Manifest.Units[6].Name, "Bern\u00e9 \u201c1\u201d")
			}},
		{"thousands separators", edit(t, ",9990,9000,990", `,"9,990","9 ,000",990`),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "bob", importertest.Sum(imp, "us-house-13").Choice["bob-jones"], 222+444+7770+9990)
			}},
		{"markup and entities", edit(t, "Berks,Bern 1,U.S. House,13,REP,BOB JONES", "Berks,Bern 1,Amendment #1<br>Provides &amp; More,,REP,<b>BOB</b> JONES"),
			func(t *testing.T, imp *importer.Import) {
				c := importertest.Contest(t, imp.Manifest, "amendment-1-provides-more")
				importertest.Equal(t, "contest", c.Name, "Amendment #1 Provides & More")
				bob := importertest.Choice(t, c, "bob-jones")
				importertest.Equal(t, "name", bob.Name, "Bob Jones")
				importertest.Equal(t, "aliases", strings.Join(bob.Aliases, "|"), "BOB JONES|<b>BOB</b> JONES")
			}},
		{"newline in name", edit(t, "Berks,Bern 1,U.S. House,13,DEM", "Berks,\"Bern\n1\",U.S. House,13,DEM"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "precinct", imp.Manifest.Units[6].Name, "Bern 1")
			}},
		{"old mac line ends", strings.ReplaceAll(sample, "\n", "\r"), nil},
		{"numbered vote types", strings.Replace(sample, "votes,election_day,absentee\n", "votes,election_day,advance_in_person_2\n", 1),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, advance-in-person-2=Advance in Person 2")
			}},
		{"statewide roll-up rows", sample + ",,U.S. House,13,DEM,ANN SMITH,14874,13400,1474\n,,U.S. House,13,REP,BOB JONES,18426,16600,1826\n",
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "findings", len(imp.Findings), 0)
				importertest.Equal(t, "reports", len(imp.Reports), 4)
			}},
		{"statewide roll-up differs", sample + ",,U.S. House,13,DEM,ANN SMITH,14875,13400,1475\n",
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "findings", len(imp.Findings), 2)
				importertest.Equal(t, "finding", imp.Findings[0].String(), "rollup-sum: "+sampleName+": line 12: roll-up of Pennsylvania, U.S. House, District 13, Ann Smith: 14875 votes, but the counties sum to 14874; Absentee 1475, but the counties sum to 1474")
			}},
		{"county suffix", strings.ReplaceAll(sample, "Berks,", "BERKS COUNTY,"),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "county", imp.Manifest.Units[4], events.Unit{ID: "berks", Name: "BERKS COUNTY", Kind: "county", Parent: "pa"})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imp := parse(t, tc.input)
			if tc.check != nil {
				tc.check(t, imp)
			}
		})
	}
}

// TestColumnOptions: a column the importer does not know is read as a vote
// type, or read past, when an option names it.
func TestColumnOptions(t *testing.T) {
	input := strings.Replace(sample, "votes,election_day,absentee\n", "votes,election_day,Curbside Drop\n", 1)
	if _, err := openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{}); err == nil || !strings.Contains(err.Error(), `column "Curbside Drop" is not one this importer knows`) {
		t.Fatalf("unknown column: %v", err)
	}
	imp, err := openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{VoteTypeColumns: []string{"curbside_drop"}})
	if err != nil {
		t.Fatal(err)
	}
	importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, curbside-drop=Curbside Drop")
	importertest.Equal(t, "curbside", importertest.Sum(imp, "us-house-13").VoteType["curbside-drop"], 11+22+33+44+550+770+880+990)
	// Read past, the column's figures are not votes: the file then contradicts itself.
	_, err = openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{IgnoreColumns: []string{"Curbside Drop"}})
	if err == nil || !strings.Contains(err.Error(), "the vote-type columns do not sum to") {
		t.Fatalf("ignored column: %v", err)
	}
}

// TestPrefer: a row whose vote types do not sum to its votes refuses the
// file unless Prefer says which side to log.
func TestPrefer(t *testing.T) {
	input := edit(t, ",333,300,33", ",334,300,33")
	_, err := openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{})
	e := importertest.AsError(t, err)
	importertest.Equal(t, "where", e.Where, "line 4")
	for _, want := range []string{"in 1 row(s) the vote-type columns do not sum to \"votes\"", "Ann Smith: vote types 333, votes 334", "--prefer votes", "--prefer vote-types"} {
		if !strings.Contains(e.Msg, want) {
			t.Errorf("message %q does not contain %q", e.Msg, want)
		}
	}

	imp, err := openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{Prefer: openelections.PreferVoteTypes})
	if err != nil {
		t.Fatal(err)
	}
	importertest.Equal(t, "findings", len(imp.Findings), 1)
	importertest.Equal(t, "finding", imp.Findings[0].String(), "vote-types-sum: "+sampleName+": line 4: Adams, Berwick, U.S. House, District 13, Ann Smith: the vote types sum to 333, but votes is 334; the reports carry the vote types (--prefer vote-types)")
	importertest.Equal(t, "ann", importertest.Sum(imp, "us-house-13").Choice["ann-smith"], 111+333+5550+8880)

	imp, err = openelections.Parse(strings.NewReader(input), sampleName, "test", openelections.Options{Prefer: openelections.PreferVotes})
	if err != nil {
		t.Fatal(err)
	}
	// The difference stays a finding, now saying the votes column is
	// logged; and the roll-up row now differs by vote type.
	importertest.Equal(t, "findings", len(imp.Findings), 2)
	importertest.Equal(t, "finding", imp.Findings[0].String(), "vote-types-sum: "+sampleName+": line 4: Adams, Berwick, U.S. House, District 13, Ann Smith: the vote types sum to 333, but votes is 334; the reports carry votes (--prefer votes)")
	s := importertest.Sum(imp, "us-house-13")
	importertest.Equal(t, "ann", s.Choice["ann-smith"], 111+334+5550+8880)
	importertest.Equal(t, "total only", s.VoteType["total"], s.All)
}

// TestOptions: options override the file name, but not the day it says
// the election was on.
func TestOptions(t *testing.T) {
	imp, err := openelections.Parse(strings.NewReader(sample), sampleName, "test", openelections.Options{
		State: "NJ", Date: "2018-11-06", Name: "Test", VoteFor: map[string]int{"us-house-13": 2}})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	m := imp.Manifest
	importertest.Equal(t, "root", m.Units[0].Name, "New Jersey")
	importertest.Equal(t, "date", m.Date, "2018-11-06")
	importertest.Equal(t, "name", m.Name, "Test")
	importertest.Equal(t, "vote for", m.Contests[0].VoteFor, 2)

	for _, tc := range []struct {
		opts openelections.Options
		want string
	}{
		{openelections.Options{State: "Georgia"}, `couldn't import 20181106__pa__general__precinct.csv: Options.State "Georgia" is not a two-letter state code`},
		{openelections.Options{Date: "11/06/2018"}, `couldn't import 20181106__pa__general__precinct.csv: Options.Date "11/06/2018" is not a date (YYYY-MM-DD)`},
		{openelections.Options{Date: "2018-11-07"}, `20181106__pa__general__precinct.csv: the file name says the election was on 2018-11-06, but --date (Options.Date) says 2018-11-07: import it into an election of 2018-11-06, or, if the file is misnamed, rename it (its SHA-256, not its name, identifies its reports)`},
		{openelections.Options{VoteFor: map[string]int{"mayor": 1}}, `couldn't import 20181106__pa__general__precinct.csv: Options.VoteFor names "mayor", which is not a contest of the files`},
		{openelections.Options{VoteFor: map[string]int{"us-house-13": 3}}, `couldn't import 20181106__pa__general__precinct.csv: Options.VoteFor gives "us-house-13" 3, not between 1 and its 2 choices`},
	} {
		_, err := openelections.Parse(strings.NewReader(sample), sampleName, "test", tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("error\n got %v\nwant %s", err, tc.want)
		}
	}
	if _, err := openelections.Parse(strings.NewReader(sample), "results.csv", "test", openelections.Options{State: "pa"}); err == nil ||
		err.Error() != "results.csv: the file name does not follow the OpenElections convention YYYYMMDD__st__…csv: give the state and date (--state and --date; Options.State and Date)" {
		t.Errorf("no date: %v", err)
	}
}

// TestMultipleFiles: counties merge across files; one unit's contest in two
// files, and rows repeated across files, are refused.
func TestMultipleFiles(t *testing.T) {
	header, rest, _ := strings.Cut(sample, "\n")
	adams, berks := rest[:strings.Index(rest, "Berks")], rest[strings.Index(rest, "Berks"):]
	a := openelections.File{Name: "20181106__pa__general__adams__precinct.csv", Data: []byte(header + "\n" + adams)}
	b := openelections.File{Name: "20181106__pa__general__berks__precinct.csv", Data: []byte(header + "\n" + berks)}
	imp, err := openelections.ParseFiles([]openelections.File{a, b}, "test", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	single := parse(t, sample)
	importertest.Equal(t, "units", fmtUnits(imp.Manifest.Units), fmtUnits(single.Manifest.Units))
	importertest.Equal(t, "name", imp.Manifest.Name, "Pennsylvania general, 2018-11-06")
	importertest.Equal(t, "source a", imp.Reports[0].Source.File, a.Name)
	importertest.Equal(t, "source b", imp.Reports[3].Source.File, b.Name)

	// The same bytes twice (the same file, or a renamed copy) are one source.
	copyA := a
	copyA.Name = "copy.csv"
	twice, err := openelections.ParseFiles([]openelections.File{a, b, copyA}, "test", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.Equal(t, "twice", len(twice.Reports), len(imp.Reports))
	// Other bytes for the same units are refused.
	otherA := a
	otherA.Name, otherA.Data = "other.csv", []byte(strings.Replace(string(a.Data), ",111,", ",112,", 1))
	_, err = openelections.ParseFiles([]openelections.File{a, b, otherA}, "test", openelections.Options{})
	importertest.Equal(t, "other bytes", errString(err), otherA.Name+": line 2: Adams, Abbottstown, U.S. House, District 13 is already reported by "+a.Name+": one unit's results for a contest must come from one file")

	c := b
	c.Name = "20181107__pa__general__berks__precinct.csv"
	_, err = openelections.ParseFiles([]openelections.File{a, c}, "test", openelections.Options{})
	importertest.Equal(t, "dates", errString(err), c.Name+": the file name's date 2018-11-07 differs from 2018-11-06 of "+a.Name)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestLocalOffices: a same-named office that counties fill separately (each
// its own sheriff, with other candidates) is a contest per county, its
// turnout companion with it; an office whose counties share a candidate is
// one contest.
func TestLocalOffices(t *testing.T) {
	const input = `county,office,district,party,candidate,votes
Adams,Sheriff,,DEM,ANN SMITH,10
Adams,Sheriff,,,Write-in,1
Adams,Sheriff,,,Over Votes,2
Berks,Sheriff,,REP,CAL JONES,20
Berks,Sheriff,,,Write-in,3
Berks,Sheriff,,,Over Votes,4
Carbon,Sheriff,,,Write-in,5
Adams,Governor,,DEM,TOM WOLF,30
Berks,Governor,,DEM,TOM WOLF,40
Carbon,Governor,,DEM,TOM WOLF,50
Adams,President,,DEM,Joseph R. Biden/Kamala D. Harris,60
Berks,President,,DEM,Joseph R. Biden,70
`
	imp := parse(t, input)
	m := imp.Manifest
	var ids []string
	for _, c := range m.Contests {
		ids = append(ids, c.ID+"="+c.Name+"@"+strings.Join(c.Units, ","))
	}
	importertest.Equal(t, "contests", strings.Join(ids, "; "),
		"sheriff-adams=Sheriff (Adams)@adams; sheriff-berks=Sheriff (Berks)@berks; sheriff-carbon=Sheriff (Carbon)@carbon; "+
			"sheriff-adams-turnout=Sheriff (Adams) (turnout)@adams; sheriff-berks-turnout=Sheriff (Berks) (turnout)@berks; governor=Governor@; "+
			"president=President@adams,berks")
	importertest.Equal(t, "adams choices", len(importertest.Contest(t, m, "sheriff-adams").Choices), 2)
	importertest.Equal(t, "berks sheriff", importertest.Sum(imp, "sheriff-berks").Choice["cal-jones"], 20)
	importertest.Equal(t, "carbon write-ins", importertest.Sum(imp, "sheriff-carbon").Choice["write-ins"], 5)
	importertest.Equal(t, "governor", importertest.Sum(imp, "governor").Choice["tom-wolf"], 120)
}

// TestDistrictScope: a district contest's scope is the precincts that vote
// in it, where it covers a county in part, and the county where it covers
// all of its precincts.
func TestDistrictScope(t *testing.T) {
	const input = `county,precinct,office,district,party,candidate,votes
Adams,A1,State House,5,DEM,ANN SMITH,10
Adams,A2,State House,5,DEM,ANN SMITH,11
Adams,A3,State House,6,REP,BOB JONES,12
Berks,B1,State House,5,DEM,ANN SMITH,13
Adams,A1,Governor,,DEM,TOM WOLF,1
Adams,A2,Governor,,DEM,TOM WOLF,2
Adams,A3,Governor,,DEM,TOM WOLF,3
Berks,B1,Governor,,DEM,TOM WOLF,4
`
	imp := parse(t, input)
	m := imp.Manifest
	importertest.Equal(t, "house 5", strings.Join(importertest.Contest(t, m, "state-house-5").Units, ","), "adams:a1,adams:a2,berks")
	importertest.Equal(t, "house 6", strings.Join(importertest.Contest(t, m, "state-house-6").Units, ","), "adams:a3")
	importertest.Equal(t, "governor", len(importertest.Contest(t, m, "governor").Units), 0)
}

// TestFusion: a candidate on several party lines (New York's fusion
// tickets) is a choice per line, never the lines added together.
func TestFusion(t *testing.T) {
	const input = `county,precinct,office,district,party,candidate,votes
Albany,A1,Governor,,DEM,Andrew M. Cuomo,100
Albany,A1,Governor,,WOR,Andrew M. Cuomo,10
Albany,A1,Governor,,REP,Marc Molinaro,80
Albany,A1,Governor,,CON,Marc Molinaro,20
Albany,A2,Governor,,DEM,Andrew M. Cuomo,50
Albany,A2,Governor,,REP,Marc Molinaro,40
Albany,A2,Governor,,,Write-in,1
`
	imp, err := openelections.Parse(strings.NewReader(input), "20181106__ny__general__albany__precinct.csv", "test", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	c := importertest.Contest(t, imp.Manifest, "governor")
	var choices []string
	for _, ch := range c.Choices {
		choices = append(choices, ch.ID+"="+ch.Name+"/"+ch.Party)
	}
	importertest.Equal(t, "choices", strings.Join(choices, " "),
		"andrew-m-cuomo-dem=Andrew M. Cuomo (DEM)/DEM andrew-m-cuomo-wor=Andrew M. Cuomo (WOR)/WOR marc-molinaro-rep=Marc Molinaro (REP)/REP marc-molinaro-con=Marc Molinaro (CON)/CON write-ins=Write-ins/")
	s := importertest.Sum(imp, "governor")
	importertest.Equal(t, "cuomo dem", s.Choice["andrew-m-cuomo-dem"], 150)
	importertest.Equal(t, "cuomo wor", s.Choice["andrew-m-cuomo-wor"], 10)
	importertest.Equal(t, "all", s.All, 301)
}
