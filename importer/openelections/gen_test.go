package openelections_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
	"github.com/election-audit/ledger/internal/statewide"
)

// TestGenerated imports a statewide file under each layout and checks the
// sums by choice and by vote type.
func TestGenerated(t *testing.T) {
	for i, layout := range statewide.Layouts {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			counties, per := 150, 17
			if testing.Short() {
				counties = 20
			}
			data, want := statewide.Generate(layout, counties, per)
			imp, err := openelections.Parse(bytes.NewReader(data), "20261103__ga__general__precinct.csv", "gen", openelections.Options{})
			if err != nil {
				t.Fatal(err)
			}
			importertest.CheckValid(t, imp)
			for _, f := range imp.Findings {
				t.Errorf("finding: %s", f)
			}
			importertest.Equal(t, "precincts", kinds(imp.Manifest)["precinct"], want.Precincts)
			importertest.Equal(t, "counties", kinds(imp.Manifest)["county"], want.Counties)
			got := map[string]int64{}
			gotTypes := map[string]int64{}
			for _, r := range imp.Reports {
				for _, c := range r.Counts {
					gotTypes[c.VoteType] += c.Votes
					got[statewide.Key(r.Contest, c.Choice)] += c.Votes
				}
			}
			for _, d := range want.Diff(got, gotTypes) {
				t.Error(d)
			}
		})
	}
}

// BenchmarkParse parses a statewide precinct file of about 100,000 rows
// (150 counties, 2,550 precincts, 13 contests, 4 vote types).
func BenchmarkParse(b *testing.B) {
	data, want := statewide.Generate(statewide.Layouts[0], 150, 17)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openelections.Parse(bytes.NewReader(data), "20261103__ga__general__precinct.csv", "gen", openelections.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(want.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkImport is the import end to end short of the ledger: parse, then
// derive the events and encode each one. `ledger bench --import` measures
// it through the ledger.
func BenchmarkImport(b *testing.B) {
	data, want := statewide.Generate(statewide.Layouts[0], 150, 17)
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
	b.ReportMetric(float64(want.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
