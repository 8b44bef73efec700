package clarity_test

import (
	"fmt"
	"os"

	"github.com/election-audit/ledger/importer/clarity"
)

// Parse a county-level detail.xml and print what it defines and reports.
func ExampleParse() {
	f, err := os.Open("testdata/atkinson_precincts_2020-11-03_GA_G_P.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	imp, err := clarity.Parse(f, "detail.xml", "ga-2020-11", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(imp.Manifest.Date, imp.Manifest.Units[0].ID, len(imp.Manifest.Units)-1, "precincts")
	for _, c := range imp.Manifest.Contests {
		line := fmt.Sprint(c.ID, " vote for ", c.VoteFor)
		if c.Kind != "" {
			line += " kind " + c.Kind
		}
		fmt.Println(line)
		for _, ch := range c.Choices {
			fmt.Printf("  %s %q\n", ch.ID, ch.Name)
		}
	}
	for _, r := range imp.Reports[4:] {
		var votes int64
		for _, c := range r.Counts {
			votes += c.Votes
		}
		fmt.Println(r.Unit, r.Contest, votes, r.Source.Version)
	}
	// Output:
	// 2020-11-03 atkinson 4 precincts
	// turnout vote for 0 kind turnout
	//   registered "Registered Voters"
	//   ballots-cast "Ballots Cast"
	// president-of-the-united-states vote for 1
	//   donald-j-trump-i-rep "Donald J. Trump (I) (Rep)"
	//   joseph-r-biden-dem "Joseph R. Biden (Dem)"
	//   jo-jorgensen-lib "Jo Jorgensen (Lib)"
	// atkinson:pearson-county president-of-the-united-states 1197 11/6/2020 1:05:50 PM EST
	// atkinson:axson president-of-the-united-states 527 11/6/2020 1:05:50 PM EST
	// atkinson:willacoochee president-of-the-united-states 867 11/6/2020 1:05:50 PM EST
	// atkinson:pearson-city president-of-the-united-states 564 11/6/2020 1:05:50 PM EST
}
