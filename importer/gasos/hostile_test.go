package gasos_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

// sample is a small valid export: one contest in two counties, every count
// distinct so that a test can change one by text replacement.
const sample = `{"electionDate":"2017-04-18","electionName":"Test Election ",
"results":{"name":"Georgia","ballotItems":[{"id":"1","name":"Mayor","voteFor":1,"ballotOptions":[
 {"id":"10","name":"ANN SMITH","politicalParty":null,"voteCount":1110,"groupResults":[{"groupName":"Election Day","voteCount":1000},{"groupName":"Provisional","voteCount":110}]},
 {"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":2220,"groupResults":[{"groupName":"Election Day","voteCount":2000},{"groupName":"Provisional","voteCount":220}]}]}]},
"localResults":[
 {"name":"Cobb County","ballotItems":[{"id":"1","name":"Mayor","voteFor":1,"ballotOptions":[
  {"id":"10","name":"ANN SMITH","politicalParty":null,"voteCount":111,"groupResults":[{"groupName":"Election Day","voteCount":100},{"groupName":"Provisional","voteCount":11}]},
  {"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":222,"groupResults":[{"groupName":"Election Day","voteCount":200},{"groupName":"Provisional","voteCount":22}]}]}]},
 {"name":"Fulton County","ballotItems":[{"id":"1","name":"Mayor","voteFor":1,"ballotOptions":[
  {"id":"10","name":"ANN SMITH","politicalParty":null,"voteCount":999,"groupResults":[{"groupName":"Election Day","voteCount":900},{"groupName":"Provisional","voteCount":99}]},
  {"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":1998,"groupResults":[{"groupName":"Election Day","voteCount":1800},{"groupName":"Provisional","voteCount":198}]}]}]}]}`

// edit returns sample with each old string, which must occur exactly once,
// replaced by the new one.
func edit(t testing.TB, oldnew ...string) string {
	return importertest.Edit(t, sample, oldnew...)
}

func TestSample(t *testing.T) {
	imp, err := gasos.Parse(strings.NewReader(sample), "dir/sample.json", "test")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	importertest.Equal(t, "contest", imp.Manifest.Contests[0].ID, "mayor")
	importertest.Equal(t, "units", len(imp.Manifest.Contests[0].Units), 0)
	importertest.Equal(t, "source", imp.Reports[0].Source.File, "sample.json")
	importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, provisional=Provisional")
	s := importertest.Sum(imp, "mayor")
	importertest.Equal(t, "total", s.All, 3330)
	importertest.Equal(t, "ann", s.Choice["ann-smith"], 1110)
}

// TestFlexible checks inputs that are unusual but valid.
func TestFlexible(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		check func(*testing.T, *importer.Import)
	}{
		{"bom", "\xef\xbb\xbf" + sample, nil},
		{"numeric ids", edit(t, `{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":2220`, `{"id":11,"name":"BOB JONES","politicalParty":null,"voteCount":2220`), nil},
		{"county without ids matches by name",
			edit(t, `{"name":"Cobb County","ballotItems":[{"id":"1",`, `{"name":"Cobb County","ballotItems":[{"id":null,`,
				`{"id":"10","name":"ANN SMITH","politicalParty":null,"voteCount":111,`, `{"name":"Ann Smith","voteCount":111,`),
			func(t *testing.T, imp *importer.Import) {
				ann := importertest.Choice(t, &imp.Manifest.Contests[0], "ann-smith")
				importertest.Equal(t, "aliases", strings.Join(ann.Aliases, "|"), "ANN SMITH|Ann Smith")
			}},
		{"timestamp date", edit(t, `"electionDate":"2017-04-18"`, `"electionDate":"2017-04-18T00:00:00"`),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "date", imp.Manifest.Date, "2017-04-18")
			}},
		{"county without the contest", edit(t, `"localResults":[`, `"localResults":[{"name":"Cherokee County","ballotItems":[]},`),
			func(t *testing.T, imp *importer.Import) {
				importertest.Equal(t, "units", strings.Join(imp.Manifest.Contests[0].Units, ","), "cobb,fulton")
				importertest.Equal(t, "reports", len(imp.Reports), 2)
			}},
		{"mixed case kept", edit(t, `"name":"ANN SMITH","politicalParty":null,"voteCount":1110`, `"name":"Ann McSmith","politicalParty":"DEM","voteCount":1110`,
			`"name":"ANN SMITH","politicalParty":null,"voteCount":111,`, `"name":"ANN MCSMITH (DEM)","politicalParty":"DEM","voteCount":111,`,
			`"name":"ANN SMITH","politicalParty":null,"voteCount":999`, `"name":"Ann McSmith","politicalParty":null,"voteCount":999`),
			func(t *testing.T, imp *importer.Import) {
				ann := importertest.Choice(t, &imp.Manifest.Contests[0], "ann-mcsmith")
				importertest.Equal(t, "name", ann.Name, "Ann McSmith")
				importertest.Equal(t, "aliases", strings.Join(ann.Aliases, "|"), "Ann McSmith|ANN MCSMITH (DEM)")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := gasos.Parse(strings.NewReader(tc.input), "sample.json", "test")
			if err != nil {
				t.Fatal(err)
			}
			importertest.CheckValid(t, imp)
			if tc.check != nil {
				tc.check(t, imp)
			}
		})
	}
}

// TestScopedAndDuplicateNames has two contests with the same name, one of
// them only in Fulton.
func TestScopedAndDuplicateNames(t *testing.T) {
	second := `{"id":"2","name":"Mayor","voteFor":1,"ballotOptions":[{"id":"20","name":"CAROL WHITE","voteCount":5,"groupResults":[{"groupName":"Election Day","voteCount":5}]}]}`
	input := edit(t,
		`"groupResults":[{"groupName":"Election Day","voteCount":2000},{"groupName":"Provisional","voteCount":220}]}]}]},`,
		`"groupResults":[{"groupName":"Election Day","voteCount":2000},{"groupName":"Provisional","voteCount":220}]}]},`+second+`]},`,
		`{"groupName":"Provisional","voteCount":198}]}]}]}`,
		`{"groupName":"Provisional","voteCount":198}]}]},`+second+`]}`)
	imp, err := gasos.Parse(strings.NewReader(input), "sample.json", "test")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	c := importertest.Contest(t, imp.Manifest, "mayor-2")
	importertest.Equal(t, "units", strings.Join(c.Units, ","), "fulton")
	importertest.Equal(t, "first units", len(importertest.Contest(t, imp.Manifest, "mayor").Units), 0)
	importertest.Equal(t, "last report", imp.Reports[len(imp.Reports)-1].Contest, "mayor-2")
}

// TestHostile feeds broken and hostile files. Each must be refused with an
// *Error whose message names the file and the element.
func TestHostile(t *testing.T) {
	for _, tc := range hostile(t) {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := gasos.Parse(strings.NewReader(tc.input), "x.json", "test")
			if err == nil {
				t.Fatalf("accepted: %d reports", len(imp.Reports))
			}
			e := importertest.AsError(t, err)
			if e.File != "x.json" {
				t.Errorf("File = %q", e.File)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

type hostileCase struct {
	name  string
	input string
	want  string // the whole message, for file "x.json"
}

// hostile returns broken exports and the errors they must give; FuzzParse
// uses them as seeds.
func hostile(t testing.TB) []hostileCase {
	apr := string(readEmbedded(t, ga06.AprilFile))
	return []hostileCase{
		{"empty", "", "x.json: empty file: expected a JSON object"},
		{"blank", " \n\t", "x.json: empty file: expected a JSON object"},
		{"not json", "Precinct,Votes\nA,1\n", `x.json: expected a JSON object at byte 0, found "Precinct,Votes\nA,1\n"`},
		{"html", "<html><body>502 Bad Gateway</body></html>", `x.json: expected a JSON object at byte 0, found "<html><body>502 Bad Gateway</body></html…"`},
		{"array", "[]", `x.json: expected a JSON object at byte 0, found "[]"`},
		{"null", "null", `x.json: expected a JSON object at byte 0, found "null"`},
		{"truncated", apr[:20000], "x.json: truncated JSON: unexpected end of input at byte 20000"},
		{"syntax", `{"electionName": "x",, }`, "x.json: malformed JSON at byte 21: invalid character ',' looking for beginning of object key string"},
		{"trailing", sample + ` {}`, "x.json: unexpected data after the JSON object at byte " + strconv.Itoa(len(sample)+1)},
		{"invalid utf-8", `{"electionName":"` + "\xff" + `"}`, "x.json: not valid UTF-8 at byte 17"},
		{"wrong type", edit(t, `"localResults":[`, `"localResults":{"a":[`) + "}", "x.json: localResults near byte 538: got a JSON object, want an array"},

		{"negative count", edit(t, `"voteCount":999,`, `"voteCount":-5,`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount -5 is negative"},
		{"negative group", edit(t, `{"groupName":"Election Day","voteCount":900}`, `{"groupName":"Election Day","voteCount":-900}`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0].groupResults[0]: voteCount -900 is negative"},
		{"huge negative", edit(t, `"voteCount":999,`, `"voteCount":-99999999999999999999,`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount -99999999999999999999 is negative"},
		{"too many votes", edit(t, `"voteCount":999,`, `"voteCount":99999999999999999999,`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount 99999999999999999999 is more than the limit of 1000000000"},
		{"fraction", edit(t, `"voteCount":999,`, `"voteCount":998.5,`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount 998.5 is not a whole number"},
		{"string count", edit(t, `"voteCount":999,`, `"voteCount":"999",`),
			`x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount: expected a number, got "\"999\""`},
		{"missing count", edit(t, `"voteCount":999,`, ``),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: voteCount: missing"},
		{"groups do not sum", edit(t, `"voteCount":999,`, `"voteCount":998,`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: Fulton County, Mayor, ANN SMITH: groupResults sum to 999, but voteCount is 998"},
		{"no groups", edit(t, `"voteCount":999,"groupResults":[{"groupName":"Election Day","voteCount":900},{"groupName":"Provisional","voteCount":99}]`, `"voteCount":999,"groupResults":[]`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0]: groupResults: none: Fulton County, Mayor, ANN SMITH has no votes by vote type"},
		{"vote type twice", edit(t, `{"groupName":"Provisional","voteCount":99}`, `{"groupName":"ELECTION DAY","voteCount":99}`),
			`x.json: localResults[1].ballotItems[0].ballotOptions[0].groupResults[1]: vote type "election-day" ("ELECTION DAY") appears twice for Fulton County, Mayor, ANN SMITH`},
		{"state differs from counties", edit(t, `"voteCount":1110,`, `"voteCount":1111,`, `{"groupName":"Election Day","voteCount":1000}`, `{"groupName":"Election Day","voteCount":1001}`),
			"x.json: results.ballotItems[0].ballotOptions[0]: Mayor, ANN SMITH, Election Day: the statewide count is 1001 but the counties sum to 1000"},

		{"duplicate candidate", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"ANN SMITH","politicalParty":null,"voteCount":2220`),
			`x.json: results.ballotItems[0].ballotOptions[1]: duplicate candidate name "ANN SMITH" in "Mayor" (also results.ballotItems[0].ballotOptions[0])`},
		{"candidates alike", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"ANN-SMITH","politicalParty":null,"voteCount":2220`),
			`x.json: results.ballotItems[0].ballotOptions[1]: candidate names "ANN-SMITH" and "ANN SMITH" (results.ballotItems[0].ballotOptions[0]) in "Mayor" are the same person or too alike to tell apart (both give ID "ann-smith")`},
		{"duplicate in county", edit(t, `{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":222,`, `{"id":"10","name":"ANN SMITH","politicalParty":null,"voteCount":222,`),
			`x.json: localResults[0].ballotItems[0].ballotOptions[1]: duplicate candidate "ANN SMITH" in Cobb County, "Mayor" (also localResults[0].ballotItems[0].ballotOptions[0])`},
		{"missing election name", edit(t, `"electionName":"Test Election ",`, ``), "x.json: electionName: missing"},
		{"blank candidate name", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"  ","politicalParty":null,"voteCount":2220`),
			"x.json: results.ballotItems[0].ballotOptions[1]: name: missing"},
		{"null county name", edit(t, `{"name":"Fulton County",`, `{"name":null,`), "x.json: localResults[1]: name: missing"},
		{"missing group name", edit(t, `{"groupName":"Provisional","voteCount":99}`, `{"voteCount":99}`),
			"x.json: localResults[1].ballotItems[0].ballotOptions[0].groupResults[1]: groupName: missing"},
		{"numeric name", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":7,"politicalParty":null,"voteCount":2220`),
			`x.json: results.ballotItems[0].ballotOptions[1]: name: expected a string, got "7"`},
		{"control character", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"BOB\u0007JONES","politicalParty":null,"voteCount":2220`),
			`x.json: results.ballotItems[0].ballotOptions[1]: name: "BOB\aJONES" contains control characters`},
		{"no letters", edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"???","politicalParty":null,"voteCount":2220`),
			`x.json: results.ballotItems[0].ballotOptions[1]: name "???" has no letters or digits to make an ID from`},
		{"bad date", edit(t, `"electionDate":"2017-04-18"`, `"electionDate":"04/18/2017"`), `x.json: electionDate: "04/18/2017" is not a date (YYYY-MM-DD)`},
		{"no results", edit(t, `"results":{"name":"Georgia",`, `"results":null,"x":{"name":"Georgia",`), "x.json: results: missing: the statewide results define the contests"},
		{"no contests", `{"electionDate":"2017-04-18","electionName":"x","results":{"name":"Georgia","ballotItems":[]},"localResults":[]}`,
			"x.json: results: ballotItems: none: the file has no contests"},
		{"no counties", edit(t, `"localResults":[`, `"localResults":[],"x":[`), "x.json: localResults: none: the file has no county results"},
		{"vote for 0", edit(t, `{"id":"1","name":"Mayor","voteFor":1,"ballotOptions":[
 {"id":"10"`, `{"id":"1","name":"Mayor","voteFor":0,"ballotOptions":[
 {"id":"10"`), "x.json: results.ballotItems[0]: voteFor 0 is not between 1 and 1000 (a race may elect more than it has candidates: seats left to write-ins)"},
		{"county vote for differs", edit(t, `{"name":"Cobb County","ballotItems":[{"id":"1","name":"Mayor","voteFor":1,`, `{"name":"Cobb County","ballotItems":[{"id":"1","name":"Mayor","voteFor":2,`),
			"x.json: localResults[0].ballotItems[0]: voteFor 2 differs from the statewide 1 (results.ballotItems[0])"},
		{"unknown contest", edit(t, `{"name":"Cobb County","ballotItems":[{"id":"1","name":"Mayor",`, `{"name":"Cobb County","ballotItems":[{"id":"2","name":"Sheriff",`),
			`x.json: localResults[0].ballotItems[0]: "Sheriff" (id "2") is not among the statewide results.ballotItems`},
		{"contest renamed", edit(t, `{"name":"Cobb County","ballotItems":[{"id":"1","name":"Mayor",`, `{"name":"Cobb County","ballotItems":[{"id":"1","name":"Sheriff",`),
			`x.json: localResults[0].ballotItems[0]: name "Sheriff" differs from "Mayor", the statewide item with id "1"`},
		{"unknown candidate", edit(t, `{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":222,`, `{"id":"12","name":"CAROL WHITE","politicalParty":null,"voteCount":222,`),
			`x.json: localResults[0].ballotItems[0].ballotOptions[1]: candidate "CAROL WHITE" (id "12") is not among the statewide candidates for "Mayor" (results.ballotItems[0])`},
		{"candidate renamed", edit(t, `{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":222,`, `{"id":"11","name":"CAROL WHITE","politicalParty":null,"voteCount":222,`),
			`x.json: localResults[0].ballotItems[0].ballotOptions[1]: name "CAROL WHITE" differs from "BOB JONES", the statewide candidate with id "11" (results.ballotItems[0].ballotOptions[1])`},
		{"county twice", edit(t, `{"name":"Fulton County",`, `{"name":"COBB COUNTY",`),
			`x.json: localResults[1]: county "COBB COUNTY" gives unit ID "cobb", already used by "Cobb County": a county listed twice?`},
		{"county names the root", edit(t, `{"name":"Fulton County",`, `{"name":"GA County",`),
			`x.json: localResults[1]: county "GA County" gives unit ID "ga", already used by "Georgia": a county listed twice?`},
		{"contest twice in a county", edit(t, `{"groupName":"Provisional","voteCount":198}]}]}]}`, `{"groupName":"Provisional","voteCount":198}]}]},{"id":"1","name":"Mayor","voteFor":1,"ballotOptions":[]}]}`),
			`x.json: localResults[1].ballotItems[1]: ballotOptions: none: Fulton County has no candidates for "Mayor"`},
		{"contest in no county", edit(t, `{"groupName":"Provisional","voteCount":220}]}]}]},`, `{"groupName":"Provisional","voteCount":220}]}]},
 {"id":"2","name":"Sheriff","voteFor":1,"ballotOptions":[{"id":"20","name":"CAROL WHITE","voteCount":5,"groupResults":[{"groupName":"Election Day","voteCount":5}]}]}]},`),
			`x.json: results.ballotItems[1]: "Sheriff" is in no county of localResults: only counties report`},
	}
}

// TestTruncations cuts the April export at many points: every cut is refused
// with an error, never a panic.
func TestTruncations(t *testing.T) {
	apr := readEmbedded(t, ga06.AprilFile)
	for n := 0; n < len(apr); n += 97 {
		if _, err := gasos.Parse(bytes.NewReader(apr[:n]), "x.json", "test"); err == nil {
			t.Fatalf("a cut at byte %d was accepted", n)
		}
	}
}

func TestTooLarge(t *testing.T) {
	_, err := gasos.Parse(importertest.Endless("{", ' '), "x.json", "test")
	importertest.Equal(t, "error", importertest.AsError(t, err).Error(), "x.json: larger than the limit of 67108864 bytes (64 MiB)")
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := gasos.Parse(io.MultiReader(strings.NewReader(sample[:100]), iotest.ErrReader(boom)), "x.json", "test")
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the read error", err)
	}
	importertest.Equal(t, "error", err.Error(), "couldn't read x.json: boom")
}

func TestBadArguments(t *testing.T) {
	if _, err := gasos.Parse(strings.NewReader(sample), "x.json", "GA 06"); err == nil || !strings.Contains(err.Error(), `"GA 06" is not a valid election ID`) {
		t.Errorf("bad election ID: %v", err)
	}
	if _, err := gasos.Parse(strings.NewReader(sample), "", "test"); err == nil {
		t.Error("empty file name accepted")
	}
}
