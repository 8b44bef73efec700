package openelections_test

import (
	"bytes"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
	"github.com/election-audit/ledger/internal/ga06"
)

// The runoff's precinct files, one per county.
var runoffFiles = []string{
	"20170620__ga__special__general__runoff__cobb__precinct.csv",
	"20170620__ga__special__general__runoff__dekalb__precinct.csv",
	"20170620__ga__special__general__runoff__fulton__precinct.csv",
}

func readEmbedded(t testing.TB, file string) []byte {
	return importertest.ReadFile(t, ga06.Files(), file)
}

func runoff(t testing.TB) []openelections.File {
	var files []openelections.File
	for _, name := range runoffFiles {
		files = append(files, openelections.File{Name: name, Data: readEmbedded(t, name)})
	}
	return files
}

// parentOf maps unit IDs to their county (a county to itself).
func countyOf(m *events.Manifest) map[string]string {
	parent := map[string]string{}
	for _, u := range m.Units {
		switch u.Kind {
		case "county":
			parent[u.ID] = u.ID
		case "precinct":
			parent[u.ID] = u.Parent
		}
	}
	return parent
}

func kinds(m *events.Manifest) map[string]int {
	n := map[string]int{}
	for _, u := range m.Units {
		n[u.Kind]++
	}
	return n
}

const house = "us-house-6"

// TestRunoff checks the three county files of the 20 June 2017 runoff
// against the official totals (internal/ga06/data/SOURCES.md) and the
// Secretary of State's county-level export.
func TestRunoff(t *testing.T) {
	imp, err := openelections.ParseFiles(runoff(t), ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	for _, f := range imp.Findings {
		t.Errorf("finding: %s", f)
	}
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "Georgia special general runoff, 2017-06-20")
	importertest.Equal(t, "date", m.Date, "2017-06-20")
	importertest.Equal(t, "root", m.Units[0], events.Unit{ID: "ga", Name: "Georgia", Kind: "state"})
	importertest.Equal(t, "counties", kinds(m)["county"], 3)
	importertest.Equal(t, "precincts", kinds(m)["precinct"], 208)
	perCounty := map[string]int{}
	for _, u := range m.Units {
		if u.Kind == "precinct" {
			perCounty[u.Parent]++
		}
	}
	importertest.Equal(t, "cobb precincts", perCounty["cobb"], 50)
	importertest.Equal(t, "dekalb precincts", perCounty["dekalb"], 43)
	importertest.Equal(t, "fulton precincts", perCounty["fulton"], 115)
	importertest.Equal(t, "vote types", len(m.VoteTypes), 1)
	importertest.Equal(t, "vote type", m.VoteTypes[0], events.VoteType{ID: "total", Name: "Total"})
	importertest.Equal(t, "contests", len(m.Contests), 2)

	turnout := importertest.Contest(t, m, openelections.TurnoutContest)
	importertest.Equal(t, "turnout kind", turnout.Kind, events.KindTurnout)
	importertest.Equal(t, "turnout vote for", turnout.VoteFor, 0)
	importertest.Equal(t, "registered", importertest.Choice(t, turnout, "registered").Name, "Registered Voters")
	importertest.Equal(t, "ballots cast", importertest.Choice(t, turnout, "ballots-cast").Name, "Ballots Cast")

	c := importertest.Contest(t, m, house)
	importertest.Equal(t, "house name", c.Name, "U.S. House, District 6")
	importertest.Equal(t, "house vote for", c.VoteFor, 1)
	importertest.Equal(t, "house choices", len(c.Choices), 2)
	importertest.Equal(t, "handel", importertest.Choice(t, c, "karen-handel").Name, "Karen Handel")
	importertest.Equal(t, "ossoff party", importertest.Choice(t, c, "jon-ossoff").Party, "D")

	s := importertest.Sum(imp, house)
	importertest.Equal(t, "handel", s.Choice["karen-handel"], 134799)
	importertest.Equal(t, "ossoff", s.Choice["jon-ossoff"], 125517)
	importertest.Equal(t, "reports", len(imp.Reports), 2*208)

	// Each report's source is its own file.
	for _, r := range imp.Reports {
		county := countyOf(m)[r.Unit]
		if !strings.Contains(r.Source.File, "__"+county+"__") {
			t.Errorf("report of %s comes from %s", r.Unit, r.Source.File)
		}
	}

	// The precinct sums equal the Secretary of State's county totals.
	june, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	sos := map[[2]string]int64{}
	for _, r := range june.Reports {
		for _, c := range r.Counts {
			sos[[2]string{r.Unit, c.Choice}] += c.Votes
		}
	}
	ours := map[[2]string]int64{}
	parent := countyOf(m)
	for _, r := range imp.Reports {
		if r.Contest != house {
			continue
		}
		for _, c := range r.Counts {
			ours[[2]string{parent[r.Unit], c.Choice}] += c.Votes
		}
	}
	if len(sos) != 6 {
		t.Fatalf("the SOS export has %d county totals, want 6", len(sos))
	}
	for k, want := range sos {
		importertest.Equal(t, k[0]+" "+k[1], ours[k], want)
	}
}

// TestRunoffRollups checks that the roll-up rows are compared, not counted:
// a changed TOTAL row gives a finding and changes no count.
func TestRunoffRollups(t *testing.T) {
	files := runoff(t)
	cobb := string(files[0].Data)
	const total = "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45688"
	if !strings.Contains(cobb, total) {
		t.Fatal("no TOTAL row in the Cobb file")
	}
	files[0].Data = []byte(strings.Replace(cobb, total, "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45690", 1))
	imp, err := openelections.ParseFiles(files, ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Findings) != 1 {
		t.Fatalf("findings: %v", imp.Findings)
	}
	f := imp.Findings[0]
	importertest.Equal(t, "kind", f.Kind, importer.FindingRollup)
	importertest.Equal(t, "file", f.File, runoffFiles[0])
	importertest.Equal(t, "finding", f.String(), "rollup-sum: "+runoffFiles[0]+": line 204: roll-up of Cobb, U.S. House, District 6, Karen Handel: 45690 votes, but the precincts sum to 45688")
	importertest.Equal(t, "handel", importertest.Sum(imp, house).Choice["karen-handel"], 134799)
}

// TestRunoffSingleFiles parses each county file alone.
func TestRunoffSingleFiles(t *testing.T) {
	for i, f := range runoff(t) {
		imp, err := openelections.Parse(bytes.NewReader(f.Data), "testdata/../"+f.Name, ga06.JuneElection, openelections.Options{})
		if err != nil {
			t.Fatal(err)
		}
		importertest.CheckValid(t, imp)
		importertest.Equal(t, "findings", len(imp.Findings), 0)
		importertest.Equal(t, "name", imp.Manifest.Name, "Georgia special general runoff, 2017-06-20")
		importertest.Equal(t, "precincts", kinds(imp.Manifest)["precinct"], []int{50, 43, 115}[i])
		importertest.Equal(t, "source", imp.Reports[0].Source.File, f.Name)
	}
}

// TestDeterministic: the same bytes give the same import, and the same
// event IDs.
func TestDeterministic(t *testing.T) {
	a, err := openelections.ParseFiles(runoff(t), ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := openelections.ParseFiles(runoff(t), ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two parses of the same files differ")
	}
	ea, err := a.Events(true)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.Events(true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ea {
		if ea[i].ID != eb[i].ID {
			t.Fatalf("event %d: IDs differ", i)
		}
	}
}

func fmtUnits(us []events.Unit) string {
	var s []string
	for _, u := range us {
		s = append(s, strings.TrimSpace(u.ID+" "+u.Name+" "+u.Kind+" "+u.Parent))
	}
	return strings.Join(s, "; ")
}

func fmtReport(r *events.CountReport) string {
	var s []string
	for _, c := range r.Counts {
		s = append(s, c.Choice+"/"+c.VoteType+"="+strconv.FormatInt(c.Votes, 10))
	}
	return r.Unit + " " + r.Contest + ": " + strings.Join(s, " ")
}

// TestSpellings: one candidate spelt three ways across the files is one
// choice, with every spelling an alias.
func TestSpellings(t *testing.T) {
	files := runoff(t)
	files[1].Data = []byte(strings.Replace(string(files[1].Data), "Jon Ossoff,D", "JON OSSOFF (DEM),D", 1))
	files[2].Data = []byte(strings.Replace(string(files[2].Data), "Jon Ossoff,D", "JON OSSOFF,", 1))
	imp, err := openelections.ParseFiles(files, ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	c := importertest.Contest(t, imp.Manifest, house)
	importertest.Equal(t, "choices", len(c.Choices), 2)
	ossoff := importertest.Choice(t, c, "jon-ossoff")
	importertest.Equal(t, "name", ossoff.Name, "Jon Ossoff")
	importertest.Equal(t, "party", ossoff.Party, "D")
	importertest.Equal(t, "aliases", strings.Join(ossoff.Aliases, "|"), "Jon Ossoff|JON OSSOFF (DEM)|JON OSSOFF")
	importertest.Equal(t, "ossoff", importertest.Sum(imp, house).Choice["jon-ossoff"], 125517)
	importertest.Equal(t, "findings", len(imp.Findings), 0)
}

// TestPennsylvania reads an excerpt of a real Pennsylvania file: straight
// party rows (blank candidate, a party) and "Write In".
func TestPennsylvania(t *testing.T) {
	const file = "testdata/20181106__pa__general__adams__precinct.csv"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := openelections.Parse(bytes.NewReader(data), file, "pa-2018", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "Pennsylvania general, 2018-11-06")
	importertest.Equal(t, "precincts", kinds(m)["precinct"], 2)
	sp := importertest.Contest(t, m, "straight-party")
	importertest.Equal(t, "parties", len(sp.Choices), 4)
	importertest.Equal(t, "rep", importertest.Sum(imp, "straight-party").Choice["rep"], 249)
	sen := importertest.Contest(t, m, "us-senate")
	importertest.Equal(t, "casey", importertest.Choice(t, sen, "bob-casey-jr").Name, "Bob Casey Jr.")
	importertest.Equal(t, "write-ins", strings.Join(importertest.Choice(t, sen, "write-ins").Aliases, "|"), "Write In")
	importertest.Equal(t, "senate", importertest.Sum(imp, "us-senate").All, 648)
	importertest.Equal(t, "source", imp.Reports[0].Source.File, "20181106__pa__general__adams__precinct.csv")
}
