package projections_test

import (
	"strings"
	"testing"

	"github.com/election-audit/ledger/projections"
)

// TestWriteTable: a race's choices by votes, most first, ties by name;
// turnout in the manifest's order; the party column when the manifest
// gives parties ("—" for a choice without), a line saying it gives none
// instead of an empty column.
func TestWriteTable(t *testing.T) {
	tally := &projections.Tally{Election: "e", Name: "E", Status: "unofficial-partial", Entries: 9, Contests: []projections.ContestTally{
		{ID: "a", Name: "Race A", VoteFor: 1, TotalVotes: 100, Choices: []projections.ChoiceTally{
			{ID: "abe", Name: "Abe Zed", Votes: 10, Share: "10.00"},
			{ID: "bo", Name: "Bo Young", Party: "REP", Votes: 45, Share: "45.00"},
			{ID: "cy", Name: "Cy Xu", Party: "DEM", Votes: 45, Share: "45.00"},
		}},
		{ID: "b", Name: "Race B", VoteFor: 1, TotalVotes: 30, Choices: []projections.ChoiceTally{
			{ID: "no", Name: "No", Votes: 10, Share: "33.33"},
			{ID: "yes", Name: "Yes", Votes: 20, Share: "66.67"},
		}},
		{ID: "t", Name: "Turnout", Kind: "turnout", Choices: []projections.ChoiceTally{
			{ID: "ballots", Name: "Ballots Cast", Votes: 130},
			{ID: "registered", Name: "Registered Voters", Votes: 500},
		}},
	}}
	var b strings.Builder
	if err := tally.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `E (e) — unofficial-partial, 9 entries

Race A — 0 of 0 units reported, 100 votes
    choice  party  votes   share
  Bo Young    REP     45  45.00%
     Cy Xu    DEM     45  45.00%
   Abe Zed      —     10  10.00%

Race B — 0 of 0 units reported, 30 votes
  choice  votes   share
     Yes     20  66.67%
      No     10  33.33%
  (party: none given in the manifest)

Turnout — turnout, 0 of 0 units reported
       Ballots Cast    130  
  Registered Voters    500  
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if tally.Contests[0].Choices[0].ID != "abe" {
		t.Error("WriteTable reordered the tally's choices")
	}
}
