package nist_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/projections"
)

// Export the runoff's county results as a NIST report, and read it back.
func ExampleExport() {
	imp, err := ga06.June()
	if err != nil {
		fmt.Println(err)
		return
	}
	// Fold the reports into a projection, as the ledger does.
	e, err := projections.New(imp.Election, imp.Manifest)
	if err != nil {
		fmt.Println(err)
		return
	}
	evs, err := imp.Events(true)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, ev := range evs {
		if err := e.Apply(entry(uint64(i), ev)); err != nil {
			fmt.Println(err)
			return
		}
	}
	data, err := nist.Export(imp.Manifest, e.Tally(), nist.ExportOptions{
		GeneratedDate:      time.Date(2017, 6, 21, 3, 0, 0, 0, time.UTC),
		Issuer:             "Georgia Secretary of State",
		IssuerAbbreviation: "GA",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	back, err := nist.Parse(bytes.NewReader(data), "runoff.json", imp.Election)
	if err != nil {
		fmt.Println(err)
		return
	}
	var types []string
	for _, vt := range back.Manifest.VoteTypes {
		types = append(types, vt.ID)
	}
	fmt.Println(strings.Join(types, " "))
	for _, r := range back.Reports {
		var votes int64
		for _, c := range r.Counts {
			votes += c.Votes
		}
		fmt.Println(r.Unit, r.Contest, len(r.Counts), votes)
	}
	// Output:
	// election-day absentee early provisional total
	// ga us-representative-district-6 8 260316
	// cobb us-representative-district-6 2 78802
	// dekalb us-representative-district-6 2 58045
	// fulton us-representative-district-6 2 123469
}
