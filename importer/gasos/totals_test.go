package gasos_test

import (
	"encoding/json"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

// TestTotals checks that both GA-06 exports are checked against their own
// totals, computed here from the counties' voteCount without the importer.
func TestTotals(t *testing.T) {
	for _, tc := range []struct{ file, election string }{
		{ga06.AprilFile, ga06.AprilElection},
		{ga06.JuneFile, ga06.JuneElection},
	} {
		t.Run(tc.file, func(t *testing.T) {
			imp := parseEmbedded(t, tc.file, tc.election)
			importertest.Equal(t, "totals", imp.Totals, ownTotals(t, readEmbedded(t, tc.file)))
			if imp.Totals.Choices == 0 {
				t.Error("no totals checked")
			}
		})
	}
	// The House race's official totals (internal/ga06/data/SOURCES.md) and,
	// in April, the 58,635 votes of State Senate District 32 in the file.
	importertest.Equal(t, "April", parseEmbedded(t, ga06.AprilFile, ga06.AprilElection).Totals,
		importer.Totals{Contests: 2, Choices: 26, Votes: 192_569 + 58_635})
	importertest.Equal(t, "June", parseEmbedded(t, ga06.JuneFile, ga06.JuneElection).Totals,
		importer.Totals{Contests: 1, Choices: 2, Votes: 134_799 + 125_517})
}

// ownTotals sums an export's county results by ballot item and option id.
func ownTotals(t *testing.T, data []byte) importer.Totals {
	t.Helper()
	var x struct {
		LocalResults []struct {
			BallotItems []struct {
				ID            json.RawMessage `json:"id"`
				BallotOptions []struct {
					ID        json.RawMessage `json:"id"`
					VoteCount int64           `json:"voteCount"`
				} `json:"ballotOptions"`
			} `json:"ballotItems"`
		} `json:"localResults"`
	}
	if err := json.Unmarshal(data, &x); err != nil {
		t.Fatal(err)
	}
	contests, choices := map[string]bool{}, map[[2]string]bool{}
	var tt importer.Totals
	for _, a := range x.LocalResults {
		for _, it := range a.BallotItems {
			contests[string(it.ID)] = true
			for _, o := range it.BallotOptions {
				choices[[2]string{string(it.ID), string(o.ID)}] = true
				tt.Votes += o.VoteCount
			}
		}
	}
	tt.Contests, tt.Choices = len(contests), len(choices)
	return tt
}
