package clarity_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/importertest"
)

// sample is a small valid state-level file: turnout and one contest in two
// counties, every count distinct so that a test can change one by text
// replacement.
const sample = `<?xml version="1.0" encoding="UTF-8"?>
<ElectionResult>
<Timestamp>4/18/2017 11:21:23 PM EDT</Timestamp>
<ElectionName>Test Election</ElectionName>
<ElectionDate>4/18/2017</ElectionDate>
<Region>GA</Region>
<ElectionVoterTurnout totalVoters="5000" ballotsCast="3330">
<Counties>
<County name="Cobb" totalVoters="1000" ballotsCast="333"/>
<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>
</Counties>
</ElectionVoterTurnout>
<Contest key="10" text="Mayor" voteFor="1" isQuestion="false">
<ParticipatingCounties>
<County name="Cobb"/>
<County name="Fulton"/>
</ParticipatingCounties>
<Choice key="1" text="ANN SMITH (DEM)" party="DEM" totalVotes="1110">
<VoteType name="Election Day" votes="1000">
<County name="Cobb" votes="100"/>
<County name="Fulton" votes="900"/>
</VoteType>
<VoteType name="Provisional" votes="110">
<County name="Cobb" votes="11"/>
<County name="Fulton" votes="99"/>
</VoteType>
</Choice>
<Choice key="2" text="BOB JONES" totalVotes="2220">
<VoteType name="Election Day" votes="2000">
<County name="Cobb" votes="200"/>
<County name="Fulton" votes="1800"/>
</VoteType>
<VoteType name="Provisional" votes="220">
<County name="Cobb" votes="22"/>
<County name="Fulton" votes="198"/>
</VoteType>
</Choice>
</Contest>
</ElectionResult>
`

// edit returns sample with each old string, which must occur exactly once,
// replaced by the new one.
func edit(t testing.TB, oldnew ...string) string {
	return importertest.Edit(t, sample, oldnew...)
}

func TestSample(t *testing.T) {
	imp := parse(t, []byte(sample), "dir/x.xml", nil)
	importertest.Equal(t, "units", importertest.Units(imp.Manifest.Units), "ga=GA(state), cobb=Cobb(county<ga), fulton=Fulton(county<ga)")
	importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, provisional=Provisional, total=Total")
	mayor := importertest.Contest(t, imp.Manifest, "mayor")
	importertest.Equal(t, "ann", fmtChoice(mayor.Choices[0]), `ann-smith "Ann Smith" DEM ["ANN SMITH (DEM)" "ANN SMITH"]`)
	importertest.Equal(t, "bob", fmtChoice(mayor.Choices[1]), `bob-jones "Bob Jones"  ["BOB JONES"]`)
	c := counts(t, imp)
	importertest.Equal(t, "total", total(c, key{contest: "mayor"}), 3330)
	importertest.Equal(t, "source", imp.Reports[0].Source.File, "x.xml")
	importertest.Equal(t, "findings", len(imp.Findings), 0)
}

// TestFlexible checks inputs that are unusual but valid.
func TestFlexible(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		check func(*testing.T, *importer.Import)
	}{
		{"bom", "\xef\xbb\xbf" + sample, nil},
		{"us-ascii", edit(t, `encoding="UTF-8"`, `encoding="US-ASCII"`), nil},
		{"no declaration", edit(t, `<?xml version="1.0" encoding="UTF-8"?>`, ``), nil},
		{"iso date", edit(t, `<ElectionDate>4/18/2017</ElectionDate>`, `<ElectionDate>2017-04-18</ElectionDate>`), nil},
		{"entities", edit(t, `text="BOB JONES"`, `text="BOB &amp; JONES&#x20;"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "bob", fmtChoice(imp.Manifest.Contests[1].Choices[1]), `bob-jones "Bob & Jones"  ["BOB & JONES"]`)
		}},
		{"question", edit(t, `text="Mayor" voteFor="1" isQuestion="false"`, `text="Question 1" voteFor="1" isQuestion="true"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "id", imp.Manifest.Contests[1].ID, "question-1")
		}},
		{"no turnout figures", edit(t, `<ElectionVoterTurnout totalVoters="5000" ballotsCast="3330">`, `<ElectionVoterTurnout>`,
			`<County name="Cobb" totalVoters="1000" ballotsCast="333"/>`, `<County name="Cobb"/>`,
			`<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="Fulton"/>`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "contests", len(imp.Manifest.Contests), 1)
			importertest.Equal(t, "vote types", importertest.VoteTypes(imp.Manifest.VoteTypes), "election-day=Election Day, provisional=Provisional")
		}},
		{"scoped", edit(t, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/><County name="Cherokee County" totalVoters="0" ballotsCast="0"/>`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "scope", strings.Join(imp.Manifest.Contests[1].Units, ","), "cobb,fulton")
			importertest.Equal(t, "cherokee", imp.Manifest.Units[3].ID, "cherokee")
		}},
		{"same contest name", edit(t, `</Contest>`, `</Contest><Contest key="11" text="MAYOR" voteFor="1"><Choice text="X"><VoteType name="Election Day"><County name="Cobb" votes="1"/></VoteType></Choice></Contest>`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "id", imp.Manifest.Contests[2].ID, "mayor-11")
			importertest.Equal(t, "scope", strings.Join(imp.Manifest.Contests[2].Units, ","), "cobb")
		}},
		{"vote for more than choices", edit(t, `voteFor="1"`, `voteFor="3"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "vote for", imp.Manifest.Contests[1].VoteFor, 3)
		}},
		{"no vote for", edit(t, ` voteFor="1"`, ``), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "vote for", imp.Manifest.Contests[1].VoteFor, 1)
		}},
		{"line break in contest", edit(t, `text="Mayor"`, `text="Mayor&lt;br&gt;City of  Atlanta&lt;BR /&gt;"`), func(t *testing.T, imp *importer.Import) {
			c := imp.Manifest.Contests[1]
			importertest.Equal(t, "contest", c.ID+" "+strconv.Quote(c.Name), `mayor-city-of-atlanta "Mayor City of Atlanta"`)
		}},
		{"markup in choice", edit(t, `text="BOB JONES"`, `text="&lt;b&gt;BOB&lt;/b&gt; JONES &amp;amp; SON"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "bob", fmtChoice(imp.Manifest.Contests[1].Choices[1]), `bob-jones-son "Bob Jones & Son"  ["<b>BOB</b> JONES &amp; SON" "BOB JONES & SON"]`)
		}},
		{"line feed in choice", edit(t, `text="BOB JONES"`, `text="BOB&#10;JONES"`), func(t *testing.T, imp *importer.Import) {
			// The verbatim text has a control character: no alias.
			importertest.Equal(t, "bob", fmtChoice(imp.Manifest.Contests[1].Choices[1]), `bob-jones "Bob Jones"  ["BOB JONES"]`)
		}},
		{"party prefix", edit(t, `text="BOB JONES"`, `text="REP - BOB JONES"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "bob", fmtChoice(imp.Manifest.Contests[1].Choices[1]), `bob-jones "Bob Jones" REP ["REP - BOB JONES" "BOB JONES"]`)
		}},
		{"party prefix and attribute", edit(t, `text="ANN SMITH (DEM)"`, `text="DEM ANN SMITH (DEM)"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "ann", fmtChoice(imp.Manifest.Contests[1].Choices[0]), `ann-smith "Ann Smith" DEM ["DEM ANN SMITH (DEM)" "ANN SMITH"]`)
		}},
		{"party prefix and another attribute", edit(t, `text="ANN SMITH (DEM)"`, `text="REP - ANN SMITH"`), func(t *testing.T, imp *importer.Import) {
			importertest.Equal(t, "ann", fmtChoice(imp.Manifest.Contests[1].Choices[0]), `rep-ann-smith "Rep - Ann Smith" DEM ["REP - ANN SMITH"]`)
		}},
		{"findings", edit(t, `totalVotes="2220"`, `totalVotes="2221"`, `<VoteType name="Provisional" votes="110">`, `<VoteType name="Provisional" votes="111">`,
			`<ElectionVoterTurnout totalVoters="5000"`, `<ElectionVoterTurnout totalVoters="5001"`), func(t *testing.T, imp *importer.Import) {
			var got []string
			for _, f := range imp.Findings {
				got = append(got, f.String())
			}
			importertest.Equal(t, "findings", strings.Join(got, "\n"), `rollup-sum: x.xml: ElectionResult/ElectionVoterTurnout[1] (line 7): totalVoters is 5001 but its units' sum to 5000
rollup-sum: x.xml: ElectionResult/Contest[1]/Choice[1]/VoteType[2] (line 23): Mayor, ANN SMITH (DEM), Provisional: votes is 111 but its County elements sum to 110
vote-types-sum: x.xml: ElectionResult/Contest[1]/Choice[1] (line 18): Mayor, ANN SMITH (DEM): totalVotes is 1110 but its VoteTypes sum to 1111
vote-types-sum: x.xml: ElectionResult/Contest[1]/Choice[2] (line 28): Mayor, BOB JONES: totalVotes is 2221 but its VoteTypes sum to 2220`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imp := parse(t, []byte(tc.input), "x.xml", nil)
			if tc.check != nil {
				tc.check(t, imp)
			}
		})
	}
}

// TestHostile feeds broken and hostile files. Each must be refused with an
// *importer.Error that names the file, the element and what is wrong.
func TestHostile(t *testing.T) {
	for _, tc := range hostile(t) {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := clarity.Parse(strings.NewReader(tc.input), "x.xml", "test", nil)
			if err == nil {
				t.Fatalf("accepted: %d reports", len(imp.Reports))
			}
			e := importertest.AsError(t, err)
			importertest.Equal(t, "file", e.File, "x.xml")
			importertest.Equal(t, "where", e.Where, tc.where)
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tc.msg)
			}
		})
	}
}

type hostileCase struct {
	name  string
	input string
	where string // exactly
	msg   string // a part of the message
}

const (
	ann  = "ElectionResult/Contest[1]/Choice[1]"
	cobb = ann + "/VoteType[1]/County[1] (line 20)"
)

// hostile returns broken files and the errors they must give; FuzzParse uses
// them as seeds.
func hostile(t testing.TB) []hostileCase {
	big := strings.Repeat("A", clarity.MaxValueLength+1)
	return []hostileCase{
		{"empty", "", "", "empty file"},
		{"json", `{"electionName": "x"}`, "", `not XML: expected '<' at byte 0, found "{\"electionName\": \"x\"}"`},
		{"html", "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "", "<!DOCTYPE …> declarations are refused"},
		{"html no doctype", "<html><body>502 Bad Gateway</body></html>", "line 1", "the root element is <html>, want <ElectionResult>"},
		{"wrong root", `<?xml version="1.0"?>` + "\n<Results/>", "line 2", "the root element is <Results>"},
		{"truncated", sample[:strings.Index(sample, `<County name="Fulton" votes="99"/>`)], "ElectionResult/Contest[1]/Choice[1]/VoteType[2] (line 23)", "truncated document: it ends inside <VoteType>"},
		{"truncated root", strings.TrimSuffix(sample, "</ElectionResult>\n"), "ElectionResult (line 2)", "truncated document: it ends inside <ElectionResult>"},
		{"unclosed tag", edit(t, `</Choice>
<Choice key="2"`, `</Choose>
<Choice key="2"`), "ElectionResult/Contest[1]/Choice[1] (line 27)", "malformed XML: element <Choice> closed by </Choose>"},
		{"data after root", sample + "<ElectionResult/>", "line 40", "data after the root element"},
		{"invalid utf-8", edit(t, "BOB JONES", "BOB \xff JONES"), "line 28", "not valid UTF-8 at byte"},
		{"utf-16", "\xff\xfe<\x00E\x00", "", "UTF-16 byte order mark"},
		{"latin-1", edit(t, `encoding="UTF-8"`, `encoding="ISO-8859-1"`), "", `declared encoding "ISO-8859-1" is not supported`},
		{"non-ascii in ascii", edit(t, `encoding="UTF-8"`, `encoding="us-ascii"`, "BOB JONES", "BOB JOÑES"), ann[:len(ann)-2] + "2] (line 28)", "non-ASCII text in a file declared US-ASCII"},
		{"doctype", edit(t, `<ElectionResult>`, `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><ElectionResult>`), "", "<!DOCTYPE …> declarations are refused"},
		{"entity", edit(t, `text="BOB JONES"`, `text="&b;"`), "ElectionResult/Contest[1] (line 28)", "malformed XML: invalid character entity &b;"},
		{"illegal char", edit(t, `text="BOB JONES"`, `text="BOB&#7;JONES"`), "ElectionResult/Contest[1] (line 28)", `malformed XML: illegal character code U+0007`},
		{"control char", edit(t, `text="BOB JONES"`, `text="BOB&#x85;JONES"`), ann[:len(ann)-2] + "2] (line 28)", `attribute text: "BOB\u0085JONES" contains control characters`},
		{"markup in name", edit(t, `text="BOB JONES"`, `text="&lt;img src=x onerror=alert(1)"`), ann[:len(ann)-2] + "2] (line 28)", `"<img src=x onerror=alert(1)" contains markup`},
		{"markup left after tags", edit(t, `text="Mayor"`, `text="Mayor&lt;br&gt; &lt; 3"`), "ElectionResult/Contest[1] (line 13)", `attribute text: "Mayor < 3" contains markup`},
		{"control char in entity", edit(t, `text="BOB JONES"`, `text="BOB&amp;#7;JONES"`), ann[:len(ann)-2] + "2] (line 28)", `attribute text: "BOB\aJONES" contains control characters`},
		{"nul", edit(t, `BOB JONES`, "BOB\x00JONES"), "ElectionResult/Contest[1] (line 28)", "malformed XML: illegal character code U+0000"},
		{"huge attribute", edit(t, `text="BOB JONES"`, `text="`+big+`"`), ann[:len(ann)-2] + "2] (line 28)", "attribute text is 4097 bytes long, more than the limit of 4096"},
		{"long name", edit(t, `text="BOB JONES"`, `text="`+big[:300]+`"`), ann[:len(ann)-2] + "2] (line 28)", "attribute text: 300 bytes, longer than the limit of 256"},
		{"many attributes", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="100"`+manyAttrs()+`/>`), cobb, "65 attributes, more than the limit of 64"},
		{"negative", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="-100"/>`), cobb, `attribute votes: "-100" is negative`},
		{"fraction", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="99.5"/>`), cobb, `attribute votes: "99.5" is not a whole number`},
		{"exponent", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="1e2"/>`), cobb, `attribute votes: "1e2" is not a whole number`},
		{"empty votes", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes=""/>`), cobb, `attribute votes: empty`},
		{"missing votes", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb"/>`), cobb, `attribute votes: missing`},
		{"too many votes", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="1000000001"/>`), cobb, `attribute votes: "1000000001" is more than the limit of 1000000000`},
		{"overflow", edit(t, `<County name="Cobb" votes="100"/>`, `<County name="Cobb" votes="99999999999999999999"/>`), cobb, `is more than the limit`},
		{"negative turnout", edit(t, `ballotsCast="333"`, `ballotsCast="-1"`), "ElectionResult/ElectionVoterTurnout[1]/Counties[1]/County[1] (line 9)", `attribute ballotsCast: "-1" is negative`},
		{"county twice", edit(t, `<County name="Fulton" votes="900"/>`, `<County name="COBB COUNTY" votes="900"/>`), ann + "/VoteType[1]/County[2] (line 21)", `County "COBB COUNTY" (unit "cobb") appears twice in this VoteType`},
		{"county missing", edit(t, `<County name="Fulton" votes="99"/>`, ``), ann + "/VoteType[2] (line 23)", `missing County "Fulton": it is under the first VoteType of "Mayor"`},
		{"county extra", edit(t, `<County name="Fulton" votes="198"/>`, `<County name="Fulton" votes="198"/><County name="Cherokee" votes="1"/>`), "ElectionResult/Contest[1]/Choice[2]/VoteType[2]/County[3] (line 35)", `County "Cherokee" is not under the first VoteType of "Mayor"`},
		{"vote type twice", edit(t, `<VoteType name="Provisional" votes="220">`, `<VoteType name="ELECTION DAY" votes="220">`), "ElectionResult/Contest[1]/Choice[2]/VoteType[2] (line 33)", `vote type "ELECTION DAY" appears twice in Choice "BOB JONES"`},
		{"vote type missing", edit(t, `<VoteType name="Provisional" votes="220">
<County name="Cobb" votes="22"/>
<County name="Fulton" votes="198"/>
</VoteType>`, ``), "ElectionResult/Contest[1]/Choice[2] (line 28)", `missing vote type "Provisional" in Choice "BOB JONES"`},
		{"vote type extra", edit(t, `<VoteType name="Provisional" votes="220">`, `<VoteType name="Absentee" votes="220">`), "ElectionResult/Contest[1]/Choice[2]/VoteType[2] (line 33)", `vote type "Absentee" is not among the VoteTypes of the first Choice`},
		{"choice twice", edit(t, `text="BOB JONES"`, `text="Ann Smith"`), "ElectionResult/Contest[1]/Choice[2] (line 28)", `Choice "Ann Smith" gives ID "ann-smith", as Choice[1] "ANN SMITH (DEM)" does`},
		{"choice key twice", edit(t, `<Choice key="2"`, `<Choice key="1"`), "ElectionResult/Contest[1]/Choice[2] (line 28)", `key "1" is used twice`},
		{"no letters", edit(t, `text="BOB JONES"`, `text="???"`), "ElectionResult/Contest[1]/Choice[2] (line 28)", `text "???" has no letters or digits`},
		{"vote for 0", edit(t, `voteFor="1"`, `voteFor="0"`), "ElectionResult/Contest[1] (line 13)", `attribute voteFor: 0, want at least 1`},
		{"vote for too many", edit(t, `voteFor="1"`, `voteFor="1001"`), "ElectionResult/Contest[1] (line 13)", `attribute voteFor: 1001, more than the limit of 1000`},
		{"is question", edit(t, `isQuestion="false"`, `isQuestion="maybe"`), "ElectionResult/Contest[1] (line 13)", `attribute isQuestion: "maybe", want true or false`},
		{"no choices", edit(t, `</ParticipatingCounties>`, `</ParticipatingCounties></Contest><Contest text="Empty" voteFor="1">`), "ElectionResult/Contest[1] (line 13)", `no <Choice> in "Mayor"`},
		{"not participating", edit(t, `<County name="Fulton"/>`, ``), "ElectionResult/Contest[1] (line 13)", `County "Fulton" reports "Mayor" but is not among its ParticipatingCounties`},
		{"participating twice", edit(t, `<County name="Fulton"/>`, `<County name="Cobb"/>`), "ElectionResult/Contest[1]/ParticipatingCounties[1]/County[2] (line 16)", `County "Cobb" (unit "cobb") is listed twice`},
		{"turnout twice", edit(t, `<Contest key="10"`, `<VoterTurnout/><Contest key="10"`), "ElectionResult/VoterTurnout[1] (line 13)", `a second turnout element`},
		{"turnout county twice", edit(t, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="Cobb" totalVoters="4000" ballotsCast="2997"/>`), "ElectionResult/ElectionVoterTurnout[1]/Counties[1]/County[2] (line 10)", `County "Cobb" (unit "cobb") is listed twice`},
		{"turnout half", edit(t, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="Fulton" totalVoters="4000"/>`), "ElectionResult/ElectionVoterTurnout[1]/Counties[1]/County[2] (line 10)", `has one of totalVoters and ballotsCast`},
		{"turnout missing", edit(t, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="Fulton"/>`), "ElectionResult/ElectionVoterTurnout[1]/Counties[1]/County[2] (line 10)", `missing totalVoters and ballotsCast`},
		{"mixed levels", edit(t, `<County name="Fulton" votes="900"/>`, `<Precinct name="Fulton" votes="900"/>`), ann + "/VoteType[1]/Precinct[1] (line 21)", `a <Precinct> in a file of <County> results`},
		{"county is root", edit(t, `<County name="Fulton" totalVoters="4000" ballotsCast="2997"/>`, `<County name="GA" totalVoters="4000" ballotsCast="2997"/>`), "ElectionResult/ElectionVoterTurnout[1]/Counties[1]/County[2] (line 10)", `County "GA" gives unit ID "ga", the root unit's`},
		{"blank county", edit(t, `<County name="Fulton" votes="900"/>`, `<County name=" " votes="900"/>`), ann + "/VoteType[1]/County[2] (line 21)", `attribute name: missing`},
		{"timestamp twice", edit(t, `<Region>GA</Region>`, `<Region>GA</Region><Timestamp>x</Timestamp>`), "ElectionResult/Timestamp[2] (line 6)", `<Timestamp> appears twice`},
		{"no timestamp", edit(t, `<Timestamp>4/18/2017 11:21:23 PM EDT</Timestamp>`, ``), "ElectionResult/ElectionVoterTurnout[1] (line 7)", `missing <Timestamp>`},
		{"region late", edit(t, `<Region>GA</Region>`, ``, `</ElectionResult>`, `<Region>GA</Region></ElectionResult>`), "ElectionResult/ElectionVoterTurnout[1] (line 7)", `missing <Region>`},
		{"bad date", edit(t, `<ElectionDate>4/18/2017</ElectionDate>`, `<ElectionDate>18.4.2017</ElectionDate>`), "ElectionResult/ElectionDate[1] (line 5)", `"18.4.2017" is not a date`},
		{"element in text", edit(t, `<Region>GA</Region>`, `<Region><b>GA</b></Region>`), "ElectionResult/Region[1] (line 6)", `unexpected element <b> inside text`},
		{"no contests", `<ElectionResult><Timestamp>t</Timestamp><ElectionName>n</ElectionName><ElectionDate>1/1/2020</ElectionDate><Region>GA</Region></ElectionResult>`, "ElectionResult (line 1)", "no contests"},
		{"no results", edit(t, `<VoteType name="Election Day" votes="1000">`, `<VoteType name="Election Day" votes="1000"><Foo/>`)[:0] + `<ElectionResult><Timestamp>t</Timestamp><ElectionName>n</ElectionName><ElectionDate>1/1/2020</ElectionDate><Region>GA</Region><Contest text="A" voteFor="1"><Choice text="B"/></Contest></ElectionResult>`, "ElectionResult (line 1)", "no results"},
	}
}

func manyAttrs() string {
	var b strings.Builder
	for i := 0; i < 63; i++ {
		b.WriteString(` a` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `="1"`)
	}
	return b.String()
}

// TestTruncations cuts a real file at many points: every cut is refused
// with an *importer.Error, never a panic.
func TestTruncations(t *testing.T) {
	data := readFile(t, "atkinson_precincts_2020-11-03_GA_G_P.xml")
	for n := 0; n < len(data)-4; n += 37 {
		_, err := clarity.Parse(bytes.NewReader(data[:n]), "x.xml", "test", nil)
		if err == nil {
			t.Fatalf("a cut at byte %d was accepted", n)
		}
		importertest.AsError(t, err)
	}
}

func TestTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 256 MiB")
	}
	_, err := clarity.Parse(importertest.Endless("<ElectionResult>", ' '), "x.xml", "test", nil)
	importertest.Equal(t, "error", importertest.AsError(t, err).Error(), "x.xml: larger than the limit of 268435456 bytes")
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := clarity.Parse(io.MultiReader(strings.NewReader(sample[:100]), iotest.ErrReader(boom)), "x.xml", "test", nil)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the read error", err)
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := clarity.Parse(strings.NewReader(sample), "x.xml", "GA 06", nil); err == nil || !strings.Contains(err.Error(), `"GA 06" is not a valid election ID`) {
		t.Errorf("bad election ID: %v", err)
	}
	if _, err := clarity.Parse(strings.NewReader(sample), "", "test", nil); err == nil {
		t.Error("empty file name accepted")
	}
	if _, err := clarity.Parse(strings.NewReader(sample), "x.xml", "test", &clarity.Options{Root: "Cobb County"}); err == nil || !strings.Contains(err.Error(), "is not a slug") {
		t.Errorf("bad root: %v", err)
	}
}
