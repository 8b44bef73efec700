package openelections_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
)

// genContest is one contest of the generated ballot.
type genContest struct {
	office   string
	district func(county int) string
	cands    [][2]string // name, party
}

var genBallot = []genContest{
	{"Voters", nil, [][2]string{{"Registered", ""}, {"Ballots Cast", ""}}},
	{"President", nil, [][2]string{{"ANN ADAMS", "DEM"}, {"BOB BAKER", "REP"}, {"CAROL CHAVEZ", "LIB"}, {"DAN DIAZ", "GRN"}, {"Write-ins", ""}, {"Over Votes", ""}, {"Under Votes", ""}}},
	{"U.S. Senate", nil, [][2]string{{"ED EVANS", "DEM"}, {"FAY FOSTER", "REP"}, {"GUS GRAY", "LIB"}, {"Write-ins", ""}}},
	{"U.S. House", func(c int) string { return strconv.Itoa(c%14 + 1) }, [][2]string{{"HAL HILL", "DEM"}, {"IDA IRWIN", "REP"}, {"Write-ins", ""}}},
	{"Governor", nil, [][2]string{{"JAN JONES", "DEM"}, {"KIM KING", "REP"}, {"LEE LOPEZ", "LIB"}, {"Write-ins", ""}}},
	{"Lieutenant Governor", nil, [][2]string{{"MAY MOORE", "DEM"}, {"NED NASH", "REP"}, {"Write-ins", ""}}},
	{"Secretary of State", nil, [][2]string{{"OLA OWENS", "DEM"}, {"PAT PRICE", "REP"}, {"Write-ins", ""}}},
	{"State Senate", func(c int) string { return strconv.Itoa(c%56 + 1) }, [][2]string{{"QUIN QUICK", "DEM"}, {"ROY REED", "REP"}, {"Write-ins", ""}}},
	{"State House", func(c int) string { return strconv.Itoa(c + 1) }, [][2]string{{"SAM SHAW", "DEM"}, {"TIA TATE", "REP"}, {"Write-ins", ""}}},
	{"Constitutional Amendment 1", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 2", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 3", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 4", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
}

// genLayout is a header layout of real OpenElections files: the column
// names, each one of the fields below or a vote type.
type genLayout []string

var genLayouts = []genLayout{
	{"county", "precinct", "office", "district", "party", "candidate", "votes", "election_day", "absentee_by_mail", "advance_in_person", "provisional"},
	{"County", "Precinct Name", "Office", "District", "Candidate", "Party", "Election Day", "Absentee by Mail", "Advance in Person", "Provisional", "Total Votes"},
	{"precinct", "county", "candidate", "party", "office", "district", "early_voting", "election_day", "mail", "votes"},
	{"county", "precinct", "office", "district", "candidate", "party", "votes"},
}

// genWant is what a generated file must import to.
type genWant struct {
	rows, precincts int
	votes           map[string]int64 // "office|candidate" → votes
	voteTypes       map[string]int64 // vote type ID → votes over all contests
}

// gen writes a statewide precinct file: counties × precinctsPer precincts,
// every contest of genBallot in every precinct (district contests by
// county), then a TOTAL roll-up row per county, contest and candidate.
func gen(layout genLayout, counties, precinctsPer int) ([]byte, genWant) {
	want := genWant{votes: map[string]int64{}, voteTypes: map[string]int64{}}
	var buf bytes.Buffer
	buf.WriteString(strings.Join(layout, ",") + "\n")
	var vtCols []string
	for _, col := range layout {
		switch strings.ToLower(strings.ReplaceAll(col, " ", "_")) {
		case "county", "precinct", "precinct_name", "office", "district", "party", "candidate":
		case "votes", "total_votes":
		default:
			vtCols = append(vtCols, col)
		}
	}
	vtIDs := map[string]string{"election_day": "election-day", "Election Day": "election-day", "absentee_by_mail": "absentee-by-mail",
		"Absentee by Mail": "absentee-by-mail", "advance_in_person": "advance-in-person", "Advance in Person": "advance-in-person",
		"provisional": "provisional", "Provisional": "provisional", "early_voting": "early-voting", "mail": "mail"}
	seed := uint64(1)
	rnd := func(n int) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64(seed>>33) % int64(n)
	}
	fields := map[string]string{}
	write := func(county, precinct, office, district, cand, party string, vts []int64, votes int64) {
		fields["county"], fields["precinct"], fields["office"], fields["district"] = county, precinct, office, district
		fields["candidate"], fields["party"] = cand, party
		for i, col := range layout {
			if i > 0 {
				buf.WriteByte(',')
			}
			key := strings.ToLower(strings.ReplaceAll(col, " ", "_"))
			switch key {
			case "precinct_name":
				key = "precinct"
			case "votes", "total_votes":
				buf.WriteString(strconv.FormatInt(votes, 10))
				continue
			}
			if v, ok := fields[key]; ok {
				buf.WriteString(v)
				continue
			}
			for j, vc := range vtCols {
				if vc == col {
					buf.WriteString(strconv.FormatInt(vts[j], 10))
				}
			}
		}
		buf.WriteByte('\n')
		want.rows++
	}
	vts := make([]int64, len(vtCols))
	for c := range counties {
		county := fmt.Sprintf("Countyname%03d", c)
		sums := map[string][]int64{}
		for p := range precinctsPer {
			precinct := fmt.Sprintf("PRECINCT %04d", c*precinctsPer+p)
			want.precincts++
			for _, ct := range genBallot {
				district := ""
				if ct.district != nil {
					district = ct.district(c)
				}
				for _, cand := range ct.cands {
					var total int64
					for j := range vts {
						vts[j] = rnd(400)
						total += vts[j]
					}
					if len(vts) == 0 {
						total = rnd(1000)
					}
					write(county, precinct, ct.office, district, cand[0], cand[1], vts, total)
					key := ct.office + "|" + district + "|" + cand[0]
					if sums[key] == nil {
						sums[key] = make([]int64, len(vts)+1)
					}
					sums[key][0] += total
					for j, v := range vts {
						sums[key][j+1] += v
						want.voteTypes[vtIDs[vtCols[j]]] += v
					}
					if len(vts) == 0 {
						want.voteTypes["total"] += total
					}
					want.votes[ct.office+"|"+cand[0]] += total
				}
			}
		}
		for _, ct := range genBallot {
			district := ""
			if ct.district != nil {
				district = ct.district(c)
			}
			for _, cand := range ct.cands {
				s := sums[ct.office+"|"+district+"|"+cand[0]]
				copy(vts, s[1:])
				write(county, "TOTAL", ct.office, district, cand[0], cand[1], vts, s[0])
			}
		}
	}
	return buf.Bytes(), want
}

// genTarget is the turnout contest and choice a generated row goes to, or
// "" for a race.
func genTarget(office, cand string) (contest, choice string) {
	switch {
	case office == "Voters":
		return "turnout", map[string]string{"Registered": "registered", "Ballots Cast": "ballots-cast"}[cand]
	case cand == "Over Votes" || cand == "Under Votes":
		return "president-turnout", map[string]string{"Over Votes": "over-votes", "Under Votes": "under-votes"}[cand]
	}
	return "", ""
}

// TestGenerated imports a statewide file under each layout and checks the
// sums by choice and by vote type.
func TestGenerated(t *testing.T) {
	for i, layout := range genLayouts {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			counties, per := 150, 17
			if testing.Short() {
				counties = 20
			}
			data, want := gen(layout, counties, per)
			imp, err := openelections.Parse(bytes.NewReader(data), "20261103__ga__general__precinct.csv", "gen", openelections.Options{})
			if err != nil {
				t.Fatal(err)
			}
			importertest.CheckValid(t, imp)
			for _, f := range imp.Findings {
				t.Errorf("finding: %s", f)
			}
			importertest.Equal(t, "precincts", kinds(imp.Manifest)["precinct"], want.precincts)
			importertest.Equal(t, "counties", kinds(imp.Manifest)["county"], counties)
			got := map[string]int64{}
			gotTypes := map[string]int64{}
			choices := map[string]string{} // contest/choice ID → "office|candidate" of the generator
			for _, ct := range genBallot {
				for _, cand := range ct.cands {
					contest, choice := genTarget(ct.office, cand[0])
					if contest == "" {
						continue
					}
					choices[contest+"/"+choice] = ct.office + "|" + cand[0]
				}
			}
			// Races: the contest ID is the office's slug, with "-" and the
			// district for district contests.
			offices := map[string]string{}
			for _, ct := range genBallot {
				slug := strings.ToLower(strings.NewReplacer(".", "", " ", "-").Replace(ct.office))
				if ct.district != nil {
					slug += "-*"
				}
				offices[slug] = ct.office
			}
			for _, r := range imp.Reports {
				office, ok := offices[r.Contest]
				if i := strings.LastIndexByte(r.Contest, '-'); !ok && i > 0 {
					office = offices[r.Contest[:i]+"-*"]
				}
				for _, c := range r.Counts {
					gotTypes[c.VoteType] += c.Votes
					if k, ok := choices[r.Contest+"/"+c.Choice]; ok {
						got[k] += c.Votes
						continue
					}
					cand := strings.ToUpper(strings.ReplaceAll(c.Choice, "-", " "))
					switch c.Choice {
					case "write-ins":
						cand = "Write-ins"
					case "yes", "no":
						cand = strings.ToUpper(cand[:1]) + c.Choice[1:]
					}
					got[office+"|"+cand] += c.Votes
				}
			}
			for k, v := range want.votes {
				importertest.Equal(t, k, got[k], v)
			}
			for k, v := range want.voteTypes {
				importertest.Equal(t, "vote type "+k, gotTypes[k], v)
			}
			importertest.Equal(t, "vote types", len(gotTypes), len(want.voteTypes))
		})
	}
}

// BenchmarkParse parses a statewide precinct file of about 100,000 rows
// (150 counties, 2,550 precincts, 13 contests, 4 vote types).
func BenchmarkParse(b *testing.B) {
	data, want := gen(genLayouts[0], 150, 17)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openelections.Parse(bytes.NewReader(data), "20261103__ga__general__precinct.csv", "gen", openelections.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(want.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkImport is the import end to end short of the ledger: parse, then
// derive the events and encode each one.
func BenchmarkImport(b *testing.B) {
	data, want := gen(genLayouts[0], 150, 17)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		imp, err := openelections.Parse(bytes.NewReader(data), "20261103__ga__general__precinct.csv", "gen", openelections.Options{})
		if err != nil {
			b.Fatal(err)
		}
		evs, err := imp.Events(true)
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range evs {
			if _, err := ev.Encode(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(want.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
