package formats_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/importer/openelections"
	"github.com/election-audit/ledger/projections"
)

// corpusDir holds real results files as published (../shared/data: wild/
// from several states, ga06-2017/ from Georgia), each with its independent
// totals in its SOURCES.md.
const corpusDir = "../../../shared/data"

// corpusCase is one import of the corpus: the files, and either the totals
// of SOURCES.md it must give or the refusal it must give, and why that
// refusal is right.
type corpusCase struct {
	name   string
	format string
	files  []string // under corpusDir
	opts   func(*formats.Options)
	date   string
	// totals: contest ID → choice ID → votes, as SOURCES.md gives them.
	totals map[string]map[string]int64
	// refused: part of the error; where: the error's Where; reason: why
	// the file is damaged in its own terms.
	refused, where, reason string
}

type votes = map[string]map[string]int64

func prefer(p string) func(*formats.Options) {
	return func(o *formats.Options) { o.OpenElections.Prefer = p }
}

func trustLastLine(o *formats.Options) { o.OpenElections.TrustLastLine = true }

var corpus = []corpusCase{
	// Georgia, GA-06 2017 (ga06-2017/SOURCES.md).
	{name: "GA-06 April, SOS export", format: formats.GASOS, files: []string{"ga06-2017/export-2017AprSpec.json"}, date: "2017-04-18",
		totals: votes{"us-representative-district-6": {"jon-ossoff": 92673, "karen-handel": 38071, "bob-gray": 20802, "dan-moody": 17028, "judson-hill": 16870, "kurt-wilson": 1820, "david-abroms": 1639}}},
	{name: "GA-06 June, SOS export", format: formats.GASOS, files: []string{"ga06-2017/export-2017JunSpecRun.json"}, date: "2017-06-20",
		totals: votes{"us-representative-district-6": {"karen-handel": 134799, "jon-ossoff": 125517}}},
	{name: "GA-06 June, three county precinct files", format: formats.OpenElections, date: "2017-06-20",
		files: []string{
			"ga06-2017/20170620__ga__special__general__runoff__cobb__precinct.csv",
			"ga06-2017/20170620__ga__special__general__runoff__dekalb__precinct.csv",
			"ga06-2017/20170620__ga__special__general__runoff__fulton__precinct.csv",
		},
		totals: votes{"us-house-6": {"karen-handel": 134799, "jon-ossoff": 125517}}},

	// Pennsylvania.
	{name: "PA Luzerne 2024 precincts", format: formats.OpenElections, files: []string{"wild/pa/20241105__pa__general__luzerne__precinct.csv"}, date: "2024-11-05",
		totals: votes{"president": {"harris-walz": 62504, "trump-vance": 92444, "oliver-maat": 640, "stein-ware": 562, "write-ins": 282}}},
	{name: "PA Carbon 2018 precincts", format: formats.OpenElections, files: []string{"wild/pa/20181106__pa__general__carbon__precinct.csv"},
		refused: "in 8 row(s) the vote-type columns do not sum to \"votes\"", where: "line 594",
		reason: "8 rows' vote-type columns contradict their votes column (line 594: Wagner/Bartos 135 by vote type, 143 in votes); the votes column agrees with the county file"},
	{name: "PA Carbon 2018 precincts, --prefer votes", format: formats.OpenElections, files: []string{"wild/pa/20181106__pa__general__carbon__precinct.csv"}, opts: prefer(openelections.PreferVotes), date: "2018-11-06",
		totals: votes{"governor": {"tom-wolf": 9659, "wagner-bartos": 12476, "krawchuk-smith": 267, "glover-bowserbos": 140},
			"us-senate": {"bob-casey-jr": 8739, "lou-barletta": 13519, "dale-r-kerns-jr": 197, "neal-gale": 119}}},
	{name: "PA 2018 counties", format: formats.OpenElections, files: []string{"wild/pa/20181106__pa__general__county.csv"},
		refused: "the file's last line has no line end and ends in a count (\"19632\")", where: `line 1321, column "votes"`,
		reason: "no line end after the last count, and nothing in the file confirms it: a file cut inside that number would read the same"},
	{name: "PA 2018 counties, --trust-last-line", format: formats.OpenElections, files: []string{"wild/pa/20181106__pa__general__county.csv"}, opts: trustLastLine, date: "2018-11-06",
		totals: votes{"governor": {"thomas-w-wolf": 2895652, "scott-r-wagner": 2039882, "kenneth-v-krawchuk": 49229, "paul-glover": 27792},
			"us-senate": {"robert-p-casey-jr": 2792437, "louis-j-barletta": 2134848, "dale-r-kerns-jr": 50907, "neal-taylor-gale": 31208}}},

	{name: "PA Luzerne 2024 Clarity", format: formats.Clarity, files: []string{"wild/pa/luzerne/detail.xml"}, date: "2024-11-05",
		totals: votes{"presidential-electors": {"harris-walz": 62504, "trump-vance": 92444, "oliver-maat": 640, "stein-ware": 562, "write-in": 282}}},
	{name: "PA Allegheny HD-21 2023 Clarity", format: formats.Clarity, files: []string{"wild/pa/allegheny/detail.xml"}, date: "2023-09-19",
		totals: votes{"representative-in-the-general-assembly-21st-district": {"lindsay-powell": 7318, "erin-connolly-autenreith": 3848, "write-in": 27}}},

	// New Jersey.
	{name: "NJ Cumberland 2016 Clarity", format: formats.Clarity, files: []string{"wild/nj/cumberland/general.xml"}, date: "2016-11-08",
		totals: votes{"president-and-vice-president": {"hillary-rodham-clinton": 27771, "donald-j-trump": 24453, "gary-johnson": 1043, "jill-stein": 489, "darrell-castle": 104, "gloria-la-riva": 56, "rocky-roque-de-la-fuente": 35, "alyson-kennedy": 31, "monica-moorehead": 22, "personal-choice": 327}}},
	{name: "NJ Cumberland 2016 primary Clarity", format: formats.Clarity, files: []string{"wild/nj/cumberland/primary.xml"}, date: "2016-06-07",
		totals: votes{"rep-president": {"donald-j-trump": 4957, "john-r-kasich": 591, "ted-cruz": 441}}},
	{name: "NJ Cumberland 2016 precincts", format: formats.OpenElections, files: []string{"wild/nj/20161108__nj__general__cumberland__precinct.csv"}, date: "2016-11-08",
		totals: votes{"president": {"hillary-rodham-clinton": 27771, "donald-j-trump": 24453, "gary-johnson": 1043, "jill-stein": 489, "darrell-castle": 104, "gloria-la-riva": 56, "rocky-roque-de-la-fuente": 35, "alyson-kennedy": 31, "monica-moorehead": 22, "personal-choice": 327}}},
	{name: "NJ 2016 counties", format: formats.OpenElections, files: []string{"wild/nj/20161108__nj__general.csv"}, date: "2016-11-08",
		totals: votes{"president": {"hillary-rodham-clinton": 2148278, "donald-j-trump": 1601933, "gary-johnson": 72477, "jill-stein": 37772, "darrell-castle": 6161}}},
	{name: "NJ Middlesex 2020 precincts", format: formats.OpenElections, files: []string{"wild/nj/20201103__nj__general__middlesex__precinct.csv"}, date: "2020-11-03",
		totals: votes{"president": {"joseph-r-biden": 226250, "donald-j-trump": 143467, "jo-jorgensen": 2554}}},

	// Texas.
	{name: "TX Hays 2022 primaries (Latin-1)", format: formats.OpenElections, files: []string{"wild/tx/20220301__tx__primary__hays__precinct.csv"}, date: "2022-03-01",
		totals: votes{"governor-rep": {"greg-abbott": 10337, "allen-b-west": 2521, "don-huffines": 1489},
			"governor-dem": {"beto-orourke": 12317, "joy-diaz": 452}}},
	{name: "TX Jefferson 2012 precincts", format: formats.OpenElections, files: []string{"wild/tx/20121106__tx__general__jefferson__precinct.csv"},
		refused: "in 5472 row(s) the vote-type columns do not sum to \"votes\"", where: "line 228",
		reason: "the vote matrix is misaligned (SOURCES.md): 5,472 of 5,885 rows' vote types do not sum to their votes"},
	{name: "TX Hamilton 2012 precincts", format: formats.OpenElections, files: []string{"wild/tx/20121106__tx__general__hamilton__precinct.csv"}, date: "2012-11-06",
		totals: votes{"president": {"mitt-romney-paul-ryan": 2918, "barack-obama-joe-biden": 591, "gary-johnson-jim-gray": 35, "jill-stein-cheri-honkala": 7}}},
	{name: "TX 2012 counties", format: formats.OpenElections, files: []string{"wild/tx/20121106__tx__general__county.csv"},
		refused: `"DEM" is not a number`, where: `line 5286, column "votes"`,
		reason: "line 5286 is shifted by one column: its party code stands in the votes column and a percentage in pct"},
	{name: "TX 2012 statewide", format: formats.OpenElections, files: []string{"wild/tx/20121106__tx__general.csv"}, date: "2012-11-06",
		totals: votes{"president-vicepresident": {"mitt-romney-paul-ryan": 4569843, "barack-obama-joe-biden": 3308124, "gary-johnson-jim-gray": 88580, "jill-stein-cheri-honkala": 24657},
			"president-vicepresident-turnout": {"total-votes": 7993851},
			"us-senate":                       {"ted-cruz": 4440137, "paul-sadler": 3194927, "john-jay-myers": 162354, "david-b-collins": 67404}}},

	// Ohio.
	{name: "OH HD-8 2016 precincts (CR line ends)", format: formats.OpenElections, files: []string{"wild/oh/20160607__oh__special__general__house__8__precinct.csv"}, date: "2016-06-07",
		totals: votes{"us-house-8": {"warren-davidson": 21618, "corey-foister": 5937, "james-j-condit-jr": 607}}},
	{name: "OH HD-8 2016 counties", format: formats.OpenElections, files: []string{"wild/oh/20160607__oh__special__general__house__8.csv"},
		refused: "the file's last line has no line end and ends in a count (\"319\")", where: `line 19, column "votes"`,
		reason: "no line end after the last count, and nothing in the file confirms it"},
	{name: "OH HD-8 2016 counties, --trust-last-line", format: formats.OpenElections, files: []string{"wild/oh/20160607__oh__special__general__house__8.csv"}, opts: trustLastLine, date: "2016-06-07",
		totals: votes{"us-house-8": {"warren-davidson": 21618, "corey-foister": 5937, "james-j-condit-jr": 607}}},

	// South Carolina.
	{name: "SC 2020 statewide precincts", format: formats.OpenElections, files: []string{"wild/sc/20201103__sc__general__precinct.csv"}, date: "2020-11-03",
		totals: votes{"president": {"donald-j-trump-michael-r-pence": 1385103, "joseph-r-biden-kamala-d-harris": 1091541, "jo-jorgensen-jeremy-spike-cohen": 27916, "howie-hawkins-angela-walker": 6907,
			"aln-roque-rocky-de-la-fuente-darcy-g-richardson": 1833, "aln-roque-de-la-fuente-darcy-g-richa": 29},
			"us-senate": {"lindsey-graham": 1369137, "jaime-harrison": 1110828, "bill-bledsoe": 32845}}},

	// Wisconsin.
	{name: "WI 2016 spring primary wards", format: formats.OpenElections, files: []string{"wild/wi/20160216__wi__primary__ward.csv"}, date: "2016-02-16",
		totals: votes{"supreme-court": {"rebecca-g-bradley": 252932, "joanne-f-kloppenburg": 244729, "joe-donald": 68746, "scattering": 631}}},

	// Michigan.
	{name: "MI 2020 counties", format: formats.OpenElections, files: []string{"wild/mi/20201103__mi__general__county.csv"},
		refused: "missing: which contest are this row's votes of?", where: `line 466, column "office"`,
		reason: "rows without an office (Wayne, Unresolved Write-In), and Wayne's State House 4 twice with other counts (lines 512, 517): the file lost contest names"},
	{name: "MI Iron 2020 precincts", format: formats.OpenElections, files: []string{"wild/mi/20201103__mi__general__iron__precinct.csv"}, date: "2020-11-03",
		totals: votes{"president": {"donald-j-trump": 4216, "joseph-r-biden": 2493, "jo-jorgensen": 54, "howie-hawkins": 14},
			"us-senate": {"john-james": 4063, "gary-peters": 2554}}},
	{name: "MI Kalkaska 2020 precincts", format: formats.OpenElections, files: []string{"wild/mi/20201103__mi__general__kalkaska__precinct.csv"}, date: "2020-11-03",
		totals: votes{"president": {"donald-j-trump": 7436, "joseph-r-biden": 3003, "jo-jorgensen": 142}}},

	// Iowa.
	{name: "IA Boone 2018 precincts", format: formats.OpenElections, files: []string{"wild/ia/20181106__ia__general__boone__precinct.csv"}, date: "2018-11-06",
		totals: votes{"governor": {"kim-reynolds-adam-gregg": 6107, "fred-hubbell-rita-r-hart": 5810, "jake-porter-lynne-gentry": 208, "gary-siegwarth-natalia-blaskovich": 71, "write-ins": 5}}},
	{name: "IA 2018 counties", format: formats.OpenElections, files: []string{"wild/ia/20181106__ia__general__county.csv"}, date: "2018-11-06",
		totals: votes{"governor-lt-gov": {"kim-reynolds-adam-gregg": 667275, "fred-hubbell-rita-r-hart": 630986, "jake-porter-lynne-gentry": 21426, "gary-siegwarth-natalia-blaskovich": 7463}}},
	{name: "IA Black Hawk 2018 primaries", format: formats.OpenElections, files: []string{"wild/ia/20180605__ia__primary__federal__black_hawk__precinct.csv"}, date: "2018-06-05",
		totals: votes{"governor-dem": {"fred-hubbell": 3885, "cathy-glasson": 1339, "john-norris": 782}}},
}

// TestCorpus imports every real file of the corpus: each gives the totals
// of its SOURCES.md, or the refusal written here with its reason.
func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("the corpus is not here (%v): it lives beside the repository, in shared/data", err)
	}
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := parse(t, tc, "corpus-test")
			if tc.refused != "" {
				if err == nil {
					t.Fatalf("imported (%d reports), but the file is damaged: %s", len(imp.Reports), tc.reason)
				}
				e, ok := err.(*importer.Error)
				if !ok {
					t.Fatalf("refused with %T %v, want an *importer.Error naming the line", err, err)
				}
				if e.Where != tc.where || !strings.Contains(e.Msg, tc.refused) {
					t.Fatalf("refused with\n  %v\nwant where %q and a message containing %q", err, tc.where, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if imp.Manifest.Date != tc.date {
				t.Errorf("date %s, want %s", imp.Manifest.Date, tc.date)
			}
			got := map[string]map[string]int64{}
			for _, r := range imp.Reports {
				if tc.totals[r.Contest] == nil {
					continue
				}
				if got[r.Contest] == nil {
					got[r.Contest] = map[string]int64{}
				}
				for _, c := range r.Counts {
					got[r.Contest][c.Choice] += c.Votes
				}
			}
			for contest, want := range tc.totals {
				if got[contest] == nil {
					t.Errorf("no reports for contest %q", contest)
					continue
				}
				for choice, n := range want {
					if got[contest][choice] != n {
						t.Errorf("%s, %s: %d votes, want %d", contest, choice, got[contest][choice], n)
					}
				}
			}
			if imp.Totals.Votes == 0 {
				t.Error("the import's totals were not checked against the file's own")
			}
			// Logged, every report is accepted by the election's rules, and
			// reconciliation names no unit as unreported: a whole file
			// reports every unit that votes in each contest.
			p, err := projections.New(imp.Election, imp.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Apply(&events.Entry{Verdict: events.Accepted, Event: &events.Event{Election: imp.Election, Body: imp.Manifest}}); err != nil {
				t.Fatal(err)
			}
			for i, r := range imp.Reports {
				ev := &events.Event{Election: imp.Election, Body: r}
				if rj := p.Check(ev); rj != nil {
					t.Fatalf("report %d (%s, %s) would be rejected: %s", i, r.Unit, r.Contest, rj.Reason)
				}
				if err := p.Apply(&events.Entry{Index: uint64(i + 1), Verdict: events.Accepted, Event: ev}); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range p.Reconcile().Unreported {
				t.Errorf("reconciliation: contest %s has %d of %d units unreported (%v…)", u.Contest, u.Count, u.UnitsTotal, u.Units[:min(3, len(u.Units))])
			}
		})
	}
}

// parse reads a case's files and parses them as election.
func parse(t *testing.T, tc corpusCase, election string) (*importer.Import, error) {
	t.Helper()
	var paths []string
	for _, f := range tc.files {
		paths = append(paths, filepath.Join(corpusDir, f))
	}
	files, err := formats.ReadFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	var opts formats.Options
	if tc.opts != nil {
		tc.opts(&opts)
	}
	return formats.Parse(tc.format, files, election, opts)
}

// parseCase is parse for a case that imports.
func parseCase(t *testing.T, tc corpusCase, election string) *importer.Import {
	t.Helper()
	imp, err := parse(t, tc, election)
	if err != nil {
		t.Fatalf("%s: %v", tc.name, err)
	}
	return imp
}

// TestCorpusComplete: every results file of the corpus has a case, so that a
// file added to shared/data is tried before anything else is claimed.
func TestCorpusComplete(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("the corpus is not here (%v)", err)
	}
	tabled := map[string]bool{}
	for _, tc := range corpus {
		for _, f := range tc.files {
			tabled[f] = true
		}
	}
	err := filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".csv", ".xml", ".json":
			rel, _ := filepath.Rel(corpusDir, path)
			if !tabled[filepath.ToSlash(rel)] {
				t.Errorf("%s has no case in the corpus table", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
