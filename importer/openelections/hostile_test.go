package openelections_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
)

// TestHostile feeds broken and hostile files. Each must be refused with an
// *importer.Error that names the file and the line.
func TestHostile(t *testing.T) {
	for _, tc := range hostile(t) {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := openelections.Parse(strings.NewReader(tc.input), sampleName, "test", openelections.Options{})
			if err == nil {
				t.Fatalf("accepted: %d reports", len(imp.Reports))
			}
			if imp != nil {
				t.Error("an import came back with the error")
			}
			e := importertest.AsError(t, err)
			importertest.Equal(t, "File", e.File, sampleName)
			importertest.Equal(t, "Where", e.Where, tc.where)
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tc.msg)
			}
		})
	}
}

type hostileCase struct {
	name  string
	input string
	where string // the error's Where
	msg   string // part of the error's Msg
}

// hostile returns broken files and the errors they must give; FuzzParse
// uses them as seeds.
func hostile(t testing.TB) []hostileCase {
	long := strings.Repeat("A", openelections.MaxFieldLength+1)
	return []hostileCase{
		{"empty", "", "", "empty file"},
		{"blank lines", "\n\n\r\n", "", "empty file"},
		{"header only", "county,precinct,office,district,party,candidate,votes\n", "line 1", "no rows after the header"},
		{"neither utf-8 nor windows-1252", edit(t, "Bern 1,U.S. House,13,DEM", "Bern\xe9\x81 1,U.S. House,13,DEM"), "", "byte 531 (0x81) is neither UTF-8 nor Windows-1252"},
		{"html", "<html><body>502 Bad Gateway</body></html>\n", "line 1", "looks like HTML"},
		{"no votes column", "county,precinct,office,candidate,pct\nA,B,C,D,1\n", "line 1", `header "county,precinct,office,candidate,pct" has no votes column`},
		{"unknown column", "county,precinct,office,candidate,votes,registered_voters\nA,B,C,D,1,1\n", "line 1", `column "registered_voters" is not one this importer knows, so its figures would go unread: if it holds votes of a vote type, give --vote-type-column registered_voters; if it holds no votes, give --ignore-column registered_voters`},
		{"unnamed column with a value", "county,precinct,office,candidate,votes,\nA,B,C,D,1,7\n", `line 2, column ""`, `"7" is in a column without a name`},
		{"precinct without county", "precinct,office,candidate,votes\nB,C,D,1\n", "line 1", "has a precinct column but no county column"},
		{"cut after a comma", strings.TrimSuffix(sample, "990\n"), `line 11, column "absentee"`, "last vote-type cell is blank while others are filled"},
		{"cut in a count", strings.TrimSuffix(sample, "90\n"), `line 11, column "absentee"`, "no line end and ends in a count (\"9\")"},
		{"unit totals differ", "county,ward,office,total votes,candidate,votes\nA,W1,C,10,X,4\nA,W1,C,10,Y,5\n", "line 2", `column "total votes" gives the unit's total as 10, but its rows sum to 9`},
		{"blank office", edit(t, "Berks,Bern 1,U.S. House,13,REP", "Berks,Bern 1,,13,REP"), `line 11, column "office"`, "missing: which contest are this row's votes of?"},
		{"no candidate column", "county,precinct,office,votes\nA,B,C,1\n", "line 1", `has no candidate column`},
		{"county-level duplicate", "county,office,candidate,votes\nCobb,Mayor,ANN,1\nCobb,Mayor,Ann,2\n", "line 3", "duplicate row: Cobb, Mayor, Ann is also on line 2"},
		{"column twice", "county,precinct,office,candidate,votes,Votes\nA,B,C,D,1,1\n", "line 1", `column "Votes" appears twice (columns 5 and 6)`},
		{"vote type twice", "county,office,candidate,absentee_by_mail,absentee_by_mail_votes\nA,C,D,1,1\n", "line 1", `are both vote type "absentee-by-mail"`},
		{"truncated", sample[:len(sample)-12], "line 11", "7 fields, but the header has 9: a ragged row, or a truncated file"},
		{"ragged", edit(t, "Berks,Bern 1,U.S. House,13,DEM", "Berks,Bern, 1,U.S. House,13,DEM"), "line 10", "10 fields, but the header has 9"},
		{"open quote", edit(t, "Berks,Bern 1,U.S. House,13,DEM", `Berks,"Bern 1,U.S. House,13,DEM`), "line 11", "malformed CSV"},
		{"bare quote", edit(t, "Berks,Bern 1,U.S. House,13,DEM", `Berks,Bern "1",U.S. House,13,DEM`), "line 10", `bare " in non-quoted-field`},
		{"duplicate row", edit(t, "Berks,Bern 1,U.S. House,13,REP,BOB JONES", "Berks,Bern 1,U.S. House,13,DEM,ANN SMITH"), "line 11",
			"duplicate row: Berks, Bern 1, U.S. House, District 13, Ann Smith is also on line 10"},
		{"duplicate spelling", edit(t, "Berks,Bern 1,U.S. House,13,REP,BOB JONES", "Berks,Bern 1,U.S. House,13,DEM,Ann Smith (DEM)"), "line 11", "duplicate row"},
		{"duplicate roll-up", edit(t, "Adams,TOTAL,U.S. House,13,REP,BOB JONES (REP)", "Adams,Total,U.S. House,13,DEM,ANN SMITH"), "line 7", "duplicate row: Adams, U.S. House, District 13, Ann Smith (roll-up) is also on line 6"},
		{"negative", edit(t, ",9990,9000,990", ",9990,9000,-990"), `line 11, column "absentee"`, `"-990" is negative`},
		{"fraction", edit(t, ",9990,9000,990", ",9990.5,9000,990"), `line 11, column "votes"`, `"9990.5" is not a whole number`},
		{"not a number", edit(t, ",9990,9000,990", ",9990,9000,n/a"), `line 11, column "absentee"`, `"n/a" is not a number`},
		{"thousands", edit(t, ",9990,9000,990", `,"9,99",9000,990`), `line 11, column "votes"`, `"9,99" is not a number (a comma is read only as a thousands separator`},
		{"too many votes", edit(t, ",9990,9000,990", ",1000000001,9000,990"), `line 11, column "votes"`, `"1000000001" is more than the limit of 1000000000`},
		{"huge number", edit(t, ",9990,9000,990", ",99999999999999999999999,9000,990"), `line 11, column "votes"`, "is more than the limit"},
		{"missing votes", edit(t, ",9990,9000,990", ",,,"), `line 11, column "votes"`, "missing: the row has no votes"},
		{"markup", edit(t, "BOB JONES,9990", "1 < 2,9990"), `line 11, column "candidate"`, "contains '<' or '>': names must be plain text"},
		{"control character", edit(t, "Berks,Bern 1,U.S. House,13,DEM", "Berks,Bern\x001,U.S. House,13,DEM"), `line 10, column "precinct"`, "contains control characters"},
		{"escape in quotes", edit(t, "Berks,Bern 1,U.S. House,13,DEM", "Berks,\"Bern\x1b[31m 1\",U.S. House,13,DEM"), `line 10, column "precinct"`, "contains control characters"},
		{"long name", edit(t, "BOB JONES,9990", strings.Repeat("B", 257)+",9990"), `line 11, column "candidate"`, "longer than 256 bytes"},
		{"huge field", edit(t, "BOB JONES,9990", long+",9990"), `line 11, column "candidate"`, "longer than 1024 bytes"},
		{"huge header", "county,office,candidate,votes," + long + "\n", "line 1", "longer than 1024 bytes"},
		{"missing county", edit(t, "Berks,Bern 1,U.S. House,13,REP", " ,Bern 1,U.S. House,13,REP"), `line 11, column "county"`, "missing"},
		{"missing candidate", edit(t, "Berks,Bern 1,U.S. House,13,REP,BOB JONES", "Berks,Bern 1,U.S. House,13,,"), `line 11, column "candidate"`, "missing"},
		{"no letters", edit(t, "BOB JONES,9990", "???,9990"), `line 11, column "candidate"`, `"???" has no letters or digits to make an ID from`},
		{"precinct without letters", edit(t, "Berks,Bern 1,U.S. House,13,REP", "Berks,#,U.S. House,13,REP"), `line 11, column "precinct"`, "no letters or digits"},
		{"county names the state", edit(t, "Berks,Bern 1,U.S. House,13,REP", "PA,Bern 1,U.S. House,13,REP"), `line 11, column "county"`, `already used by state "Pennsylvania"`},
		{"contest IDs collide", edit(t, "Berks,Bern 1,U.S. House,13,REP,BOB JONES", "Berks,Bern 1,U.S. House 13 Turnout,,REP,BOB JONES",
			"Adams,Abbottstown,U.S. House,13,REP,BOB JONES", "Adams,Abbottstown,U.S. House,13,,Over Votes"), `line 11, column "office"`,
			`contest ID "us-house-13-turnout"`},
	}
}

// TestTruncations cuts the Fulton file at many points: every cut that ends
// inside a row's names is refused, and no cut panics.
func TestTruncations(t *testing.T) {
	data := readEmbedded(t, runoffFiles[2])
	for n := 0; n < len(data); n += 37 {
		imp, err := openelections.Parse(strings.NewReader(string(data[:n])), runoffFiles[2], "test", openelections.Options{})
		if err != nil {
			importertest.AsError(t, err)
			continue
		}
		importertest.CheckValid(t, imp)
	}
}

func TestTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 256 MiB")
	}
	_, err := openelections.Parse(importertest.Endless("", 'A'), sampleName, "test", openelections.Options{})
	importertest.Equal(t, "error", importertest.AsError(t, err).Error(), sampleName+": larger than the limit of 268435456 bytes (256 MiB)")
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := openelections.Parse(io.MultiReader(strings.NewReader(sample[:100]), iotest.ErrReader(boom)), "x.csv", "test", openelections.Options{})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the read error", err)
	}
	importertest.Equal(t, "error", err.Error(), "couldn't read x.csv: boom")
}

func TestBadArguments(t *testing.T) {
	if _, err := openelections.Parse(strings.NewReader(sample), sampleName, "GA 06", openelections.Options{}); err == nil || !strings.Contains(err.Error(), `"GA 06" is not a valid election ID`) {
		t.Errorf("bad election ID: %v", err)
	}
	if _, err := openelections.Parse(strings.NewReader(sample), "", "test", openelections.Options{}); err == nil {
		t.Error("empty file name accepted")
	}
	if _, err := openelections.ParseFiles(nil, "test", openelections.Options{}); err == nil {
		t.Error("no files accepted")
	}
}
