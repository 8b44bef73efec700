package clarity_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/importertest"
)

// wildDir holds real files as published, with their totals in its
// SOURCES.md. It is shared data beside the repository, not part of it.
const wildDir = "../../../shared/data/wild"

func readWild(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(wildDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent: the corpus of real files (%s, relative to the package) is not beside this checkout", name, wildDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWild parses every Clarity file of the corpus and checks each one's
// date, shape and the per-candidate totals of wild/SOURCES.md.
func TestWild(t *testing.T) {
	for _, tc := range []struct {
		file     string
		date     string
		contests int // in the file; the manifest adds the turnout contest
		units    int // reporting units in the turnout block
		contest  string
		totals   map[string]int64 // choice ID → the sum of its counts in every report
	}{
		{"pa/luzerne/detail.xml", "2024-11-05", 15, 186, "presidential-electors", map[string]int64{
			"harris-walz": 62_504, "trump-vance": 92_444, "oliver-maat": 640, "stein-ware": 562, "write-in": 282,
		}},
		{"nj/cumberland/general.xml", "2016-11-08", 41, 120, "president-and-vice-president", map[string]int64{
			"hillary-rodham-clinton": 27_771, "donald-j-trump": 24_453, "gary-johnson": 1_043, "jill-stein": 489,
			"darrell-castle": 104, "gloria-la-riva": 56, "rocky-roque-de-la-fuente": 35, "alyson-kennedy": 31,
			"monica-moorehead": 22, "personal-choice": 327,
		}},
		{"nj/cumberland/primary.xml", "2016-06-07", 32, 120, "rep-president", map[string]int64{
			"donald-j-trump": 4_957, "john-r-kasich": 591, "ted-cruz": 441,
		}},
		{"pa/allegheny/detail.xml", "2023-09-19", 1, 79, "representative-in-the-general-assembly-21st-district", map[string]int64{
			"lindsay-powell": 7_318, "erin-connolly-autenreith": 3_848, "write-in": 27,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			imp := parse(t, readWild(t, tc.file), tc.file, nil)
			m := imp.Manifest
			importertest.Equal(t, "date", m.Date, tc.date)
			importertest.Equal(t, "contests", len(m.Contests), 1+tc.contests)
			importertest.Equal(t, "units", len(m.Units), 1+tc.units)
			importertest.Equal(t, "root kind", m.Units[0].Kind, "county")
			importertest.Equal(t, "findings", len(imp.Findings), 0)
			c := importertest.Contest(t, m, tc.contest)
			counts := counts(t, imp)
			found := 0
			for _, ch := range c.Choices {
				got := total(counts, key{contest: tc.contest, choice: ch.ID})
				want, ok := tc.totals[ch.ID]
				if !ok {
					t.Logf("%s %s: %d (not in SOURCES.md)", tc.contest, ch.ID, got)
					continue
				}
				found++
				importertest.Equal(t, tc.contest+" "+ch.ID, got, want)
			}
			importertest.Equal(t, "choices found", found, len(tc.totals))
		})
	}
}

// TestWildNames checks what the real files' names become: party prefixes
// split off into the party, contests that elect more than they list.
func TestWildNames(t *testing.T) {
	choice := func(t *testing.T, m *events.Manifest, contest, id string) string {
		t.Helper()
		for _, ch := range importertest.Contest(t, m, contest).Choices {
			if ch.ID == id {
				return fmtChoice(ch)
			}
		}
		t.Fatalf("%s: no choice %q", contest, id)
		return ""
	}
	general := parse(t, readWild(t, "nj/cumberland/general.xml"), "general.xml", nil).Manifest
	importertest.Equal(t, "trump", choice(t, general, "president-and-vice-president", "donald-j-trump"), `donald-j-trump "Donald J. Trump" REP ["REP - Donald J. Trump" "Donald J. Trump"]`)
	importertest.Equal(t, "johnson", choice(t, general, "president-and-vice-president", "gary-johnson"), `gary-johnson "Gary Johnson" NON ["NON - Gary Johnson" "Gary Johnson"]`)
	importertest.Equal(t, "write-ins", choice(t, general, "president-and-vice-president", "personal-choice"), `personal-choice "Personal Choice"  ["Personal Choice"]`)
	importertest.Equal(t, "double space", choice(t, general, "local-boe-stow-creek-township", "scott-bonham"), `scott-bonham "Scott Bonham" NON ["NON - Scott  Bonham" "NON - Scott Bonham" "Scott Bonham"]`)

	primary := parse(t, readWild(t, "nj/cumberland/primary.xml"), "primary.xml", nil).Manifest
	council := importertest.Contest(t, primary, "dem-shiloh-borough-council")
	importertest.Equal(t, "council", fmt.Sprint(council.VoteFor, " of ", len(council.Choices)), "2 of 1")
	importertest.Equal(t, "entity", importertest.Contest(t, primary, "dem-president-1st-dist-delegates").Name, "DEM - President & 1st Dist Delegates")
	importertest.Equal(t, "trump", choice(t, primary, "rep-president", "donald-j-trump"), `donald-j-trump "Donald J. Trump" REP ["Donald J. Trump"]`)

	allegheny := parse(t, readWild(t, "pa/allegheny/detail.xml"), "detail.xml", nil).Manifest
	const hd21 = "representative-in-the-general-assembly-21st-district"
	importertest.Equal(t, "powell", choice(t, allegheny, hd21, "lindsay-powell"), `lindsay-powell "Lindsay Powell" DEM ["DEM Lindsay Powell" "Lindsay Powell"]`)
	importertest.Equal(t, "write-in", choice(t, allegheny, hd21, "write-in"), `write-in "Write-in" NON ["Write-in"]`)
}

// TestWildAgainstCSV checks that Cumberland County's Clarity export of the
// 2016 general gives the presidential candidates the IDs, parties and
// totals of the OpenElections precinct CSV of the same county, read here
// with encoding/csv and importer.Slug.
func TestWildAgainstCSV(t *testing.T) {
	imp := parse(t, readWild(t, "nj/cumberland/general.xml"), "general.xml", nil)
	rows, err := csv.NewReader(bytes.NewReader(readWild(t, "nj/20161108__nj__general__cumberland__precinct.csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // "id party" → votes
	sums := map[string]int64{}
	for _, r := range rows[1:] { // county,precinct,office,district,candidate,party,votes
		if r[2] != "President" {
			continue
		}
		n, err := strconv.ParseInt(r[6], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		sums[importer.Slug(r[4])+" "+r[5]] += n
	}
	for k, v := range sums {
		want[k] = strconv.FormatInt(v, 10)
	}
	c := counts(t, imp)
	got := map[string]string{}
	for _, ch := range importertest.Contest(t, imp.Manifest, "president-and-vice-president").Choices {
		got[ch.ID+" "+ch.Party] = strconv.FormatInt(total(c, key{contest: "president-and-vice-president", choice: ch.ID}), 10)
	}
	importertest.Equal(t, "choices", fmt.Sprint(got), fmt.Sprint(want))
}

// allegheny returns the Allegheny County file with each old string, which
// must occur exactly once, replaced by the new one.
func allegheny(t *testing.T, oldnew ...string) []byte {
	t.Helper()
	data := readWild(t, "pa/allegheny/detail.xml")
	for i := 0; i < len(oldnew); i += 2 {
		if n := bytes.Count(data, []byte(oldnew[i])); n != 1 {
			t.Fatalf("%q occurs %d times", oldnew[i], n)
		}
		data = bytes.Replace(data, []byte(oldnew[i]), []byte(oldnew[i+1]), 1)
	}
	return data
}

// cut returns data without the element that starts with open and ends with
// the first close after it.
func cut(t *testing.T, data []byte, open, close string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(open))
	j := bytes.Index(data[max(i, 0):], []byte(close))
	if i < 0 || j < 0 {
		t.Fatalf("no %s…%s", open, close)
	}
	return append(data[:i:i], data[i+j+len(close):]...)
}

// TestWildVariants parses real files changed the way other real files
// differ: no voteFor attribute, no turnout block (at county and at state
// level), markup in a contest's name.
func TestWildVariants(t *testing.T) {
	const hd21 = "representative-in-the-general-assembly-21st-district"
	check := func(t *testing.T, imp *importer.Import) {
		t.Helper()
		c := counts(t, imp)
		importertest.Equal(t, "powell", total(c, key{contest: hd21, choice: "lindsay-powell"}), 7_318)
		importertest.Equal(t, "autenreith", total(c, key{contest: hd21, choice: "erin-connolly-autenreith"}), 3_848)
		importertest.Equal(t, "write-in", total(c, key{contest: hd21, choice: "write-in"}), 27)
	}
	t.Run("no voteFor", func(t *testing.T) {
		imp := parse(t, allegheny(t, ` voteFor="1"`, ``), "detail.xml", nil)
		importertest.Equal(t, "vote for", importertest.Contest(t, imp.Manifest, hd21).VoteFor, 1)
		check(t, imp)
	})
	t.Run("no turnout", func(t *testing.T) {
		data := cut(t, readWild(t, "pa/allegheny/detail.xml"), "<VoterTurnout ", "</VoterTurnout>")
		imp := parse(t, data, "detail.xml", nil)
		m := imp.Manifest
		importertest.Equal(t, "contests", len(m.Contests), 1)
		importertest.Equal(t, "vote types", importertest.VoteTypes(m.VoteTypes), "election-day=Election Day, absentee=Absentee, provisional=Provisional")
		importertest.Equal(t, "units", len(m.Units), 80)
		importertest.Equal(t, "root", importertest.Units(m.Units[:2]), "allegheny=Allegheny(county), allegheny:etna-ward-1=Etna Ward 1(precinct<allegheny)")
		importertest.Equal(t, "scope", len(m.Contests[0].Units), 0) // every precinct
		importertest.Equal(t, "reports", len(imp.Reports), 79)
		check(t, imp)
	})
	t.Run("no turnout, state level", func(t *testing.T) {
		data := cut(t, readFile(t, "clarify_county.xml"), "<ElectionVoterTurnout ", "</ElectionVoterTurnout>")
		imp := parse(t, data, "county.xml", nil)
		m := imp.Manifest
		importertest.Equal(t, "contests", len(m.Contests), 1)
		importertest.Equal(t, "units", len(m.Units), 76)
		importertest.Equal(t, "root", importertest.Units(m.Units[:2]), "ar=AR(state), arkansas=Arkansas(county<ar)")
		importertest.Equal(t, "cotton", total(counts(t, imp), key{contest: "us-senate"}), 462_123)
	})
	t.Run("line break in a contest's name", func(t *testing.T) {
		imp := parse(t, allegheny(t, `text="Representative in the General Assembly, 21st District"`,
			`text="Representative in the General Assembly&lt;br&gt;21st District"`), "detail.xml", nil)
		importertest.Equal(t, "name", importertest.Contest(t, imp.Manifest, hd21).Name, "Representative in the General Assembly 21st District")
		check(t, imp)
	})
}

// TestWildTruncations cuts real files at 100 pseudo-random offsets each,
// anywhere before the root element's end tag is complete: XML cut there is
// not well-formed, so every cut must be refused with an *importer.Error,
// never accepted and never a panic.
func TestWildTruncations(t *testing.T) {
	for i, name := range []string{"pa/allegheny/detail.xml", "nj/cumberland/general.xml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := readWild(t, name)
			end := bytes.LastIndex(data, []byte("</ElectionResult>"))
			if end < 0 {
				t.Fatal("no </ElectionResult>")
			}
			end += len("</ElectionResult>") // data[:end] is the whole document
			rng := rand.New(rand.NewPCG(20161108, uint64(i)))
			for range 100 {
				n := rng.IntN(end)
				imp, err := parseNoPanic(t, data[:n], n)
				if err == nil {
					t.Fatalf("a cut at byte %d of %d was accepted: %d reports", n, len(data), len(imp.Reports))
				}
				// The refusal names the cut, not some consequence of it.
				if e := importertest.AsError(t, err); !strings.Contains(e.Msg, "truncated document") && !strings.HasPrefix(e.Msg, "malformed XML") && !(n == 0 && strings.HasPrefix(e.Msg, "empty file")) {
					t.Errorf("a cut at byte %d: %v", n, err)
				}
			}
		})
	}
}

func parseNoPanic(t *testing.T, data []byte, n int) (imp *importer.Import, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a cut at byte %d panicked: %v", n, r)
		}
	}()
	return clarity.Parse(bytes.NewReader(data), "x.xml", "test", nil)
}
