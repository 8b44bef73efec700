package gasos_test

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

func readEmbedded(t testing.TB, file string) []byte {
	return importertest.ReadFile(t, ga06.Files(), file)
}

func parseEmbedded(t *testing.T, file, election string) *importer.Import {
	t.Helper()
	imp, err := gasos.Parse(bytes.NewReader(readEmbedded(t, file)), file, election)
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	return imp
}

const house = "us-representative-district-6"

// TestApril checks the official totals of the 18 April 2017 special
// election (data/SOURCES.md in internal/ga06).
func TestApril(t *testing.T) {
	imp := parseEmbedded(t, ga06.AprilFile, ga06.AprilElection)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "April 18, 2017 - Special Election")
	importertest.Equal(t, "date", m.Date, "2017-04-18")
	importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), "election-day=Election Day, absentee-by-mail=Absentee by Mail, advance-in-person=Advance in Person, provisional=Provisional")
	importertest.Equal(t, "units", importertest.Units(m.Units), "ga=Georgia(state), cobb=Cobb County(county<ga), dekalb=DeKalb County(county<ga), fulton=Fulton County(county<ga)")
	importertest.Equal(t, "contests", len(m.Contests), 2)

	h := importertest.Contest(t, m, house)
	importertest.Equal(t, "house name", h.Name, "U.S. Representative, District 6")
	importertest.Equal(t, "house vote for", h.VoteFor, 1)
	importertest.Equal(t, "house choices", len(h.Choices), 18)
	importertest.Equal(t, "house units", len(h.Units), 0) // in every county
	ossoff := importertest.Choice(t, h, "jon-ossoff")
	importertest.Equal(t, "ossoff name", ossoff.Name, "Jon Ossoff")
	if !slices.Contains(ossoff.Aliases, "JON OSSOFF") {
		t.Errorf("ossoff aliases %q lack JON OSSOFF", ossoff.Aliases)
	}

	s := importertest.Sum(imp, house)
	importertest.Equal(t, "house total", s.All, 192_569)
	for id, want := range map[string]int64{
		"jon-ossoff": 92_673, "karen-handel": 38_071, "bob-gray": 20_802, "dan-moody": 17_028,
		"judson-hill": 16_870, "kurt-wilson": 1_820, "david-abroms": 1_639,
	} {
		importertest.Equal(t, id, s.Choice[id], want)
	}
	importertest.Equal(t, "choices with votes", len(s.Choice), 18)
	for id, want := range map[string]int64{"cobb": 61_229, "dekalb": 44_299, "fulton": 87_041} {
		importertest.Equal(t, id, s.Unit[id], want)
	}
	for id, want := range map[string]int64{
		"election-day": 135_302, "advance-in-person": 50_262, "absentee-by-mail": 6_583, "provisional": 422,
	} {
		importertest.Equal(t, id, s.VoteType[id], want)
	}

	sen := importertest.Contest(t, m, "state-senator-district-32")
	importertest.Equal(t, "senate choices", len(sen.Choices), 8)
	importertest.Equal(t, "senate units", strings.Join(sen.Units, ","), "cobb,fulton")
	daniels := importertest.Choice(t, sen, "royden-roy-daniels")
	importertest.Equal(t, "daniels name", daniels.Name, `Royden "Roy" Daniels`)

	// One report per county and ballot item, in file order.
	var got []string
	for _, r := range imp.Reports {
		got = append(got, r.Unit+"/"+r.Contest)
		importertest.Equal(t, r.Unit+"/"+r.Contest+" source file", r.Source.File, ga06.AprilFile)
		importertest.Equal(t, r.Unit+"/"+r.Contest+" source sha256", r.Source.SHA256, "922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb")
	}
	importertest.Equal(t, "reports", strings.Join(got, " "), "cobb/"+house+" cobb/state-senator-district-32 dekalb/"+house+" fulton/"+house+" fulton/state-senator-district-32")
}

// TestJune checks the runoff's official totals and that names with party
// tags map to the same IDs as in April.
func TestJune(t *testing.T) {
	imp := parseEmbedded(t, ga06.JuneFile, ga06.JuneElection)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "June 20, 2017 - Special Runoff")
	importertest.Equal(t, "date", m.Date, "2017-06-20")
	h := importertest.Contest(t, m, house)
	importertest.Equal(t, "choices", len(h.Choices), 2)
	ossoff := importertest.Choice(t, h, "jon-ossoff")
	importertest.Equal(t, "ossoff name", ossoff.Name, "Jon Ossoff")
	importertest.Equal(t, "ossoff party", ossoff.Party, "DEM")
	importertest.Equal(t, "ossoff aliases", strings.Join(ossoff.Aliases, "|"), "JON OSSOFF (DEM)|JON OSSOFF")
	importertest.Equal(t, "handel party", importertest.Choice(t, h, "karen-handel").Party, "REP")
	s := importertest.Sum(imp, house)
	importertest.Equal(t, "handel", s.Choice["karen-handel"], 134_799)
	importertest.Equal(t, "ossoff", s.Choice["jon-ossoff"], 125_517)
	importertest.Equal(t, "reports", len(imp.Reports), 3)
}

// TestDeterministic parses twice and expects the same result.
func TestDeterministic(t *testing.T) {
	a := parseEmbedded(t, ga06.AprilFile, "a")
	b := parseEmbedded(t, ga06.AprilFile, "a")
	if !reflect.DeepEqual(a, b) {
		t.Error("two parses of the same file differ")
	}
}
