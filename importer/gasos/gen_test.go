package gasos_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

// gen writes a consistent export with the given numbers of counties, ballot
// items and candidates per item. Item i is on the ballot in county c unless
// i is odd and c%3 == i%3; votes depend on (county, item, candidate, group).
func gen(counties, items, options int) []byte {
	groups := []string{"Election Day", "Absentee by Mail", "Advance in Person", "Provisional"}
	type group struct {
		GroupName string `json:"groupName"`
		VoteCount int64  `json:"voteCount"`
	}
	type option struct {
		ID           string  `json:"id"`
		Name         string  `json:"name"`
		Party        *string `json:"politicalParty"`
		VoteCount    int64   `json:"voteCount"`
		GroupResults []group `json:"groupResults"`
	}
	type item struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		VoteFor       int      `json:"voteFor"`
		BallotOptions []option `json:"ballotOptions"`
	}
	type area struct {
		Name        string `json:"name"`
		BallotItems []item `json:"ballotItems"`
	}
	onBallot := func(c, i int) bool { return i%2 == 0 || c%3 != i%3 }
	newItem := func(i int) item {
		it := item{ID: fmt.Sprint(1000 + i), Name: fmt.Sprintf("Contest %d", i), VoteFor: 1}
		for o := 0; o < options; o++ {
			it.BallotOptions = append(it.BallotOptions, option{ID: fmt.Sprint(o), Name: fmt.Sprintf("CANDIDATE %d-%d", i, o)})
		}
		return it
	}
	state := area{Name: "Georgia"}
	for i := 0; i < items; i++ {
		state.BallotItems = append(state.BallotItems, newItem(i))
	}
	var local []area
	for c := 0; c < counties; c++ {
		a := area{Name: fmt.Sprintf("County%d County", c)}
		for i := 0; i < items; i++ {
			if !onBallot(c, i) {
				continue
			}
			it := newItem(i)
			for o := range it.BallotOptions {
				for g, name := range groups {
					v := int64((c*7+i*13+o*17+g*19)%1000 + 1)
					it.BallotOptions[o].GroupResults = append(it.BallotOptions[o].GroupResults, group{name, v})
					it.BallotOptions[o].VoteCount += v
					so := &state.BallotItems[i].BallotOptions[o]
					if len(so.GroupResults) < len(groups) {
						so.GroupResults = append(so.GroupResults, group{name, 0})
					}
					so.GroupResults[g].VoteCount += v
					so.VoteCount += v
				}
			}
			a.BallotItems = append(a.BallotItems, it)
		}
		local = append(local, a)
	}
	b, err := json.Marshal(map[string]any{
		"electionDate": "2024-11-05", "electionName": "General Election",
		"results": state, "localResults": local,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// TestGenerated parses a statewide-sized export: 159 counties, 40 contests,
// half of them in only some counties.
func TestGenerated(t *testing.T) {
	const counties, items, options = 159, 40, 5
	imp, err := gasos.Parse(bytes.NewReader(gen(counties, items, options)), "gen.json", "ga-2024-11")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	m := imp.Manifest
	importertest.Equal(t, "units", len(m.Units), 1+counties)
	importertest.Equal(t, "county 158", m.Units[159].ID, "county158")
	importertest.Equal(t, "contests", len(m.Contests), items)
	reports := 0
	for i, c := range m.Contests {
		importertest.Equal(t, "contest id", c.ID, fmt.Sprintf("contest-%d", i))
		want := 0
		for cty := 0; cty < counties; cty++ {
			if i%2 == 0 || cty%3 != i%3 {
				want++
			}
		}
		reports += want
		if i%2 == 0 {
			importertest.Equal(t, c.ID+" units", len(c.Units), 0)
		} else {
			importertest.Equal(t, c.ID+" units", len(c.Units), want)
		}
	}
	importertest.Equal(t, "reports", len(imp.Reports), reports)
	for _, r := range imp.Reports {
		importertest.Equal(t, "counts", len(r.Counts), options*4)
	}
}

func TestTooManyCounts(t *testing.T) {
	_, err := gasos.Parse(bytes.NewReader(gen(1, 1, events.MaxCountRows/4+1)), "gen.json", "x")
	e := importertest.AsError(t, err)
	if !strings.Contains(e.Msg, "too many for one report") {
		t.Errorf("error %v", err)
	}
}

// TestNameGrows has an upper-case name whose lower case is longer in bytes
// than the limit: the name is kept as given.
func TestNameGrows(t *testing.T) {
	long := "A" + strings.Repeat("Ⱥ", 127) // 255 bytes; "ⱥ" is 3 bytes
	input := edit(t, `"name":"BOB JONES","politicalParty":null,"voteCount":2220`, `"name":"`+long+`","politicalParty":null,"voteCount":2220`,
		`{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":222,`, `{"id":"11","name":"`+long+`","politicalParty":null,"voteCount":222,`,
		`{"id":"11","name":"BOB JONES","politicalParty":null,"voteCount":1998,`, `{"id":"11","name":"`+long+`","politicalParty":null,"voteCount":1998,`)
	imp, err := gasos.Parse(strings.NewReader(input), "x.json", "x")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	importertest.Equal(t, "name", imp.Manifest.Contests[0].Choices[1].Name, long)
}

func BenchmarkParseApril(b *testing.B) {
	data := readEmbedded(b, ga06.AprilFile)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := gasos.Parse(bytes.NewReader(data), ga06.AprilFile, ga06.AprilElection); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGenerated(b *testing.B) {
	data := gen(159, 40, 5)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := gasos.Parse(bytes.NewReader(data), "gen.json", "x"); err != nil {
			b.Fatal(err)
		}
	}
}
