package clarity_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/importertest"
)

const timestamp = "4/18/2017 11:21:23 PM EDT"

// xmlWriter writes Clarity XML with attribute values escaped.
type xmlWriter struct{ bytes.Buffer }

func (w *xmlWriter) line(indent int, format string, args ...any) {
	w.WriteString(strings.Repeat("    ", indent))
	for i, a := range args {
		if s, ok := a.(string); ok {
			var b bytes.Buffer
			if err := xmlEscape(&b, s); err != nil {
				panic(err)
			}
			args[i] = b.String()
		}
	}
	fmt.Fprintf(&w.Buffer, format, args...)
	w.WriteString("\r\n")
}

func xmlEscape(b *bytes.Buffer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	_, err := r.WriteString(b, s)
	return err
}

func header(w *xmlWriter, name, date, region string) {
	w.WriteString("<?xml version=\"1.0\"?>\r\n<!--Election result snapshot imported from Tabulation System\r\n-->\r\n<ElectionResult>\r\n")
	w.line(1, "<Timestamp>%s</Timestamp>", timestamp)
	w.line(1, "<ElectionName>%s</ElectionName>", name)
	w.line(1, "<ElectionDate>%s</ElectionDate>", date)
	w.line(1, "<Region>%s</Region>", region)
}

// clarityDate turns 2017-04-18 into 4/18/2017.
func clarityDate(t testing.TB, d string) string {
	day, err := time.Parse(time.DateOnly, d)
	if err != nil {
		t.Fatal(err)
	}
	return day.Format("1/2/2006")
}

// stateFile writes imp (an import with a state root and county units) as a
// state-level Clarity file: counties named without " County", choices by
// their first alias, one VoteType per vote type of the manifest.
func stateFile(t testing.TB, imp *importer.Import) []byte {
	m := imp.Manifest
	c := counts(t, imp)
	w := &xmlWriter{}
	header(w, m.Name, clarityDate(t, m.Date), strings.ToUpper(m.Units[0].ID))
	name := func(id string) string {
		i := slices.IndexFunc(m.Units, func(u events.Unit) bool { return u.ID == id })
		return strings.TrimSuffix(m.Units[i].Name, " County")
	}
	w.line(1, "<ElectionVoterTurnout>")
	w.line(2, "<Counties>")
	for _, u := range m.Units[1:] {
		w.line(3, `<County name="%s" precinctsParticipating="1" precinctsReported="1" precinctsReportingPercent="100.00" />`, name(u.ID))
	}
	w.line(2, "</Counties>")
	w.line(1, "</ElectionVoterTurnout>")
	for k, ct := range m.Contests {
		units := ct.Units
		if len(units) == 0 {
			for _, u := range m.Units[1:] {
				units = append(units, u.ID)
			}
		}
		w.line(1, `<Contest key="%d" text="%s" voteFor="%d" isQuestion="false" countiesParticipating="%d" countiesReported="%d">`, 100+k, ct.Name, ct.VoteFor, len(units), len(units))
		w.line(2, "<ParticipatingCounties>")
		for _, u := range units {
			w.line(3, `<County name="%s" precinctsParticipating="1" precinctsReported="1" precinctsReportingPercent="100.00" />`, name(u))
		}
		w.line(2, "</ParticipatingCounties>")
		for j, ch := range ct.Choices {
			w.line(2, `<Choice key="%d" text="%s" party="%s" totalVotes="%d">`, j+1, ch.Aliases[0], ch.Party, total(c, key{contest: ct.ID, choice: ch.ID}))
			for _, vt := range m.VoteTypes {
				w.line(3, `<VoteType name="%s" votes="%d">`, vt.Name, total(c, key{contest: ct.ID, choice: ch.ID, voteType: vt.ID}))
				for _, u := range units {
					w.line(4, `<County name="%s" votes="%d" />`, name(u), c[key{u, ct.ID, ch.ID, vt.ID}])
				}
				w.line(3, "</VoteType>")
			}
			w.line(2, "</Choice>")
		}
		w.line(1, "</Contest>")
	}
	w.WriteString("</ElectionResult>\r\n")
	return w.Bytes()
}

// split divides v over three precincts.
func split(v int64) [3]int64 { return [3]int64{v / 2, v / 3, v - v/2 - v/3} }

// countyFile writes the results of one county of imp as a county-level
// Clarity file with three precincts, "Precinct 1" to "Precinct 3", and a
// turnout made up from the votes.
func countyFile(t testing.TB, imp *importer.Import, county string) []byte {
	m := imp.Manifest
	c := counts(t, imp)
	i := slices.IndexFunc(m.Units, func(u events.Unit) bool { return u.ID == county })
	w := &xmlWriter{}
	header(w, m.Name, clarityDate(t, m.Date), m.Units[i].Name)
	w.line(1, `<VoterTurnout totalVoters="%d" ballotsCast="%d" voterTurnout="50.00">`, 3000, 1500)
	w.line(2, "<Precincts>")
	for p := 1; p <= 3; p++ {
		w.line(3, `<Precinct name="Precinct %d" totalVoters="1000" ballotsCast="500" voterTurnout="50.00" percentReporting="4" />`, p)
	}
	w.line(2, "</Precincts>")
	w.line(1, "</VoterTurnout>")
	for k, ct := range m.Contests {
		if len(ct.Units) > 0 && !slices.Contains(ct.Units, county) {
			continue
		}
		w.line(1, `<Contest key="%d" text="%s" voteFor="%d" isQuestion="false" precinctsReporting="3" precinctsReported="3">`, k+1, ct.Name, ct.VoteFor)
		w.line(2, `<VoteType name="Undervotes" votes="0">`)
		for p := 1; p <= 3; p++ {
			w.line(3, `<Precinct name="Precinct %d" votes="0" />`, p)
		}
		w.line(2, "</VoteType>")
		for j, ch := range ct.Choices {
			w.line(2, `<Choice key="%d" text="%s" party="%s" totalVotes="%d">`, j+1, ch.Aliases[0], ch.Party, total(c, key{unit: county, contest: ct.ID, choice: ch.ID}))
			for _, vt := range m.VoteTypes {
				v := c[key{county, ct.ID, ch.ID, vt.ID}]
				w.line(3, `<VoteType name="%s Votes" votes="%d">`, vt.Name, v)
				for p, x := range split(v) {
					w.line(4, `<Precinct name="Precinct %d" votes="%d" />`, p+1, x)
				}
				w.line(3, "</VoteType>")
			}
			w.line(2, "</Choice>")
		}
		w.line(1, "</Contest>")
	}
	w.WriteString("</ElectionResult>\r\n")
	return w.Bytes()
}

// bigFile writes a consistent state-level file with the given numbers of
// counties, contests, choices per contest and vote types: counties ×
// contests × choices × voteTypes County votes. Contest k is in every county
// if k is even, else in the counties c with c%3 != k%3.
func bigFile(counties, contests, choices, voteTypes int) (data []byte, leaves int) {
	vts := []string{"Election Day", "Advanced Voting", "Absentee by Mail", "Provisional", "Early Vote", "Absentee"}[:voteTypes]
	w := &xmlWriter{}
	w.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<ElectionResult>\r\n")
	w.line(1, "<Timestamp>%s</Timestamp>", "11/20/2024 3:37:06 PM EST")
	w.line(1, "<ElectionName>%s</ElectionName>", "General Election")
	w.line(1, "<ElectionDate>%s</ElectionDate>", "11/5/2024")
	w.line(1, "<Region>%s</Region>", "GA")
	w.line(1, `<ElectionVoterTurnout totalVoters="%d" ballotsCast="%d" voterTurnout="50.00">`, 10_000*counties, 5_000*counties)
	w.line(2, "<Counties>")
	for c := 0; c < counties; c++ {
		w.line(3, `<County name="County %d" totalVoters="10000" ballotsCast="5000" voterTurnout="50.00" precinctsParticipating="9" precinctsReported="9" precinctsReportingPercent="100.00" />`, c)
	}
	w.line(2, "</Counties>")
	w.line(1, "</ElectionVoterTurnout>")
	in := func(c, k int) bool { return k%2 == 0 || c%3 != k%3 }
	for k := 0; k < contests; k++ {
		w.line(1, `<Contest key="%d" text="Contest %d" voteFor="1" isQuestion="%t">`, k, k, k%7 == 6)
		w.line(2, "<ParticipatingCounties>")
		for c := 0; c < counties; c++ {
			if in(c, k) {
				w.line(3, `<County name="County %d" precinctsParticipating="9" precinctsReported="9" precinctsReportingPercent="100.00" />`, c)
			}
		}
		w.line(2, "</ParticipatingCounties>")
		for o := 0; o < choices; o++ {
			var byVT []int64
			var all int64
			for g := range vts {
				var s int64
				for c := 0; c < counties; c++ {
					if in(c, k) {
						s += int64((c*7+k*13+o*17+g*19)%1000 + 1)
					}
				}
				byVT = append(byVT, s)
				all += s
			}
			w.line(2, `<Choice key="%d" text="CANDIDATE %d-%d" party="P%d" totalVotes="%d">`, o, k, o, o%3, all)
			for g, name := range vts {
				w.line(3, `<VoteType name="%s" votes="%d">`, name, byVT[g])
				for c := 0; c < counties; c++ {
					if in(c, k) {
						w.line(4, `<County name="County %d" votes="%d" />`, c, (c*7+k*13+o*17+g*19)%1000+1)
						leaves++
					}
				}
				w.line(3, "</VoteType>")
			}
			w.line(2, "</Choice>")
		}
		w.line(1, "</Contest>")
	}
	w.WriteString("</ElectionResult>\r\n")
	return w.Bytes(), leaves
}

func TestBigFile(t *testing.T) {
	data, leaves := bigFile(159, 40, 5, 4)
	imp := parse(t, data, "big.xml", nil)
	m := imp.Manifest
	importertest.Equal(t, "units", len(m.Units), 160)
	importertest.Equal(t, "contests", len(m.Contests), 41)
	importertest.Equal(t, "findings", len(imp.Findings), 0)
	n := 0
	for _, r := range imp.Reports {
		if r.Contest != "turnout" {
			n += len(r.Counts)
		}
	}
	importertest.Equal(t, "counts", n, leaves)
	for k, c := range m.Contests[1:] {
		if k%2 == 0 {
			importertest.Equal(t, c.ID+" units", len(c.Units), 0)
		} else if len(c.Units) == 0 || len(c.Units) >= 159 {
			t.Errorf("%s: %d units, want a scope", c.ID, len(c.Units))
		}
	}
}

// TestLinearMemory checks that parsing a file four times as large
// allocates about four times as much, not sixteen.
func TestLinearMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	alloc := func(counties int) float64 {
		data, _ := bigFile(counties, 20, 5, 4)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := clarity.Parse(bytes.NewReader(data), "big.xml", "test", nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc - before.TotalAlloc)
	}
	small, large := alloc(100), alloc(400)
	if r := large / small; r > 6 {
		t.Errorf("4× the counties allocates %.1f× as much", r)
	}
}

func TestTooManyCounts(t *testing.T) {
	data, _ := bigFile(1, 1, events.MaxCountRows/4+1, 4)
	_, err := clarity.Parse(bytes.NewReader(data), "big.xml", "test", nil)
	e := importertest.AsError(t, err)
	if !strings.Contains(e.Msg, fmt.Sprintf("more than %d counts", events.MaxCountRows)) {
		t.Errorf("error %v", err)
	}
}

// BenchmarkParse parses a statewide file of about 100,000 County votes
// (159 counties, 32 contests, 5 choices, 4 vote types, a third of the odd
// contests' counties left out).
func BenchmarkParse(b *testing.B) {
	data, leaves := bigFile(159, 38, 5, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := clarity.Parse(bytes.NewReader(data), "big.xml", "bench", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(leaves)*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
	b.ReportMetric(float64(leaves), "elements")
}
