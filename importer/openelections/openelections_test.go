package openelections_test

import (
	"bytes"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
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
	t.Helper()
	b, err := fs.ReadFile(ga06.Files(), file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runoff(t testing.TB) []openelections.File {
	var files []openelections.File
	for _, name := range runoffFiles {
		files = append(files, openelections.File{Name: name, Data: readEmbedded(t, name)})
	}
	return files
}

// checkValid submits every body as events would: wrapped in an event,
// validated, encoded and decoded back.
func checkValid(t testing.TB, imp *importer.Import) {
	t.Helper()
	if err := importer.Check("check", imp); err != nil {
		t.Fatal(err)
	}
	bodies := []events.Body{imp.Manifest}
	for _, r := range imp.Reports {
		bodies = append(bodies, r)
	}
	for i, body := range bodies {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: imp.Election, Body: body}
		before, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("body %d (%s) is invalid: %v", i, body.Type(), err)
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if !bytes.Equal(enc, before) {
			t.Errorf("body %d: Validate changed it: Parse must return bodies already normalised", i)
		}
		back, err := events.Decode(enc)
		if err != nil {
			t.Fatalf("body %d does not decode: %v", i, err)
		}
		if !reflect.DeepEqual(back.Body, body) {
			t.Errorf("body %d changed in an encode/decode round trip", i)
		}
	}
}

// totals sums an import's counts by choice, unit and vote type for one
// contest.
type totals struct {
	all                    int64
	choice, unit, voteType map[string]int64
}

func sum(imp *importer.Import, contest string) totals {
	s := totals{choice: map[string]int64{}, unit: map[string]int64{}, voteType: map[string]int64{}}
	for _, r := range imp.Reports {
		if r.Contest != contest {
			continue
		}
		for _, c := range r.Counts {
			s.all += c.Votes
			s.choice[c.Choice] += c.Votes
			s.unit[r.Unit] += c.Votes
			s.voteType[c.VoteType] += c.Votes
		}
	}
	return s
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

func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func contest(t *testing.T, m *events.Manifest, id string) *events.Contest {
	t.Helper()
	i := slices.IndexFunc(m.Contests, func(c events.Contest) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("no contest %q", id)
	}
	return &m.Contests[i]
}

func choice(t *testing.T, c *events.Contest, id string) *events.Choice {
	t.Helper()
	i := slices.IndexFunc(c.Choices, func(ch events.Choice) bool { return ch.ID == id })
	if i < 0 {
		t.Fatalf("no choice %q in %q", id, c.ID)
	}
	return &c.Choices[i]
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
	checkValid(t, imp)
	for _, f := range imp.Findings {
		t.Errorf("finding: %s", f)
	}
	m := imp.Manifest
	wantEqual(t, "name", m.Name, "Georgia special general runoff, 2017-06-20")
	wantEqual(t, "date", m.Date, "2017-06-20")
	wantEqual(t, "root", m.Units[0], events.Unit{ID: "ga", Name: "Georgia", Kind: "state"})
	wantEqual(t, "counties", kinds(m)["county"], 3)
	wantEqual(t, "precincts", kinds(m)["precinct"], 208)
	perCounty := map[string]int{}
	for _, u := range m.Units {
		if u.Kind == "precinct" {
			perCounty[u.Parent]++
		}
	}
	wantEqual(t, "cobb precincts", perCounty["cobb"], 50)
	wantEqual(t, "dekalb precincts", perCounty["dekalb"], 43)
	wantEqual(t, "fulton precincts", perCounty["fulton"], 115)
	wantEqual(t, "vote types", len(m.VoteTypes), 1)
	wantEqual(t, "vote type", m.VoteTypes[0], events.VoteType{ID: "total", Name: "Total"})
	wantEqual(t, "contests", len(m.Contests), 2)

	turnout := contest(t, m, openelections.TurnoutContest)
	wantEqual(t, "turnout kind", turnout.Kind, events.KindTurnout)
	wantEqual(t, "turnout vote for", turnout.VoteFor, 0)
	wantEqual(t, "registered", choice(t, turnout, "registered").Name, "Registered Voters")
	wantEqual(t, "ballots cast", choice(t, turnout, "ballots-cast").Name, "Ballots Cast")

	c := contest(t, m, house)
	wantEqual(t, "house name", c.Name, "U.S. House, District 6")
	wantEqual(t, "house vote for", c.VoteFor, 1)
	wantEqual(t, "house choices", len(c.Choices), 2)
	wantEqual(t, "handel", choice(t, c, "karen-handel").Name, "Karen Handel")
	wantEqual(t, "ossoff party", choice(t, c, "jon-ossoff").Party, "D")

	s := sum(imp, house)
	wantEqual(t, "handel", s.choice["karen-handel"], 134799)
	wantEqual(t, "ossoff", s.choice["jon-ossoff"], 125517)
	wantEqual(t, "reports", len(imp.Reports), 2*208)

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
		wantEqual(t, k[0]+" "+k[1], ours[k], want)
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
	wantEqual(t, "kind", f.Kind, importer.FindingRollup)
	wantEqual(t, "file", f.File, runoffFiles[0])
	wantEqual(t, "finding", f.String(), "rollup-sum: "+runoffFiles[0]+": line 204: roll-up of Cobb, U.S. House, District 6, Karen Handel: 45690 votes, but the precincts sum to 45688")
	wantEqual(t, "handel", sum(imp, house).choice["karen-handel"], 134799)
}

// TestRunoffSingleFiles parses each county file alone.
func TestRunoffSingleFiles(t *testing.T) {
	for i, f := range runoff(t) {
		imp, err := openelections.Parse(bytes.NewReader(f.Data), "testdata/../"+f.Name, ga06.JuneElection, openelections.Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkValid(t, imp)
		wantEqual(t, "findings", len(imp.Findings), 0)
		wantEqual(t, "name", imp.Manifest.Name, "Georgia special general runoff, 2017-06-20")
		wantEqual(t, "precincts", kinds(imp.Manifest)["precinct"], []int{50, 43, 115}[i])
		wantEqual(t, "source", imp.Reports[0].Source.File, f.Name)
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

func fmtVoteTypes(vts []events.VoteType) string {
	var s []string
	for _, vt := range vts {
		s = append(s, vt.ID+"="+vt.Name)
	}
	return strings.Join(s, ", ")
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
	checkValid(t, imp)
	c := contest(t, imp.Manifest, house)
	wantEqual(t, "choices", len(c.Choices), 2)
	ossoff := choice(t, c, "jon-ossoff")
	wantEqual(t, "name", ossoff.Name, "Jon Ossoff")
	wantEqual(t, "party", ossoff.Party, "D")
	wantEqual(t, "aliases", strings.Join(ossoff.Aliases, "|"), "Jon Ossoff|JON OSSOFF (DEM)|JON OSSOFF")
	wantEqual(t, "ossoff", sum(imp, house).choice["jon-ossoff"], 125517)
	wantEqual(t, "findings", len(imp.Findings), 0)
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
	checkValid(t, imp)
	m := imp.Manifest
	wantEqual(t, "name", m.Name, "Pennsylvania general, 2018-11-06")
	wantEqual(t, "precincts", kinds(m)["precinct"], 2)
	sp := contest(t, m, "straight-party")
	wantEqual(t, "parties", len(sp.Choices), 4)
	wantEqual(t, "rep", sum(imp, "straight-party").choice["rep"], 249)
	sen := contest(t, m, "us-senate")
	wantEqual(t, "casey", choice(t, sen, "bob-casey-jr").Name, "Bob Casey Jr.")
	wantEqual(t, "write-ins", strings.Join(choice(t, sen, "write-ins").Aliases, "|"), "Write In")
	wantEqual(t, "senate", sum(imp, "us-senate").all, 648)
	wantEqual(t, "source", imp.Reports[0].Source.File, "20181106__pa__general__adams__precinct.csv")
}
