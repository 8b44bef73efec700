package clarity_test

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

func parse(t testing.TB, data []byte, file string, opts *clarity.Options) *importer.Import {
	t.Helper()
	imp, err := clarity.Parse(bytes.NewReader(data), file, "test", opts)
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	return imp
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// key is one count: unit, contest, choice, vote type.
type key struct{ unit, contest, choice, voteType string }

// counts flattens an import's reports, failing on a (unit, contest) reported
// twice.
func counts(t testing.TB, imp *importer.Import) map[key]int64 {
	t.Helper()
	out := map[key]int64{}
	seen := map[[2]string]bool{}
	for _, r := range imp.Reports {
		if seen[[2]string{r.Unit, r.Contest}] {
			t.Fatalf("unit %q, contest %q reported twice", r.Unit, r.Contest)
		}
		seen[[2]string{r.Unit, r.Contest}] = true
		for _, c := range r.Counts {
			out[key{r.Unit, r.Contest, c.Choice, c.VoteType}] += c.Votes
		}
	}
	return out
}

// total sums the counts that match the non-empty fields of k.
func total(m map[key]int64, k key) int64 {
	var n int64
	for x, v := range m {
		if (k.unit == "" || k.unit == x.unit) && (k.contest == "" || k.contest == x.contest) &&
			(k.choice == "" || k.choice == x.choice) && (k.voteType == "" || k.voteType == x.voteType) {
			n += v
		}
	}
	return n
}

// TestRealState parses the Arkansas 2014 state-level file of
// openelections/clarify (testdata/SOURCES.md).
func TestRealState(t *testing.T) {
	imp := parse(t, readFile(t, "clarify_county.xml"), "testdata/clarify_county.xml", nil)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, "2014 General Election")
	importertest.Equal(t, "date", m.Date, "2014-11-04")
	importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), "election-day=Election Day, early-vote=Early Vote, absentee=Absentee, provisional=Provisional, total=Total")
	importertest.Equal(t, "units", len(m.Units), 76)
	importertest.Equal(t, "root", importertest.Units(m.Units[:2]), "ar=AR(state), arkansas=Arkansas(county<ar)")
	importertest.Equal(t, "hot spring", importertest.Units(m.Units[30:31]), "hot-spring=Hot Spring(county<ar)")
	importertest.Equal(t, "contests", len(m.Contests), 2)
	turnout := importertest.Contest(t, m, "turnout")
	importertest.Equal(t, "turnout kind", turnout.Kind, events.KindTurnout)
	importertest.Equal(t, "turnout vote for", turnout.VoteFor, 0)
	sen := importertest.Contest(t, m, "us-senate")
	importertest.Equal(t, "senate name", sen.Name, "U.S. Senate")
	importertest.Equal(t, "senate units", len(sen.Units), 0) // every county
	importertest.Equal(t, "cotton", fmtChoice(sen.Choices[0]), `tom-cotton "Tom Cotton" REP ["Tom Cotton"]`)

	c := counts(t, imp)
	importertest.Equal(t, "reports", len(imp.Reports), 150)
	importertest.Equal(t, "registered", total(c, key{contest: "turnout", choice: "registered"}), 1_690_577)
	importertest.Equal(t, "ballots cast", total(c, key{contest: "turnout", choice: "ballots-cast"}), 850_615)
	importertest.Equal(t, "cotton", total(c, key{contest: "us-senate"}), 462_123)
	importertest.Equal(t, "early vote", total(c, key{contest: "us-senate", voteType: "early-vote"}), 200_430)
	importertest.Equal(t, "pulaski election day", c[key{"pulaski", "us-senate", "tom-cotton", "election-day"}], 28_800)
	importertest.Equal(t, "newton ballots cast", c[key{"newton", "turnout", "ballots-cast", "total"}], 0)
	for _, r := range imp.Reports {
		importertest.Equal(t, "source file", r.Source.File, "clarify_county.xml")
		importertest.Equal(t, "source version", r.Source.Version, "11/13/2014 2:58:41 PM CST")
		importertest.Equal(t, "source sha256", r.Source.SHA256, "03dec93b8e0856e600c289f3bb0be57f0e2367f71867d3885152249fd79a9988")
	}
	// The file's own discrepancy: totalVotes is not the sum of the vote types.
	importertest.Equal(t, "findings", len(imp.Findings), 1)
	importertest.Equal(t, "finding", imp.Findings[0].String(), "vote-types-sum: testdata/clarify_county.xml: ElectionResult/Contest[1]/Choice[1] (line 166): U.S. Senate, Tom Cotton: totalVotes is 477734 but its VoteTypes sum to 462123")
}

func fmtChoice(ch events.Choice) string {
	var q []string
	for _, a := range ch.Aliases {
		q = append(q, `"`+a+`"`)
	}
	return ch.ID + ` "` + ch.Name + `" ` + ch.Party + " [" + strings.Join(q, " ") + "]"
}

// TestRealCounty parses the Atkinson County, GA, 2020 county-level file of
// washingtonpost/elex-clarity (testdata/SOURCES.md).
func TestRealCounty(t *testing.T) {
	imp := parse(t, readFile(t, "atkinson_precincts_2020-11-03_GA_G_P.xml"), "atkinson.xml", nil)
	m := imp.Manifest
	importertest.Equal(t, "date", m.Date, "2020-11-03")
	importertest.Equal(t, "units", importertest.Units(m.Units), "atkinson=Atkinson(county), atkinson:pearson-county=Pearson County(precinct<atkinson), atkinson:axson=Axson(precinct<atkinson), atkinson:willacoochee=Willacoochee(precinct<atkinson), atkinson:pearson-city=Pearson City(precinct<atkinson)")
	importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), "election-day-votes=Election Day Votes, advanced-voting-votes=Advanced Voting Votes, absentee-by-mail-votes=Absentee by Mail Votes, provisional-votes=Provisional Votes, total=Total")
	pres := importertest.Contest(t, m, "president-of-the-united-states")
	var got []string
	for _, ch := range pres.Choices {
		got = append(got, fmtChoice(ch))
	}
	importertest.Equal(t, "choices", strings.Join(got, "; "), `donald-j-trump-i-rep "Donald J. Trump (I) (Rep)" NP ["Donald J. Trump (I) (Rep)"]; joseph-r-biden-dem "Joseph R. Biden (Dem)" NP ["Joseph R. Biden (Dem)"]; jo-jorgensen-lib "Jo Jorgensen (Lib)" NP ["Jo Jorgensen (Lib)"]`)
	c := counts(t, imp)
	importertest.Equal(t, "trump", total(c, key{choice: "donald-j-trump-i-rep"}), 2300)
	importertest.Equal(t, "biden", total(c, key{choice: "joseph-r-biden-dem"}), 825)
	importertest.Equal(t, "jorgensen", total(c, key{choice: "jo-jorgensen-lib"}), 30)
	importertest.Equal(t, "axson advanced", c[key{"atkinson:axson", "president-of-the-united-states", "donald-j-trump-i-rep", "advanced-voting-votes"}], 257)
	importertest.Equal(t, "registered", total(c, key{choice: "registered"}), 4799)
	importertest.Equal(t, "ballots cast", total(c, key{choice: "ballots-cast"}), 3172)
	importertest.Equal(t, "reports", len(imp.Reports), 8)
	importertest.Equal(t, "first report", imp.Reports[0].Unit+"/"+imp.Reports[0].Contest, "atkinson:pearson-county/turnout")
	importertest.Equal(t, "counts per report", len(imp.Reports[4].Counts), 12)
	importertest.Equal(t, "findings", len(imp.Findings), 0)

	// The root can be named explicitly.
	imp = parse(t, readFile(t, "atkinson_precincts_2020-11-03_GA_G_P.xml"), "atkinson.xml", &clarity.Options{Root: "atkinson-county"})
	importertest.Equal(t, "root", imp.Manifest.Units[1].ID, "atkinson-county:pearson-county")
}

// TestDeterministic parses twice and expects the same result.
func TestDeterministic(t *testing.T) {
	for _, data := range [][]byte{readFile(t, "clarify_county.xml"), stateFile(t, april(t))} {
		a := parse(t, data, "a.xml", nil)
		b := parse(t, data, "a.xml", nil)
		if !reflect.DeepEqual(a, b) {
			t.Error("two parses of the same file differ")
		}
		ea, err := a.Events(true)
		if err != nil {
			t.Fatal(err)
		}
		eb, _ := b.Events(true)
		for i := range ea {
			if ea[i].ID != eb[i].ID {
				t.Fatalf("event %d: IDs differ", i)
			}
		}
	}
}

func april(t testing.TB) *importer.Import {
	t.Helper()
	imp, err := ga06.April()
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

const house = "us-representative-district-6"

// TestGA06State builds a state-level Clarity file of the April 2017 special
// election from the SOS export and expects the same manifest IDs and counts.
func TestGA06State(t *testing.T) {
	truth := april(t)
	imp := parse(t, stateFile(t, truth), "detail.xml", nil)
	m := imp.Manifest
	importertest.Equal(t, "name", m.Name, truth.Manifest.Name)
	importertest.Equal(t, "date", m.Date, "2017-04-18")
	importertest.Equal(t, "units", importertest.Units(m.Units), "ga=GA(state), cobb=Cobb(county<ga), dekalb=DeKalb(county<ga), fulton=Fulton(county<ga)")
	importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), importertest.VoteTypes(truth.Manifest.VoteTypes))
	importertest.Equal(t, "contests", len(m.Contests), len(truth.Manifest.Contests))
	for i, want := range truth.Manifest.Contests {
		got := m.Contests[i]
		importertest.Equal(t, "contest", got.ID, want.ID)
		importertest.Equal(t, got.ID+" units", strings.Join(got.Units, ","), strings.Join(want.Units, ","))
		importertest.Equal(t, got.ID+" choices", len(got.Choices), len(want.Choices))
		for j := range want.Choices {
			importertest.Equal(t, "choice", got.Choices[j].ID, want.Choices[j].ID)
			importertest.Equal(t, "choice name", got.Choices[j].Name, want.Choices[j].Name)
		}
	}
	c, w := counts(t, imp), counts(t, truth)
	if !reflect.DeepEqual(c, w) {
		t.Errorf("counts differ from the SOS export's")
	}
	importertest.Equal(t, "house total", total(c, key{contest: house}), 192_569)
	importertest.Equal(t, "ossoff", total(c, key{contest: house, choice: "jon-ossoff"}), 92_673)
	importertest.Equal(t, "handel", total(c, key{contest: house, choice: "karen-handel"}), 38_071)
	for id, want := range map[string]int64{"cobb": 61_229, "dekalb": 44_299, "fulton": 87_041} {
		importertest.Equal(t, id, total(c, key{unit: id, contest: house}), want)
	}
	importertest.Equal(t, "reports", len(imp.Reports), len(truth.Reports))
	importertest.Equal(t, "version", imp.Reports[0].Source.Version, timestamp)
	importertest.Equal(t, "findings", len(imp.Findings), 0)
}

// TestGA06Counties builds one county-level file per county, each county's
// votes split over three precincts, and expects the county's root ID to be
// the state file's county ID and the precincts to add up to the county.
func TestGA06Counties(t *testing.T) {
	truth := april(t)
	w := counts(t, truth)
	var sumHouse int64
	for _, u := range truth.Manifest.Units[1:] {
		imp := parse(t, countyFile(t, truth, u.ID), u.ID+".xml", nil)
		m := imp.Manifest
		importertest.Equal(t, "root", m.Units[0].ID, u.ID)
		importertest.Equal(t, "root kind", m.Units[0].Kind, "county")
		importertest.Equal(t, "precincts", len(m.Units), 4)
		importertest.Equal(t, "precinct", m.Units[1].ID, u.ID+":precinct-1")
		c := counts(t, imp)
		for k, want := range w {
			if k.unit != u.ID {
				continue
			}
			var got int64
			for _, p := range m.Units[1:] {
				got += c[key{p.ID, k.contest, k.choice, k.voteType + "-votes"}] // "Election Day Votes"
			}
			importertest.Equal(t, u.ID+"/"+k.contest+"/"+k.choice+"/"+k.voteType, got, want)
		}
		sumHouse += total(c, key{contest: house})
		if u.ID == "dekalb" {
			importertest.Equal(t, "dekalb contests", len(m.Contests), 2) // turnout and the House, no state senate
		}
	}
	importertest.Equal(t, "house", sumHouse, 192_569)
}
