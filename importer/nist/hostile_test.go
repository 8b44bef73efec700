package nist_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/nist"
)

// sample is a small valid report: a state of two counties, one contest.
const sample = `{"@type":"ElectionResults.ElectionReport","Format":"precinct-level","Status":"unofficial-complete",
"GeneratedDate":"2024-11-06T03:00:00Z","Issuer":"x","IssuerAbbreviation":"x","VendorApplicationId":"x","SequenceStart":1,"SequenceEnd":1,
"GpUnit":[
 {"@type":"ElectionResults.ReportingUnit","@id":"gpu-st","Type":"state","Name":"State","ComposingGpUnitIds":["gpu-a","gpu-b"]},
 {"@type":"ElectionResults.ReportingUnit","@id":"gpu-a","Type":"county","Name":"A County"},
 {"@type":"ElectionResults.ReportingUnit","@id":"gpu-b","Type":"county","Name":"B County"}],
"Party":[{"@type":"ElectionResults.Party","@id":"par-dem","Name":"Democratic","Abbreviation":"DEM"}],
"Election":[{"@type":"ElectionResults.Election","Name":"General","Type":"general","StartDate":"2024-11-05","EndDate":"2024-11-05","ElectionScopeId":"gpu-st",
 "Candidate":[
  {"@type":"ElectionResults.Candidate","@id":"cand-ann","BallotName":"Ann Smith","PartyId":"par-dem"},
  {"@type":"ElectionResults.Candidate","@id":"cand-bob","BallotName":"Bob Jones"}],
 "Contest":[{"@type":"ElectionResults.CandidateContest","@id":"con-mayor","Name":"Mayor","ElectionDistrictId":"gpu-st","VotesAllowed":1,
  "ContestSelection":[
   {"@type":"ElectionResults.CandidateSelection","@id":"sel-ann","CandidateIds":["cand-ann"],"VoteCounts":[
    {"@type":"ElectionResults.VoteCounts","GpUnitId":"gpu-a","Type":"election-day","Count":10},
    {"@type":"ElectionResults.VoteCounts","GpUnitId":"gpu-b","Type":"election-day","Count":20}]},
   {"@type":"ElectionResults.CandidateSelection","@id":"sel-bob","CandidateIds":["cand-bob"],"VoteCounts":[
    {"@type":"ElectionResults.VoteCounts","GpUnitId":"gpu-a","Type":"election-day","Count":5},
    {"@type":"ElectionResults.VoteCounts","GpUnitId":"gpu-b","Type":"other","OtherType":"mail","Count":6}]}]}]}]}`

func TestSample(t *testing.T) {
	imp, err := nist.Parse(strings.NewReader(sample), "x.json", "test")
	if err != nil {
		t.Fatal(err)
	}
	importertest.CheckValid(t, imp)
	importertest.Equal(t, "reports", len(imp.Reports), 2)
	importertest.Equal(t, "party", imp.Manifest.Contests[0].Choices[0].Party, "DEM")
	importertest.Equal(t, "vote types", voteTypeIDs(imp.Manifest), "election-day,mail")
}

type hostileCase struct {
	name  string
	input string
	want  string // the whole message, for file "x.json"
}

// hostile returns broken reports and the errors they must give; FuzzParse
// uses them as seeds.
func hostile(t testing.TB) []hostileCase {
	ed := func(pairs ...string) string { return edit(t, sample, pairs...) }
	const vc = "Election[0].Contest[0].ContestSelection[0].VoteCounts[0]"
	return []hostileCase{
		{"empty", "", "x.json: empty file: expected a JSON object"},
		{"not json", "Precinct,Votes\nA,1\n", `x.json: expected a JSON object at byte 0, found "Precinct,Votes\nA,1\n"`},
		{"html", "<html><body>502 Bad Gateway</body></html>", `x.json: expected a JSON object at byte 0, found "<html><body>502 Bad Gateway</body></html…"`},
		{"array", "[]", `x.json: expected a JSON object at byte 0, found "[]"`},
		{"truncated", sample[:300], "x.json: truncated JSON: unexpected end of input at byte 300"},
		{"syntax", `{"@type": "x",, }`, "x.json: malformed JSON at byte 14: invalid character ',' looking for beginning of object key string"},
		{"trailing", sample + ` {}`, "x.json: unexpected data after the JSON object at byte " + itoa(len(sample)+1)},
		{"invalid utf-8", `{"Issuer":"` + "\xff" + `"}`, "x.json: not valid UTF-8 at byte 11"},
		{"wrong shape", ed(`"GpUnit":[`, `"GpUnit":{"a":[`, "}],\n\"Party\":[", "}]},\n\"Party\":["), "x.json: GpUnit: near byte 248: got a JSON object, want an array"},
		{"wrong @type", ed(`"@type":"ElectionResults.ElectionReport"`, `"@type":"ElectionResults.CastVoteRecordReport"`),
			`x.json: @type "ElectionResults.CastVoteRecordReport" is not ElectionResults.ElectionReport`},
		{"missing @type", ed(`"@type":"ElectionResults.ElectionReport",`, ``), "x.json: @type: missing"},
		{"two elections", ed(`"Election":[{`, `"Election":[{},{`), "x.json: Election: want exactly one election, found 2"},
		{"unknown composing unit", ed(`["gpu-a","gpu-b"]`, `["gpu-a","gpu-c"]`),
			`x.json: GpUnit[0]: ComposingGpUnitIds[1]: "gpu-c" is not the @id of a GpUnit`},
		{"unknown count unit", ed(`"GpUnitId":"gpu-a","Type":"election-day","Count":10`, `"GpUnitId":"gpu-z","Type":"election-day","Count":10`),
			vcWhere(vc, `GpUnitId: "gpu-z" is not the @id of a GpUnit`)},
		{"unknown scope", ed(`"ElectionScopeId":"gpu-st"`, `"ElectionScopeId":"gpu-x"`), `x.json: Election[0]: ElectionScopeId: "gpu-x" is not the @id of a GpUnit`},
		{"unknown candidate", ed(`"CandidateIds":["cand-bob"]`, `"CandidateIds":["cand-carl"]`),
			`x.json: Election[0].Contest[0].ContestSelection[1]: CandidateIds[0]: "cand-carl" is not the @id of a Candidate`},
		{"unknown party", ed(`"PartyId":"par-dem"`, `"PartyId":"par-rep"`), `x.json: Election[0].Candidate[0]: PartyId: "par-rep" is not the @id of a Party`},
		{"cycle", cycleDoc(t),
			`x.json: GpUnit[1]: ComposingGpUnitIds form a cycle: gpu-a ⊃ gpu-b ⊃ gpu-a`},
		{"self", ed(`"Name":"A County"}`, `"Name":"A County","ComposingGpUnitIds":["gpu-a"]}`), `x.json: GpUnit[1]: ComposingGpUnitIds[0]: "gpu-a" is composed of itself`},
		{"two parents", ed(`"Name":"A County"}`, `"Name":"A County","ComposingGpUnitIds":["gpu-b"]}`),
			`x.json: GpUnit[1]: ComposingGpUnitIds[0]: "gpu-b" is already part of "gpu-st" (GpUnit[0]): a unit has one parent`},
		{"scope not top", ed(`"ElectionScopeId":"gpu-st"`, `"ElectionScopeId":"gpu-a"`),
			`x.json: Election[0]: ElectionScopeId: "gpu-a" is part of "gpu-st" (GpUnit[0]): the election's scope must be the top unit`},
		{"duplicated @id", ed(`"@id":"cand-bob"`, `"@id":"gpu-a"`), `x.json: Election[0].Candidate[1]: @id "gpu-a" is used twice (also GpUnit[1])`},
		{"same unit ID", ed(`"@id":"gpu-b"`, `"@id":"a"`, `"gpu-b"]`, `"a"]`, `"GpUnitId":"gpu-b"`, `"GpUnitId":"a"`),
			`x.json: GpUnit[2]: @id "a" gives unit ID "a", already used by GpUnit[1]`},
		{"negative", ed(`"Count":10`, `"Count":-10`), vcWhere(vc, "Count -10 is negative")},
		{"huge negative", ed(`"Count":10`, `"Count":-99999999999999999999`), vcWhere(vc, "Count -99999999999999999999 is negative")},
		{"fraction", ed(`"Count":10`, `"Count":9.5`), vcWhere(vc, "Count 9.5 is not a whole number")},
		{"exponent", ed(`"Count":10`, `"Count":1e3`), vcWhere(vc, "Count 1e3 is not a whole number")},
		{"too many votes", ed(`"Count":10`, `"Count":99999999999`), vcWhere(vc, "Count 99999999999 is more than the limit of 1000000000")},
		{"string count", ed(`"Count":10`, `"Count":"10"`), vcWhere(vc, `Count: expected a number, got "\"10\""`)},
		{"missing count", ed(`,"Count":10`, ``), vcWhere(vc, "Count: missing")},
		{"suppressed", ed(`"Count":10`, `"Count":0,"IsSuppressedForPrivacy":true`), vcWhere(vc, "IsSuppressedForPrivacy: the count is withheld, so there is nothing to import")},
		{"round", ed(`"Count":10`, `"Count":10,"Round":2`), vcWhere(vc, "Round 2: counts of later ranked-choice rounds are not supported")},
		{"other without type", ed(`"OtherType":"mail",`, ``), "x.json: Election[0].Contest[0].ContestSelection[1].VoteCounts[1]: OtherType: missing"},
		{"vote type twice", ed(`"GpUnitId":"gpu-b","Type":"election-day","Count":20`, `"GpUnitId":"gpu-a","Type":"election-day","Count":20`),
			`x.json: Election[0].Contest[0].ContestSelection[0].VoteCounts[1]: vote type "election-day" appears twice for "ann" in GpUnit "gpu-a" (also ` + vc + `)`},
		{"html name", ed(`"BallotName":"Bob Jones"`, `"BallotName":"<script>alert(1)</script>"`),
			`x.json: Election[0].Candidate[1]: BallotName: "<script>alert(1)</script>" contains markup ('<' or '>')`},
		{"control character", ed(`"BallotName":"Bob Jones"`, `"BallotName":"Bob\u0007Jones"`), `x.json: Election[0].Candidate[1]: BallotName: "Bob\aJones" contains control characters`},
		{"huge name", ed(`"Name":"Mayor"`, `"Name":"`+strings.Repeat("M", 100_000)+`"`), "x.json: Election[0].Contest[0]: Name: longer than 256 bytes"},
		{"huge @id", ed(`"@id":"cand-bob"`, `"@id":"`+strings.Repeat("b", 300)+`"`, `["cand-bob"]`, `["`+strings.Repeat("b", 300)+`"]`),
			"x.json: Election[0].Candidate[1]: @id: longer than 256 bytes"},
		{"no letters", ed(`"@id":"con-mayor"`, `"@id":"con-???"`), `x.json: Election[0].Contest[0]: @id "con-???" has no letters or digits to make an ID from`},
		{"votes allowed", ed(`"VotesAllowed":1`, `"VotesAllowed":3`), "x.json: Election[0].Contest[0]: VotesAllowed 3 is not between 1 and the number of selections, 2"},
		{"party contest", ed(`"@type":"ElectionResults.CandidateContest"`, `"@type":"ElectionResults.PartyContest"`),
			"x.json: Election[0].Contest[0]: a PartyContest (straight-party votes) has no counterpart in the ledger"},
		{"no selections", ed(`"ContestSelection":[`, `"ContestSelection":[],"X":[`), `x.json: Election[0].Contest[0]: ContestSelection: none: "Mayor" has no choices`},
		{"same choice twice", ed(`"CandidateIds":["cand-bob"]`, `"CandidateIds":["cand-ann"]`),
			`x.json: Election[0].Contest[0].ContestSelection[1]: gives choice ID "ann", already used by Election[0].Contest[0].ContestSelection[0]`},
		{"bad date", ed(`"EndDate":"2024-11-05"`, `"EndDate":"11/05/2024"`), `x.json: Election[0]: EndDate: "11/05/2024" is not a date (YYYY-MM-DD)`},
		{"out of district", ed(`"ElectionDistrictId":"gpu-st"`, `"ElectionDistrictId":"gpu-a"`),
			`x.json: Election[0].Contest[0].ContestSelection[0].VoteCounts[1]: GpUnitId: "gpu-b" is not in the contest's district "gpu-a"`},
		{"negative registered", ed(`"Name":"B County"}`, `"Name":"B County","VotersRegistered":-1}`), "x.json: GpUnit[2]: VotersRegistered -1 is negative"},
	}
}

func vcWhere(where, msg string) string { return "x.json: " + where + ": " + msg }

func itoa(n int) string {
	var b []byte
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// cycleDoc is sample with a and b composing each other and nothing
// composing them.
func cycleDoc(t testing.TB) string {
	return edit(t, sample, `,"ComposingGpUnitIds":["gpu-a","gpu-b"]`, ``,
		`"Name":"A County"}`, `"Name":"A County","ComposingGpUnitIds":["gpu-b"]}`,
		`"Name":"B County"}`, `"Name":"B County","ComposingGpUnitIds":["gpu-a"]}`)
}

// TestHostile feeds broken and hostile reports. Each must be refused with
// an *importer.Error that names the file and the element.
func TestHostile(t *testing.T) {
	for _, tc := range hostile(t) {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := nist.Parse(strings.NewReader(tc.input), "x.json", "test")
			if err == nil {
				t.Fatalf("accepted: %d reports", len(imp.Reports))
			}
			var e *importer.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *importer.Error: %v", err, err)
			}
			if e.File != "x.json" {
				t.Errorf("File = %q", e.File)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestTruncations cuts the golden export at many points: every cut is
// refused with an error, never a panic.
func TestTruncations(t *testing.T) {
	imp, r := april(t)
	data := export(t, imp.Manifest, r.e.Tally(), opts)
	for n := 0; n < len(data)-1; n += 97 {
		if _, err := nist.Parse(bytes.NewReader(data[:n]), "x.json", "test"); err == nil {
			t.Fatalf("a cut at byte %d was accepted", n)
		}
	}
}

func TestTooLarge(t *testing.T) {
	importertest.Equal(t, "limit", int64(importer.MaxFileSize), 256<<20)
	defer nist.SetMaxFileSize(1 << 20)()
	_, err := nist.Parse(importertest.Endless("{", ' '), "x.json", "test")
	var e *importer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *importer.Error", err)
	}
	importertest.Equal(t, "error", err.Error(), "x.json: larger than the limit of 1048576 bytes")
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := nist.Parse(io.MultiReader(strings.NewReader(sample[:100]), iotest.ErrReader(boom)), "x.json", "test")
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the read error", err)
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := nist.Parse(strings.NewReader(sample), "x.json", "GA 06"); err == nil {
		t.Error("bad election ID accepted")
	}
	if _, err := nist.Parse(strings.NewReader(sample), "", "test"); err == nil {
		t.Error("empty file name accepted")
	}
}
