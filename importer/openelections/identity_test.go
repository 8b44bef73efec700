package openelections_test

import (
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/openelections"
)

// TestLocalOfficesInSubsets: three counties' files, each with its own
// sheriff race (Carbon's of write-ins alone, with an over-vote row that
// makes a turnout companion), define the election; any subset of them, in
// any order, imported again into it binds each report to the contest of
// its county and gets the event IDs of the first import, so nothing is
// logged twice. (The files alone do not say a sheriff is a county's: read
// together, the counties share no candidate and the race is split; read
// one at a time, it is one contest named "sheriff" that Bind must place
// by unit.)
func TestLocalOfficesInSubsets(t *testing.T) {
	file := func(county string, rows ...string) openelections.File {
		return openelections.File{
			Name: "20181106__pa__general__" + strings.ToLower(county) + "__precinct.csv",
			Data: []byte("county,precinct,office,district,party,candidate,votes\n" + strings.Join(rows, "\n") + "\n"),
		}
	}
	adams := file("Adams",
		"Adams,A1,Sheriff,,DEM,ANN SMITH,10", "Adams,A1,Sheriff,,,Write-in,1", "Adams,A1,Sheriff,,,Over Votes,2",
		"Adams,A2,Sheriff,,DEM,ANN SMITH,12", "Adams,A2,Sheriff,,,Write-in,0", "Adams,A2,Sheriff,,,Over Votes,1",
		"Adams,A1,Governor,,DEM,TOM WOLF,30", "Adams,A2,Governor,,DEM,TOM WOLF,31")
	berks := file("Berks",
		"Berks,B1,Sheriff,,REP,CAL JONES,20", "Berks,B1,Sheriff,,,Write-in,3", "Berks,B1,Sheriff,,,Over Votes,4",
		"Berks,B1,Governor,,DEM,TOM WOLF,40")
	carbon := file("Carbon",
		"Carbon,C1,Sheriff,,,Write-in,5", "Carbon,C1,Sheriff,,,Over Votes,6",
		"Carbon,C1,Governor,,DEM,TOM WOLF,50")

	all, err := openelections.ParseFiles([]openelections.File{adams, berks, carbon}, "pa-2018", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range all.Manifest.Contests {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, " "); !strings.Contains(got, "sheriff-carbon") || !strings.Contains(got, "sheriff-adams-turnout") {
		t.Fatalf("read together, the sheriff races are not split by county: %s", got)
	}
	first, err := all.Events(false)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, ev := range first {
		logged[ev.ID.String()] = true
	}

	for _, subset := range [][]openelections.File{
		{carbon}, {adams}, {berks}, {carbon, adams}, {adams, carbon}, {berks, carbon}, {carbon, berks, adams},
	} {
		var names []string
		for _, f := range subset {
			names = append(names, f.Name[23:strings.Index(f.Name, "__precinct")])
		}
		imp, err := openelections.ParseFiles(subset, "pa-2018", openelections.Options{})
		if err != nil {
			t.Fatalf("%s: %v", names, err)
		}
		evs, err := imp.EventsFor(all.Manifest) // binds it
		if err != nil {
			t.Errorf("%s again: %v", names, err)
			continue
		}
		if len(evs) == 0 {
			t.Errorf("%s again: no events", names)
		}
		for _, ev := range evs {
			if r := ev.Counts(); !logged[ev.ID.String()] {
				t.Errorf("%s again: the report of %s in %s would be logged anew, as %s", names, r.Unit, r.Contest, ev.ID)
			}
		}
	}

	// A report for a county whose sheriff race the election does not have
	// is refused by Bind, naming the unit, before anything is sent.
	dauphin := file("Dauphin", "Dauphin,D1,Sheriff,,,Write-in,5")
	withD, err := openelections.ParseFiles([]openelections.File{adams, dauphin}, "pa-2018", openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Bind(all.Manifest, withD); err == nil || !strings.Contains(err.Error(), `"dauphin`) {
		t.Errorf("a county the election does not have: %v", err)
	}
}
