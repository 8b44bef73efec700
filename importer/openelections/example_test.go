package openelections_test

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/election-audit/ledger/importer/openelections"
	"github.com/election-audit/ledger/internal/ga06"
)

// Parse the runoff's three county files into one election and print what
// it defines and the county totals of the race.
func ExampleParseFiles() {
	var files []openelections.File
	for _, name := range []string{
		"20170620__ga__special__general__runoff__cobb__precinct.csv",
		"20170620__ga__special__general__runoff__dekalb__precinct.csv",
		"20170620__ga__special__general__runoff__fulton__precinct.csv",
	} {
		data, err := fs.ReadFile(ga06.Files(), name)
		if err != nil {
			fmt.Println(err)
			return
		}
		files = append(files, openelections.File{Name: name, Data: data})
	}
	imp, err := openelections.ParseFiles(files, "ga06-2017-06", openelections.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := imp.Manifest
	fmt.Printf("%s: %d units, %d reports, %d findings\n", m.Name, len(m.Units), len(imp.Reports), len(imp.Findings))
	for _, c := range m.Contests {
		fmt.Println(strings.TrimSpace(c.ID + " " + c.Kind))
		for _, ch := range c.Choices {
			fmt.Printf("  %s %q %s %q\n", ch.ID, ch.Name, ch.Party, ch.Aliases)
		}
	}
	county := map[string]string{}
	for _, u := range m.Units {
		county[u.ID] = u.Parent
	}
	votes := map[string]int64{}
	for _, r := range imp.Reports {
		if r.Contest == "us-house-6" {
			for _, c := range r.Counts {
				votes[county[r.Unit]] += c.Votes
			}
		}
	}
	fmt.Println(votes)
	// Output:
	// Georgia special general runoff, 2017-06-20: 212 units, 416 reports, 0 findings
	// turnout turnout
	//   registered "Registered Voters"  ["Registered"]
	//   ballots-cast "Ballots Cast"  ["Ballots Cast"]
	// us-house-6
	//   karen-handel "Karen Handel" R ["Karen Handel"]
	//   jon-ossoff "Jon Ossoff" D ["Jon Ossoff"]
	// map[cobb:78802 dekalb:58045 fulton:123469]
}
