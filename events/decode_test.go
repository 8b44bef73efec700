package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
)

// Valid events that the bad inputs below break in one place each.
const (
	validReport = `{"v":1,"type":"count.reported","id":"015b8415-9a60-7d35-85fc-54e0f33a4994","election":"ga06-2017-04",` +
		`"data":{"unit":"dekalb","contest":"us-house-6","counts":[` +
		`{"choice":"ossoff","vote_type":"election-day","votes":17300},` +
		`{"choice":"handel","vote_type":"election-day","votes":6168}],` +
		`"source":{"file":"export-2017AprSpec.json","sha256":"922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb"}}}`

	validManifest = `{"v":1,"type":"election.defined","id":"015b582a-0300-75b3-abf2-579a5eb66403","election":"ga06-2017-04",` +
		`"data":{"name":"April 18, 2017 - Special Election","date":"2017-04-18",` +
		`"vote_types":[{"id":"election-day","name":"Election Day"},{"id":"absentee-by-mail","name":"Absentee by Mail"}],` +
		`"units":[{"id":"ga","name":"Georgia","kind":"state"},` +
		`{"id":"cobb","name":"Cobb County","kind":"county","parent":"ga"},` +
		`{"id":"fulton","name":"Fulton County","kind":"county","parent":"ga"}],` +
		`"contests":[{"id":"us-house-6","name":"U.S. Representative, District 6","vote_for":1,` +
		`"choices":[{"id":"handel","name":"Karen Handel"},{"id":"ossoff","name":"Jon Ossoff"}]},` +
		`{"id":"ga-senate-32","name":"State Senator, District 32","vote_for":1,"units":["cobb","fulton"],` +
		`"choices":[{"id":"kirkpatrick","name":"Kay Kirkpatrick"},{"id":"triebsch","name":"Christine Triebsch"}]}]}}`

	validCorrection = `{"v":1,"type":"count.corrected","id":"015b8468-ea80-7726-b69f-6041cc5b87b0","election":"ga06-2017-04",` +
		`"data":{"corrects":"015b83d4-99c0-7ac0-90e6-93c9a75860ed","reason":"memory card re-read",` +
		`"unit":"fulton","contest":"us-house-6","counts":[{"choice":"ossoff","vote_type":"election-day","votes":22086}],` +
		`"source":{"operator":"fulton-elections"}}}`

	validRetraction = `{"v":1,"type":"count.retracted","id":"015b842b-9360-7014-af2c-f77a69e95865","election":"ga06-2017-04",` +
		`"data":{"retracts":"015b8422-6ba0-76b3-9254-15909137d0b7","reason":"wrong contest","source":{"operator":"cobb-elections"}}}`

	validCertification = `{"v":1,"type":"election.certified","id":"015bb626-1200-700a-ac10-8553e242e3d6","election":"ga06-2017-04",` +
		`"data":{"by":"Georgia Secretary of State"}}`
)

// sub returns s with old replaced by new, once. It panics if old is not in
// s, so that a typo cannot turn a bad input into the valid one.
func sub(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic(fmt.Sprintf("%q occurs %d times in %s", old, strings.Count(s, old), s))
	}
	return strings.Replace(s, old, new, 1)
}

func TestDecodeBasesAreValid(t *testing.T) {
	for _, s := range []string{validReport, validManifest, validCorrection, validRetraction, validCertification} {
		if _, err := events.Decode([]byte(s)); err != nil {
			t.Errorf("Decode(%s): %v", s, err)
		}
	}
}

// oversized is validReport padded with spaces to n bytes.
func oversized(n int) string {
	return validReport[:len(validReport)-1] + strings.Repeat(" ", n-len(validReport)) + "}"
}

func TestDecodeBad(t *testing.T) {
	const (
		reportData = `"data":{"unit"`
		firstCount = `{"choice":"ossoff","vote_type":"election-day","votes":17300}`
		votes      = `"votes":17300`
		source     = `"source":{"file":"export-2017AprSpec.json","sha256":"922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb"}`
		sha256     = `"sha256":"922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb"`
		id         = `"id":"015b8415-9a60-7d35-85fc-54e0f33a4994"`
		election   = `"election":"ga06-2017-04"`
	)
	tests := []struct {
		name  string
		in    string
		field string
		msg   string // a substring of the message
	}{
		// Not an event at all.
		{"empty", ``, "", "empty event"},
		{"whitespace only", " \t\r\n ", "", "empty event"},
		{"truncated JSON", validReport[:40], "", "unexpected end of input"},
		{"malformed JSON", sub(validReport, `"v":1,`, `"v":1,,`), "", "malformed JSON at byte 7: invalid character ','"},
		{"single quotes", `{'v':1}`, "", "malformed JSON"},
		{"JSON array", "[" + validReport + "]", "", "expected a JSON object, got array"},
		{"JSON string", `"count.reported"`, "", "expected a JSON object, got string"},
		{"trailing object", validReport + `{}`, "", "unexpected data after the JSON object"},
		{"trailing garbage", validReport + ` x`, "", "unexpected data after the JSON object"},
		{"two events", validReport + "\n" + validReport, "", "unexpected data after the JSON object"},
		{"oversized", oversized(events.MaxEventSize + 1), "", "57344 bytes, more than the limit of 57343"},

		// The envelope.
		{"unknown top-level field", sub(validReport, id, id+`,"signature":"x"`), "signature", "unknown field"},
		{"missing v", sub(validReport, `"v":1,`, ``), "v", "missing"},
		{"null v", sub(validReport, `"v":1,`, `"v":null,`), "v", "missing"},
		{"v is 2", sub(validReport, `"v":1,`, `"v":2,`), "v", "unsupported format version 2"},
		{"v is 0", sub(validReport, `"v":1,`, `"v":0,`), "v", "unsupported format version 0"},
		{"v is a string", sub(validReport, `"v":1,`, `"v":"1",`), "v", "wrong type: got string, want an integer"},
		{"v is a fraction", sub(validReport, `"v":1,`, `"v":1.0,`), "v", "want an integer"},
		{"missing type", sub(validReport, `"type":"count.reported",`, ``), "type", "missing: one of election.defined"},
		{"unknown type", sub(validReport, `"count.reported"`, `"count.deleted"`), "type", `unknown event type "count.deleted"`},
		{"type is a number", sub(validReport, `"count.reported"`, `7`), "type", "want a string"},
		{"missing id", sub(validReport, id+`,`, ``), "id", "missing: a UUIDv7"},
		{"id is an object", sub(validReport, id, `"id":{"uuid":"015b8415-9a60-7d35-85fc-54e0f33a4994"}`), "id", "wrong type: got object, want a string"},
		{"id is UUIDv4", sub(validReport, id, `"id":"9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b"`), "id", "is a version 4 UUID; event IDs must be UUIDv7"},
		{"id is nil UUID", sub(validReport, id, `"id":"00000000-0000-0000-0000-000000000000"`), "id", "version 0 UUID"},
		{"id without dashes", sub(validReport, id, `"id":"015b84159a607d3585fc54e0f33a4994"`), "id", "not a UUID in canonical form"},
		{"id in braces", sub(validReport, id, `"id":"{015b8415-9a60-7d35-85fc-54e0f33a4994}"`), "id", "not a UUID in canonical form"},
		{"id as URN", sub(validReport, id, `"id":"urn:uuid:015b8415-9a60-7d35-85fc-54e0f33a4994"`), "id", "not a UUID in canonical form"},
		{"id not hex", sub(validReport, id, `"id":"015b8415-9a60-7d35-85fc-54e0f33a499z"`), "id", "is not a UUID"},
		{"missing election", sub(validReport, election+`,`, ``), "election", "missing: the election ID"},
		{"election is a number", sub(validReport, election, `"election":2017`), "election", "wrong type: got number, want a string"},
		{"election uppercase", sub(validReport, election, `"election":"GA06-2017-04"`), "election", `"GA06-2017-04" is not a valid election ID`},
		{"election with dots", sub(validReport, election, `"election":"ga06.2017.04"`), "election", "is not a valid election ID"},
		{"election empty", sub(validReport, election, `"election":""`), "election", `"" is not a valid election ID`},
		{"election too long", sub(validReport, election, `"election":"`+strings.Repeat("g", 65)+`"`), "election", "is not a valid election ID"},
		{"election starts with dash", sub(validReport, election, `"election":"-ga06"`), "election", "is not a valid election ID"},
		{"no data", `{"v":1,"type":"count.reported",` + id + `,` + election + `}`, "data", "missing: the body of the count.reported event"},
		{"null data", `{"v":1,"type":"count.reported",` + id + `,` + election + `,"data":null}`, "data", "missing"},
		{"data is an array", `{"v":1,"type":"count.reported",` + id + `,` + election + `,"data":[]}`, "data", "expected a JSON object, got array"},
		{"data is a string", `{"v":1,"type":"count.reported",` + id + `,` + election + `,"data":"17300"}`, "data", "expected a JSON object, got string"},
		{"negative expected_version", sub(validReport, id, id+`,"expected_version":-1`), "expected_version", "want a non-negative integer"},
		{"expected_version on a certification", sub(validCertification, `"data"`, `"expected_version":3,"data"`), "expected_version", "only count events"},

		// A count report.
		{"unknown data field", sub(validReport, reportData, `"data":{"precinct":"x","unit"`), "data.precinct", "unknown field"},
		{"missing unit", sub(validReport, `"unit":"dekalb",`, ``), "data.unit", "missing"},
		{"unit with a space", sub(validReport, `"unit":"dekalb"`, `"unit":"de kalb"`), "data.unit", `"de kalb" is not a valid ID`},
		{"unit too long", sub(validReport, `"unit":"dekalb"`, `"unit":"`+strings.Repeat("p", events.MaxIDLength+1)+`"`), "data.unit", "longer than 128 bytes"},
		{"votes is a string", sub(validReport, votes, `"votes":"17300"`), "data.counts[0].votes", "wrong type: got string, want an integer"},
		{"votes overflow int64", sub(validReport, votes, `"votes":99999999999999999999`), "data.counts[0].votes", "got number 99999999999999999999, want an integer"},
		{"votes is a fraction", sub(validReport, votes, `"votes":17300.5`), "data.counts[0].votes", "want an integer"},
		{"negative votes", sub(validReport, votes, `"votes":-1`), "data.counts[0].votes", "-1 is negative"},
		{"votes over MaxVotes", sub(validReport, votes, fmt.Sprintf(`"votes":%d`, events.MaxVotes+1)), "data.counts[0].votes", "is more than the limit of 1000000000"},
		{"counts is an object", sub(validReport, `"counts":[`+firstCount+`,`, `"counts":{"a":`+firstCount+`},"x":[`), "data.counts", "wrong type: got object, want an array"},
		{"zero counts", sub(validReport, `"counts":[`+firstCount+`,{"choice":"handel","vote_type":"election-day","votes":6168}]`, `"counts":[]`), "data.counts", "at least one count"},
		{"null counts", sub(validReport, `"counts":[`+firstCount+`,{"choice":"handel","vote_type":"election-day","votes":6168}]`, `"counts":null`), "data.counts", "at least one count"},
		{"duplicate choice and vote type", sub(validReport, firstCount, firstCount+`,`+firstCount), "data.counts", `choice "ossoff", vote type "election-day" is counted twice`},
		{"missing choice", sub(validReport, `{"choice":"ossoff",`, `{`), "data.counts[0].choice", "missing"},
		{"missing vote type", sub(validReport, `"vote_type":"election-day","votes":17300`, `"votes":17300`), "data.counts[0].vote_type", "missing"},
		{"missing source", sub(validReport, `,`+source, ``), "data.source", "name a file (with its sha256) or an operator"},
		{"empty source", sub(validReport, source, `"source":{}`), "data.source", "name a file"},
		{"file without sha256", sub(validReport, `,`+sha256, ``), "data.source.sha256", `"" is not a lowercase hex SHA-256`},
		{"uppercase sha256", sub(validReport, sha256, `"sha256":`+strings.ToUpper(sha256[len(`"sha256":`):])), "data.source.sha256", "is not a lowercase hex SHA-256"},
		{"field name in the wrong case", sub(validReport, sha256, strings.ToUpper(sha256)), "data.source.SHA256", "unknown field"},
		{"field given twice", sub(validReport, votes, votes+`,"votes":1`), "data.counts[0].votes", "appears twice"},
		{"short sha256", sub(validReport, sha256, sha256[:len(sha256)-2]+`"`), "data.source.sha256", "is not a lowercase hex SHA-256"},
		{"sha256 without file", sub(validReport, source, `"source":{"operator":"dekalb-elections",`+sha256+`}`), "data.source.file", "a sha256 needs the file"},
		{"control character in operator", sub(validReport, source, `"source":{"operator":"dekalb\u0007elections"}`), "data.source.operator", "contains control characters"},
		{"too many counts", sub(validReport, firstCount, manyCounts(events.MaxCountRows)), "data.counts", "601 counts, more than the limit of 600"},

		// A manifest.
		{"manifest name with a newline", sub(validManifest, `"name":"April 18, 2017 - Special Election"`, `"name":"April 18, 2017\n- Special Election"`), "data.name", "contains control characters"},
		{"choice name with a control character", sub(validManifest, `"Jon Ossoff"`, `"Jon\u001bOssoff"`), "data.contests[0].choices[1].name", "contains control characters"},
		{"choice name with a C1 control", sub(validManifest, `"Jon Ossoff"`, `"Jon\u0085Ossoff"`), "data.contests[0].choices[1].name", "contains control characters"},
		{"unit name with trailing space", sub(validManifest, `"Cobb County"`, `"Cobb County "`), "data.units[1].name", "leading or trailing space"},
		{"name too long", sub(validManifest, `"Fulton County"`, `"`+strings.Repeat("F", events.MaxNameLength+1)+`"`), "data.units[2].name", "longer than 256 bytes"},
		{"bad date", sub(validManifest, `"2017-04-18"`, `"2017-04-31"`), "data.date", `"2017-04-31" is not a date`},
		{"US date", sub(validManifest, `"2017-04-18"`, `"04/18/2017"`), "data.date", "YYYY-MM-DD"},
		{"no vote types", sub(validManifest, `[{"id":"election-day","name":"Election Day"},{"id":"absentee-by-mail","name":"Absentee by Mail"}]`, `[]`), "data.vote_types", "at least one vote type"},
		{"duplicate vote type", sub(validManifest, `"absentee-by-mail"`, `"election-day"`), "data.vote_types[1].id", `duplicate ID "election-day"`},
		{"unit with unknown parent", sub(validManifest, `"kind":"county","parent":"ga"}]`, `"kind":"county","parent":"gwinnett"}]`), "data.units[2].parent", `"gwinnett" is not a unit listed before this one`},
		{"unit whose parent is listed later", sub(validManifest, `"kind":"county","parent":"ga"},`, `"kind":"county","parent":"fulton"},`), "data.units[1].parent", `"fulton" is not a unit listed before this one`},
		{"unit that is its own parent", sub(validManifest, `"kind":"county","parent":"ga"},`, `"kind":"county","parent":"cobb"},`), "data.units[1].parent", `"cobb" is not a unit listed before this one`},
		{"second root", sub(validManifest, `"kind":"county","parent":"ga"},`, `"kind":"county"},`), "data.units[1].parent", "missing: only the first unit is a root"},
		{"root with a parent", sub(validManifest, `"kind":"state"}`, `"kind":"state","parent":"us"}`), "data.units[0].parent", "the first unit is the root"},
		{"duplicate unit", sub(validManifest, `{"id":"fulton","name":"Fulton County"`, `{"id":"cobb","name":"Fulton County"`), "data.units[2].id", `duplicate ID "cobb"`},
		{"no units", sub(validManifest, validManifest[strings.Index(validManifest, `"units":[{`):strings.Index(validManifest, `,"contests"`)], `"units":[]`), "data.units", "at least one reporting unit"},
		{"duplicate contest IDs", sub(validManifest, `"id":"ga-senate-32"`, `"id":"us-house-6"`), "data.contests[1].id", `duplicate ID "us-house-6"`},
		{"vote_for 0", sub(validManifest, `"vote_for":1,"units"`, `"vote_for":0,"units"`), "data.contests[1].vote_for", "0 is not between 1 and 1000"},
		{"unknown contest kind", sub(validManifest, `"vote_for":1,"units"`, `"vote_for":1,"kind":"referendum","units"`), "data.contests[1].kind", `"referendum" is not a contest kind`},
		{"turnout with vote_for", sub(validManifest, `"vote_for":1,"units"`, `"vote_for":1,"kind":"turnout","units"`), "data.contests[1].vote_for", "a turnout contest has no vote_for"},
		{"no choices", sub(validManifest, `"choices":[{"id":"handel","name":"Karen Handel"},{"id":"ossoff","name":"Jon Ossoff"}]`, `"choices":[]`), "data.contests[0].choices", "at least one choice is needed"},
		{"duplicate choice", sub(validManifest, `"id":"ossoff"`, `"id":"handel"`), "data.contests[0].choices[1].id", `duplicate ID "handel"`},
		{"contest scoped to an unknown unit", sub(validManifest, `"units":["cobb","fulton"]`, `"units":["cobb","gwinnett"]`), "data.contests[1].units[1]", `"gwinnett" is not a unit of this election`},
		{"contest scoped twice to a unit", sub(validManifest, `"units":["cobb","fulton"]`, `"units":["cobb","cobb"]`), "data.contests[1].units[1]", `duplicate ID "cobb"`},
		{"empty alias", sub(validManifest, `{"id":"ossoff","name":"Jon Ossoff"}`, `{"id":"ossoff","name":"Jon Ossoff","aliases":["JON OSSOFF",""]}`), "data.contests[0].choices[1].aliases[1]", "missing"},

		// Corrections, retractions, certifications.
		{"correction without reason", sub(validCorrection, `"reason":"memory card re-read",`, ``), "data.reason", "missing"},
		{"correction with blank reason", sub(validCorrection, `"reason":"memory card re-read"`, `"reason":" "`), "data.reason", "leading or trailing space"},
		{"correction of a UUIDv4", sub(validCorrection, `"corrects":"015b83d4-99c0-7ac0-90e6-93c9a75860ed"`, `"corrects":"9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b"`), "data.corrects", "9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b is not an event ID (UUIDv7)"},
		{"correction without corrects", sub(validCorrection, `"corrects":"015b83d4-99c0-7ac0-90e6-93c9a75860ed",`, ``), "data.corrects", "00000000-0000-0000-0000-000000000000 is not an event ID"},
		{"correction with numeric corrects", sub(validCorrection, `"corrects":"015b83d4-99c0-7ac0-90e6-93c9a75860ed"`, `"corrects":42`), "data.corrects", "want a UUID string"},
		{"correction with bad counts", sub(validCorrection, `"votes":22086`, `"votes":-22086`), "data.counts[0].votes", "is negative"},
		{"retraction of a nil ID", sub(validRetraction, `"retracts":"015b8422-6ba0-76b3-9254-15909137d0b7"`, `"retracts":"00000000-0000-0000-0000-000000000000"`), "data.retracts", "is not an event ID (UUIDv7)"},
		{"retraction without source", sub(validRetraction, `,"source":{"operator":"cobb-elections"}`, ``), "data.source", "name a file"},
		{"retraction with counts", sub(validRetraction, `"reason"`, `"counts":[],"reason"`), "data.counts", "unknown field"},
		{"certification without by", sub(validCertification, `{"by":"Georgia Secretary of State"}`, `{"note":"final"}`), "data.by", "missing"},
		{"certification note too long", sub(validCertification, `"}}`, `","note":"`+strings.Repeat("n", events.MaxReasonLength+1)+`"}}`), "data.note", "longer than 2048 bytes"},
	}
	names := map[string]bool{}
	for _, tt := range tests {
		if names[tt.name] {
			t.Fatalf("two cases named %q", tt.name)
		}
		names[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			ev, err := events.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode succeeded; want an error at %q containing %q", tt.field, tt.msg)
			}
			if ev != nil {
				t.Errorf("Decode returned an event with its error: %+v", ev)
			}
			var e *events.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *events.Error", err, err)
			}
			if e.Field != tt.field {
				t.Errorf("Field = %q, want %q (error: %v)", e.Field, tt.field, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, tt.msg)
			}
		})
	}
}

// manyCounts returns n+1 count rows with distinct choices, in JSON.
func manyCounts(n int) string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf(`{"choice":"c%d","vote_type":"election-day","votes":%d}`, i, i)
	}
	return strings.Join(rows, ",")
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *events.Error
		want string
	}{
		{&events.Error{Field: "data.counts[0].votes", Msg: "-1 is negative"}, "data.counts[0].votes: -1 is negative"},
		{&events.Error{Msg: "empty event: expected a JSON object"}, "empty event: expected a JSON object"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func mustDecode(t *testing.T, s string) *events.Event {
	t.Helper()
	ev, err := events.Decode([]byte(s))
	if err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return ev
}

func mustEncode(t *testing.T, ev *events.Event) string {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeSortsCounts(t *testing.T) {
	in := sub(validReport, `"counts":[`, `"counts":[{"choice":"ossoff","vote_type":"absentee-by-mail","votes":1850},`+
		`{"choice":"gray","vote_type":"provisional","votes":40},{"choice":"handel","vote_type":"absentee-by-mail","votes":156},`)
	ev := mustDecode(t, in)
	var got []string
	for _, c := range ev.Counts().Counts {
		got = append(got, fmt.Sprintf("%s/%s=%d", c.Choice, c.VoteType, c.Votes))
	}
	want := []string{
		"gray/provisional=40",
		"handel/absentee-by-mail=156",
		"handel/election-day=6168",
		"ossoff/absentee-by-mail=1850",
		"ossoff/election-day=17300",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("counts = %v, want %v", got, want)
	}
	enc := mustEncode(t, ev)
	if !strings.Contains(enc, `"counts":[{"choice":"gray","vote_type":"provisional","votes":40},{"choice":"handel","vote_type":"absentee-by-mail","votes":156},`) {
		t.Errorf("Encode does not write the counts sorted: %s", enc)
	}

	// A correction's counts are sorted too.
	corr := sub(validCorrection, `"counts":[`, `"counts":[{"choice":"handel","vote_type":"election-day","votes":14539},{"choice":"ossoff","vote_type":"absentee-by-mail","votes":1477},`)
	ev = mustDecode(t, corr)
	var order []string
	for _, c := range ev.Counts().Counts {
		order = append(order, c.Choice+"/"+c.VoteType)
	}
	if want := "handel/election-day ossoff/absentee-by-mail ossoff/election-day"; strings.Join(order, " ") != want {
		t.Errorf("correction counts = %v, want %s", order, want)
	}
}

// TestDecodeGood covers inputs at the edges of what is allowed, and what
// Decode makes of them.
func TestDecodeGood(t *testing.T) {
	t.Run("surrounding whitespace", func(t *testing.T) {
		ev := mustDecode(t, "\n\t "+validReport+"\r\n")
		if got := mustEncode(t, ev); got != mustEncode(t, mustDecode(t, validReport)) {
			t.Errorf("whitespace changed the event: %s", got)
		}
	})
	t.Run("exactly MaxEventSize", func(t *testing.T) {
		mustDecode(t, oversized(events.MaxEventSize))
	})
	t.Run("zero and MaxVotes", func(t *testing.T) {
		in := sub(validReport, `"votes":17300`, fmt.Sprintf(`"votes":%d`, events.MaxVotes))
		in = sub(in, `"votes":6168`, `"votes":0`)
		ev := mustDecode(t, in)
		c := ev.Counts().Counts
		if c[0].Votes != 0 || c[1].Votes != events.MaxVotes {
			t.Errorf("counts = %+v", c)
		}
	})
	t.Run("64-character election ID", func(t *testing.T) {
		long := strings.Repeat("g", 64)
		ev := mustDecode(t, sub(validReport, `"election":"ga06-2017-04"`, `"election":"`+long+`"`))
		if ev.Election != long {
			t.Errorf("Election = %q", ev.Election)
		}
	})
	t.Run("operator only", func(t *testing.T) {
		ev := mustDecode(t, sub(validReport, `"source":{"file":"export-2017AprSpec.json","sha256":"922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb"}`, `"source":{"operator":"dekalb-elections"}`))
		if got := ev.Counts().Source; got != (events.Source{Operator: "dekalb-elections"}) {
			t.Errorf("Source = %+v", got)
		}
	})
	t.Run("expected_version", func(t *testing.T) {
		for _, s := range []string{validReport, validCorrection, validRetraction} {
			ev := mustDecode(t, sub(s, `"data"`, `"expected_version":18446744073709551615,"data"`))
			if ev.ExpectedVersion == nil || *ev.ExpectedVersion != 1<<64-1 {
				t.Errorf("%s: ExpectedVersion = %v", ev.Type(), ev.ExpectedVersion)
			}
			if enc := mustEncode(t, ev); !strings.Contains(enc, `"expected_version":18446744073709551615,`) {
				t.Errorf("%s: expected_version lost in %s", ev.Type(), enc)
			}
		}
	})
	t.Run("expected_version 0 is kept", func(t *testing.T) {
		ev := mustDecode(t, sub(validReport, `"data"`, `"expected_version":0,"data"`))
		if ev.ExpectedVersion == nil || *ev.ExpectedVersion != 0 {
			t.Fatalf("ExpectedVersion = %v, want 0", ev.ExpectedVersion)
		}
		if ev := mustDecode(t, validReport); ev.ExpectedVersion != nil {
			t.Errorf("absent expected_version decodes as %d", *ev.ExpectedVersion)
		}
	})
	t.Run("field order and escapes are normalised", func(t *testing.T) {
		in := `{"data":{"by":"Georgia Secretary of State"},"election":"ga06-2017-04","id":"015bb626-1200-700a-ac10-8553e242e3d6",` +
			`"type":"election.certif\u0069ed","v":1}`
		if got := mustEncode(t, mustDecode(t, in)); got != validCertification {
			t.Errorf("Encode = %s\nwant %s", got, validCertification)
		}
	})
	t.Run("Counts", func(t *testing.T) {
		if c := mustDecode(t, validReport).Counts(); c == nil || c.Unit != "dekalb" {
			t.Errorf("report: Counts() = %+v", c)
		}
		if c := mustDecode(t, validCorrection).Counts(); c == nil || c.Unit != "fulton" {
			t.Errorf("correction: Counts() = %+v", c)
		}
		for _, s := range []string{validManifest, validRetraction, validCertification} {
			if ev := mustDecode(t, s); ev.Counts() != nil {
				t.Errorf("%s: Counts() = %+v, want nil", ev.Type(), ev.Counts())
			}
		}
	})
}

// TestEventJSON checks that an Event inside another JSON document is
// encoded canonically and decoded strictly.
func TestEventJSON(t *testing.T) {
	type envelope struct {
		Seq   int           `json:"seq"`
		Event *events.Event `json:"event"`
	}
	b, err := json.Marshal(envelope{Seq: 7, Event: mustDecode(t, validCertification)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"seq":7,"event":` + validCertification + `}`; string(b) != want {
		t.Errorf("json.Marshal = %s\nwant %s", b, want)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if got := mustEncode(t, env.Event); got != validCertification {
		t.Errorf("round trip through json = %s", got)
	}
	bad := `{"seq":8,"event":` + sub(validCertification, `"v":1`, `"v":2`) + `}`
	var e *events.Error
	if err := json.Unmarshal([]byte(bad), &env); !errors.As(err, &e) || e.Field != "v" {
		t.Errorf("json.Unmarshal of a v2 event: %v, want an *events.Error for field v", err)
	}
}

// TestDecodeNeverPanics feeds Decode every prefix of every golden file and
// every golden file with one byte removed: each is refused with an *Error,
// or (rarely) still valid.
func TestDecodeNeverPanics(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		golden, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs := [][]byte{}
		for i := range golden {
			inputs = append(inputs, golden[:i])
			inputs = append(inputs, append(bytes.Clone(golden[:i]), golden[i+1:]...))
		}
		for _, in := range inputs {
			ev, err := events.Decode(in)
			if err == nil {
				if _, err := ev.Encode(); err != nil {
					t.Errorf("Decode(%s) succeeded but Encode failed: %v", in, err)
				}
				continue
			}
			var e *events.Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Errorf("Decode(%s): error %v (%T) is not an *events.Error with a message", in, err, err)
			}
		}
	}
}

func TestDecodeEntryBad(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join(goldenDir, "entry.rejected.json"))
	if err != nil {
		t.Fatal(err)
	}
	entry := string(golden)
	const recorded = `"recorded":"2017-04-19T02:50:01Z"`
	tests := []struct {
		name  string
		in    string
		msg   string
		field string // for errors that wrap an *events.Error, its Field; "-" for none
	}{
		{"empty", ``, "malformed JSON", ""},
		{"trailing data", entry + `{}`, "unexpected data after the JSON object", ""},
		{"unknown field", sub(entry, `"index":2`, `"index":2,"node":"ledger-1"`), "unknown field", "node"},
		{"v 3", sub(entry, `{"v":2,"index"`, `{"v":3,"index"`), "unsupported format version 3", "-"},
		{"v 1", sub(entry, `{"v":2,"index"`, `{"v":1,"index"`), "format 1, from before submissions were signed", "-"},
		{"missing v", sub(entry, `{"v":2,"index"`, `{"index"`), "unsupported format version 0", "-"},
		{"missing submission", sub(entry, entry[strings.Index(entry, `,"submission"`):strings.Index(entry, `,"event"`)], ``), "submission: missing", "submission"},
		{"submission without id", sub(entry, `"submission":{"id":"015b841d-d7c0-70cd-938a-2ea64f612b36",`, `"submission":{`), "missing", "submission.id"},
		{"submission id not v7", sub(entry, `015b841d-d7c0-70cd-938a-2ea64f612b36`, `015b841d-d7c0-40cd-938a-2ea64f612b36`), "UUIDv7", "submission.id"},
		{"submission sha256 upper case", sub(entry, `9a241fa7035b`, `9A241FA7035B`), "64 lower-case hex digits", "submission.sha256"},
		{"submission sha256 short", sub(entry, `"sha256":"9a241fa7035b`, `"sha256":"9a241fa703`), "64 lower-case hex digits", "submission.sha256"},
		{"submission item negative", sub(entry, `"item":0`, `"item":-1`), "want the event's place", "submission.item"},
		{"submission item too large", sub(entry, `"item":0`, `"item":10000`), "want the event's place", "submission.item"},
		{"submission signer not a key", sub(entry, `"signer":"cobb-elections+ab858bff+`, `"signer":"cobb-elections+ab858bfe+`), "not an Ed25519 verifier key", "submission.signer"},
		{"submission unknown field", sub(entry, `"item":0`, `"item":0,"node":"x"`), "unknown field", "submission.node"},
		{"negative index", sub(entry, `"index":2`, `"index":-2`), "want a non-negative integer", "index"},
		{"unknown verdict", sub(entry, `"verdict":"rejected"`, `"verdict":"pending"`), `unknown verdict "pending"`, "-"},
		{"missing verdict", sub(entry, `"verdict":"rejected",`, ``), `unknown verdict ""`, "-"},
		{"missing recorded", sub(entry, recorded+`,`, ``), "recorded", "-"},
		{"recorded not RFC 3339", sub(entry, recorded, `"recorded":"2017-04-19 02:50:01"`), "recorded", "-"},
		{"recorded after year 9999 in UTC", sub(entry, recorded, `"recorded":"9999-12-31T23:59:59-00:01"`), "outside 0000-9999", "-"},
		{"recorded before year 0 in UTC", sub(entry, recorded, `"recorded":"0000-01-01T00:00:00+01:00"`), "outside 0000-9999", "-"},
		{"recorded as a number", sub(entry, recorded, `"recorded":1492570201`), "want a string", "recorded"},
		{"missing event", sub(entry, entry[strings.Index(entry, `,"event"`):], `}`), "event: empty event", ""},
		{"null event", sub(entry, entry[strings.Index(entry, `,"event"`):], `,"event":null}`), "event: empty event", ""},
		{"invalid event", sub(entry, `"votes":620`, `"votes":-620`), "event: data.counts[0].votes: -620 is negative", "data.counts[0].votes"},
		{"event v2", sub(entry, `"event":{"v":1`, `"event":{"v":2`), "unsupported format version 2", "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.DecodeEntry([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeEntry succeeded: %+v", got)
			}
			if got != nil {
				t.Errorf("DecodeEntry returned an entry with its error")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "couldn't decode entry") {
				t.Errorf("error %q does not say what failed", err)
			}
			var e *events.Error
			switch {
			case tt.field == "-" && errors.As(err, &e):
				t.Errorf("error %v wraps an *events.Error", err)
			case tt.field != "-" && !errors.As(err, &e):
				t.Errorf("error %v does not wrap an *events.Error", err)
			case tt.field != "-" && e.Field != tt.field:
				t.Errorf("Field = %q, want %q", e.Field, tt.field)
			}
		})
	}
}

// Decode refuses invalid UTF-8 rather than let encoding/json replace it
// with U+FFFD, which would log something other than what was submitted.
func TestDecodeInvalidUTF8(t *testing.T) {
	in := sub(validReport, `"sha256"`, `"operator":"Jos`+"\xe9"+`","sha256"`)
	_, err := events.Decode([]byte(in))
	var e *events.Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode: %v, want an *events.Error", err)
	}
	if want := fmt.Sprintf("not valid UTF-8 at byte %d", strings.Index(in, "\xe9")); e.Field != "" || e.Msg != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// Valid UTF-8 outside ASCII, and the replacement character itself,
	// are fine.
	ev := mustDecode(t, sub(validReport, `"sha256"`, `"operator":"José \ufffd ✓","sha256"`))
	if got := ev.Counts().Source.Operator; got != "José \ufffd ✓" {
		t.Errorf("operator = %q", got)
	}
}

// An event is refused if its canonical encoding is over MaxEventSize, even
// when the input is not: otherwise its entry could not be read back.
func TestDecodeCanonicalSizeLimit(t *testing.T) {
	// Each alias is 258 bytes in the input and 1538 in the encoding,
	// where '<' becomes \u003c.
	alias := `"` + strings.Repeat("<", events.MaxNameLength) + `"`
	withAliases := func(n int) string {
		return sub(validManifest, `{"id":"ossoff","name":"Jon Ossoff"}`,
			`{"id":"ossoff","name":"Jon Ossoff","aliases":[`+strings.Repeat(alias+",", n-1)+alias+`]}`)
	}
	in := withAliases(45)
	if len(in) > events.MaxEventSize/4 {
		t.Fatalf("input is %d bytes; the test wants it well under the limit", len(in))
	}
	_, err := events.Decode([]byte(in))
	var e *events.Error
	if !errors.As(err, &e) || e.Field != "" || !strings.Contains(e.Msg, "canonical encoding is") || !strings.Contains(e.Msg, "more than the limit of 57343") {
		t.Fatalf("Decode of an event whose encoding is over the limit: %v", err)
	}

	// Just under the limit, the canonical encoding is accepted and reads
	// back.
	ev := mustDecode(t, withAliases(33))
	enc := mustEncode(t, ev)
	if len(enc) > events.MaxEventSize || len(enc) < events.MaxEventSize*8/10 {
		t.Fatalf("canonical encoding is %d bytes; the test wants it just under the limit", len(enc))
	}
	if again := mustEncode(t, mustDecode(t, enc)); again != enc {
		t.Error("Encode(Decode(Encode(x))) != Encode(x)")
	}
}

func TestEntryEncodeWithoutEvent(t *testing.T) {
	b, err := (&events.Entry{Index: 3, Verdict: events.Accepted}).Encode()
	if err == nil || !strings.Contains(err.Error(), "entry 3") {
		t.Errorf("Encode of an entry without an event = %s, %v; want an error", b, err)
	}
	b, err = (&events.Event{ID: idDeKalb, Election: election}).Encode()
	var e *events.Error
	if !errors.As(err, &e) || e.Field != "data" {
		t.Errorf("Encode of an event without a body = %s, %v; want an *events.Error for data", b, err)
	}
}
