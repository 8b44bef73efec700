package nist_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/nist"
)

// TestTotals checks that Parse checks the reports against the file's own
// counts: NIST's example, summed here from its VoteCounts without the
// importer, and the April golden export, against the official figures.
func TestTotals(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := nist.Parse(bytes.NewReader(data), exampleFile, "gen-03")
	if err != nil {
		t.Fatal(err)
	}
	importertest.Equal(t, "example", imp.Totals, ownTotals(t, data))
	importertest.Equal(t, "example", imp.Totals, importer.Totals{Contests: 8, Choices: 22, Votes: 240}) // the county and its precincts

	// The House race is counted by the state (by vote type) and by each
	// county (a total); the Senate race's scope is Cobb and Fulton, so the
	// state's figures for it are a roll-up, checked and not reported.
	if imp, err = nist.Parse(bytes.NewReader(readFile(t, golden)), golden, "ga06-2017-04"); err != nil {
		t.Fatal(err)
	}
	importertest.Equal(t, "golden", imp.Totals, importer.Totals{Contests: 2, Choices: 26, Votes: 2*192_569 + 58_635})
}

// ownTotals sums the VoteCounts of a report whose every count is a
// selection's one total for a unit.
func ownTotals(t *testing.T, data []byte) importer.Totals {
	t.Helper()
	var x struct {
		Election []struct {
			Contest []struct {
				ID               string `json:"@id"`
				ContestSelection []struct {
					ID         string `json:"@id"`
					VoteCounts []struct {
						GpUnitID string `json:"GpUnitId"`
						Type     string
						Count    int64
					}
				}
			}
		}
	}
	if err := json.Unmarshal(data, &x); err != nil {
		t.Fatal(err)
	}
	var tt importer.Totals
	for _, c := range x.Election[0].Contest {
		tt.Contests++
		for _, s := range c.ContestSelection {
			tt.Choices++
			units := map[string]bool{}
			for _, v := range s.VoteCounts {
				if v.Type != "total" || units[v.GpUnitID] {
					t.Fatalf("%s, %s: not one total per unit", c.ID, s.ID)
				}
				units[v.GpUnitID] = true
				tt.Votes += v.Count
			}
		}
	}
	return tt
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
