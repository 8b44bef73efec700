package gasos_test

import (
	"bytes"
	"fmt"
	"io/fs"

	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/internal/ga06"
)

// Parse the runoff's export and print what it defines and reports.
func ExampleParse() {
	data, err := fs.ReadFile(ga06.Files(), "export-2017JunSpecRun.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	imp, err := gasos.Parse(bytes.NewReader(data), "export-2017JunSpecRun.json", "ga06-2017-06")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range imp.Manifest.Contests {
		fmt.Println(c.ID)
		for _, ch := range c.Choices {
			fmt.Printf("  %s %q %s %q\n", ch.ID, ch.Name, ch.Party, ch.Aliases)
		}
	}
	for _, r := range imp.Reports {
		var votes int64
		for _, c := range r.Counts {
			votes += c.Votes
		}
		fmt.Println(r.Unit, r.Contest, votes)
	}
	// Output:
	// us-representative-district-6
	//   karen-handel "Karen Handel" REP ["KAREN HANDEL (REP)" "KAREN HANDEL"]
	//   jon-ossoff "Jon Ossoff" DEM ["JON OSSOFF (DEM)" "JON OSSOFF"]
	// cobb us-representative-district-6 78802
	// dekalb us-representative-district-6 58045
	// fulton us-representative-district-6 123469
}
