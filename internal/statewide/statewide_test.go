package statewide_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/election-audit/ledger/internal/statewide"
)

// TestGenerate checks the sizes the package doc promises and that a file is
// a pure function of its arguments.
func TestGenerate(t *testing.T) {
	for i, layout := range statewide.Layouts {
		data, want := statewide.Generate(layout, 150, 17)
		if want.Rows != 108_000 || want.Precincts != 2550 || want.Counties != 150 {
			t.Errorf("layout %d: %d rows, %d precincts, %d counties; want 108000, 2550, 150", i, want.Rows, want.Precincts, want.Counties)
		}
		lines := bytes.Count(data, []byte("\n"))
		if lines != want.Rows+1 {
			t.Errorf("layout %d: %d lines, want a header and %d rows", i, lines, want.Rows)
		}
		if got := string(data[:bytes.IndexByte(data, '\n')]); got != strings.Join(layout, ",") {
			t.Errorf("layout %d: header %q", i, got)
		}
		again, _ := statewide.Generate(layout, 150, 17)
		if !bytes.Equal(data, again) {
			t.Errorf("layout %d: two files from the same arguments differ", i)
		}
		var votes, types int64
		for _, v := range want.Votes {
			votes += v
		}
		for _, v := range want.VoteTypes {
			types += v
		}
		if votes == 0 || votes != types {
			t.Errorf("layout %d: %d votes by candidate, %d by vote type", i, votes, types)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range [][3]string{
		{"turnout", "registered", "Voters|Registered"},
		{"president-turnout", "under-votes", "President|Under Votes"},
		{"president", "ann-adams", "President|ANN ADAMS"},
		{"us-senate", "write-ins", "U.S. Senate|Write-ins"},
		{"us-house-7", "hal-hill", "U.S. House|HAL HILL"},
		{"state-house-150", "tia-tate", "State House|TIA TATE"},
		{"constitutional-amendment-3", "no", "Constitutional Amendment 3|No"},
	} {
		if got := statewide.Key(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Key(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestDiff(t *testing.T) {
	_, want := statewide.Generate(statewide.Layouts[3], 2, 3)
	got := map[string]int64{}
	for k, v := range want.Votes {
		got[k] = v
	}
	types := map[string]int64{"total": want.VoteTypes["total"]}
	if d := want.Diff(got, types); len(d) != 0 {
		t.Fatalf("equal totals: %q", d)
	}
	got["Governor|KIM KING"]++
	delete(got, "President|ANN ADAMS")
	got["|ZED"] = 1
	types["mail"] = 0
	if d := want.Diff(got, types); len(d) != 4 {
		t.Errorf("four differences, got %d: %q", len(d), d)
	}
}

func ExampleGenerate() {
	data, want := statewide.Generate(statewide.Layouts[0], 2, 3)
	fmt.Printf("%d rows, %d precincts, %d bytes\n", want.Rows, want.Precincts, len(data))
	fmt.Print(string(data[:bytes.IndexByte(data, '\n')+1]))
	// Output:
	// 320 rows, 6 precincts, 23612 bytes
	// county,precinct,office,district,party,candidate,votes,election_day,absentee_by_mail,advance_in_person,provisional
}
