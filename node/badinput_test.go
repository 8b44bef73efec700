package node_test

// Promise 7: bad input gets a clear error and changes nothing; rule
// violations that depend on the election's state are logged, rejected, with
// the reason, and do not move the totals.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
)

// sub returns s with old replaced by new, once; it fails the test if old is
// not exactly once in s, so a typo cannot turn a bad input into a good one.
func sub(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in %s", old, n, s)
	}
	return strings.Replace(s, old, new, 1)
}

// badCase is one bad submission.
type badCase struct {
	name   string
	ctype  string // "" for application/json
	body   []byte
	status int
	msg    []string // substrings of the error message
	field  string   // the Problem's field, if it names one
	item   *int     // the Problem's item, for JSON Lines
	ids    []string // event IDs in the body that must not be logged
}

func intp(i int) *int { return &i }

// observeAll is what a client sees of both elections.
func observeAll(tn *testNode) [2]observed {
	return [2]observed{tn.observe(elecMain), tn.observe(elecOther)}
}

func TestBadInputChangesNothing(t *testing.T) {
	tn := startNode(t, "", node.Config{})

	// Two elections with a few good reports.
	otherReport := mkEvent(t, elecOther, houseReport("cobb-01", 10, 20, 3))
	r1 := mkEvent(t, elecMain, houseReport("cobb-01", 1200, 950, 31))
	rs := tn.submit(
		mkEvent(t, elecMain, testManifest("Main")),
		mkEvent(t, elecOther, testManifest("Other")),
		r1,
		mkEvent(t, elecMain, houseReport("fulton-01", 2200, 1950, 12)),
		mkEvent(t, elecMain, senateReport("cobb-01", 800, 700)),
		otherReport,
	)
	for i, r := range rs {
		if r.Verdict != events.Accepted || r.Duplicate {
			t.Fatalf("setup receipt %d: %+v", i, r)
		}
	}

	// Bases that each case breaks in one place. Every call gives a fresh ID.
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	goodReport := func(id string) string {
		ev := mkEvent(t, elecMain, report("dekalb-01", house, cnt("ossoff", voteDay, 120), cnt("handel", voteDay, 95)))
		return sub(t, string(encode(t, ev)), ev.ID.String(), id)
	}
	withID := func(ev *events.Event) (string, string) { return string(encode(t, ev)), ev.ID.String() }
	// One case per call: a body from a fresh good report with one change.
	single := func(name string, status int, field string, change func(s string) string, msg ...string) badCase {
		id := newID()
		return badCase{name: name, body: []byte(change(goodReport(id))), status: status, msg: msg, field: field, ids: []string{id}}
	}
	const (
		votes120 = `"votes":120`
		srcOp    = `"source":{"operator":"county-clerk"}`
		unitD    = `"unit":"dekalb-01"`
		elec     = `"election":"` + elecMain + `"`
		typ      = `"type":"count.reported",`
	)
	unknownID := uuid.Must(uuid.NewV7())

	var cases []badCase
	add := func(c ...badCase) { cases = append(cases, c...) }

	// Not an event at all.
	add(
		single("malformed JSON", 400, "", func(s string) string { return sub(t, s, `"v":1,`, `"v":1,,`) }, "malformed JSON", "invalid character ','"),
		single("truncated JSON", 400, "", func(s string) string { return s[:len(s)/2] }, "malformed JSON", "unexpected end of input"),
		badCase{name: "empty body", body: nil, status: 400, msg: []string{"empty request body"}},
		badCase{name: "whitespace body", body: []byte(" \r\n\t  \n"), status: 400, msg: []string{"empty request body"}},
		single("JSON array", 400, "", func(s string) string { return "[" + s + "]" }, "expected a JSON object, got array"),
		single("JSON string", 400, "", func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }, "expected a JSON object, got string"),
		single("trailing data", 400, "", func(s string) string { return s + ` {}` }, "unexpected data after the JSON object"),
		single("two events in a single-JSON body", 400, "", func(s string) string { return s + "\n" + goodReport(newID()) }, "unexpected data after the JSON object"),
		single("invalid UTF-8", 400, "", func(s string) string { return sub(t, s, `"county-clerk"`, "\"county-\xffclerk\"") }, "not valid UTF-8 at byte"),
	)
	// The envelope.
	add(
		single("unknown top-level field", 400, "signature", func(s string) string { return sub(t, s, elec, elec+`,"signature":"abc"`) }, "signature", "unknown field"),
		single("type missing", 400, "type", func(s string) string { return sub(t, s, typ, ``) }, "type", "missing"),
		single("unknown type", 400, "type", func(s string) string { return sub(t, s, `"count.reported"`, `"count.deleted"`) }, `unknown event type "count.deleted"`),
		single("v=2", 400, "v", func(s string) string { return sub(t, s, `"v":1,`, `"v":2,`) }, "unsupported format version 2"),
		single("v missing", 400, "v", func(s string) string { return sub(t, s, `"v":1,`, ``) }, "v", "missing"),
		badCase{name: "id missing", body: []byte(strings.Replace(goodReport("00000000-0000-7000-8000-000000000000"), `"id":"00000000-0000-7000-8000-000000000000",`, "", 1)), status: 400, field: "id", msg: []string{"id", "missing"}},
		badCase{name: "non-v7 UUID", body: []byte(goodReport("9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b")), status: 400, field: "id", msg: []string{"9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b", "version 4 UUID", "UUIDv7"}},
		single("election as number", 400, "election", func(s string) string { return sub(t, s, elec, `"election":2017`) }, "election", "wrong type: got number, want a string"),
		single("election not an ID", 400, "election", func(s string) string { return sub(t, s, elec, `"election":"GA06 Test"`) }, `"GA06 Test" is not a valid election ID`),
		single("expected_version negative", 400, "expected_version", func(s string) string { return sub(t, s, elec, elec+`,"expected_version":-1`) }, "expected_version", "non-negative integer"),
	)
	// The data.
	add(
		single("unknown data field", 400, "data.precinct", func(s string) string { return sub(t, s, unitD, unitD+`,"precinct":"x"`) }, "data.precinct", "unknown field"),
		single("votes as string", 400, "data.counts[1].votes", func(s string) string { return sub(t, s, votes120, `"votes":"120"`) }, "votes", "wrong type: got string, want an integer"),
		single("votes as fraction", 400, "data.counts[1].votes", func(s string) string { return sub(t, s, votes120, `"votes":120.5`) }, "votes", "want an integer"),
		single("negative votes", 400, "data.counts[1].votes", func(s string) string { return sub(t, s, votes120, `"votes":-120`) }, "votes", "-120 is negative"),
		single("votes overflowing int64", 400, "data.counts[1].votes", func(s string) string { return sub(t, s, votes120, `"votes":9223372036854775808`) }, "votes", "9223372036854775808"),
		single("votes over MaxVotes", 400, "data.counts[1].votes", func(s string) string {
			return sub(t, s, votes120, fmt.Sprintf(`"votes":%d`, int64(events.MaxVotes)+1))
		}, "votes", fmt.Sprintf("%d is more than the limit of %d", int64(events.MaxVotes)+1, int64(events.MaxVotes))),
		single("no counts", 400, "data.counts", func(s string) string {
			i, j := strings.Index(s, `"counts":[`), strings.Index(s, `],"source"`)
			return s[:i] + `"counts":[` + s[j:]
		}, "counts", "at least one count"),
		single("choice counted twice", 400, "data.counts", func(s string) string { return sub(t, s, `"choice":"handel"`, `"choice":"ossoff"`) }, `choice "ossoff", vote type "election-day" is counted twice`),
		single("missing source", 400, "data.source", func(s string) string { return sub(t, s, srcOp, `"source":{}`) }, "data.source", "name a file"),
		single("source without data.source", 400, "data.source", func(s string) string { return sub(t, s, ","+srcOp, ``) }, "data.source", "name a file"),
		single("bad sha256", 400, "data.source.sha256", func(s string) string {
			return sub(t, s, srcOp, `"source":{"file":"results.csv","sha256":"ABC"}`)
		}, "sha256", `"ABC" is not a lowercase hex SHA-256`),
		single("control characters in operator", 400, "data.source.operator", func(s string) string {
			return sub(t, s, `"county-clerk"`, `"county\u0007clerk"`)
		}, "data.source.operator", "control characters"),
		single("newline in operator", 400, "data.source.operator", func(s string) string {
			return sub(t, s, `"county-clerk"`, `"county\nclerk"`)
		}, "data.source.operator", "control characters"),
		single("unit with a space", 400, "data.unit", func(s string) string { return sub(t, s, unitD, `"unit":"dekalb 01"`) }, `"dekalb 01" is not a valid ID`),
	)
	{
		s, id := withID(mkEvent(t, elecMain, certification()))
		add(badCase{name: "expected_version on a certification", status: 400, field: "expected_version", ids: []string{id},
			body: []byte(sub(t, s, elec, elec+`,"expected_version":3`)), msg: []string{"expected_version", "only count events"}})
		s, id = withID(mkEvent(t, elecMain, correction(r1.ID, houseReport("cobb-01", 1, 2, 3))))
		add(badCase{name: "correction without reason", status: 400, field: "data.reason", ids: []string{id},
			body: []byte(sub(t, s, `"reason":"memory card re-read",`, ``)), msg: []string{"data.reason", "missing"}})
	}
	// Oversized: a valid event padded with spaces past the limit.
	{
		s := goodReport(newID())
		pad := events.MaxEventSize + 1 - len(s)
		add(badCase{name: "oversized single JSON", status: http.StatusRequestEntityTooLarge,
			body: []byte(s[:len(s)-1] + strings.Repeat(" ", pad) + "}"),
			msg:  []string{fmt.Sprintf("%d bytes, more than the limit of %d", events.MaxEventSize+1, events.MaxEventSize)}})
	}

	// Valid events that name what the election does not have: refused at the
	// edge (422), not logged.
	ref := func(name string, ev *events.Event, msg ...string) badCase {
		s, id := withID(ev)
		return badCase{name: name, body: []byte(s), status: http.StatusUnprocessableEntity, msg: msg, ids: []string{id}}
	}
	add(
		ref("unknown election", mkEvent(t, "ga-nope", houseReport("cobb-01", 1, 2, 3)), `election "ga-nope" is not defined`),
		ref("unknown contest", mkEvent(t, elecMain, report("cobb-01", "us-senate", cnt("ossoff", voteDay, 1))), `contest "us-senate" is not in election`),
		ref("unknown choice", mkEvent(t, elecMain, report("cobb-01", house, cnt("ossof", voteDay, 1))), `choice "ossof" is not in contest "us-house-6"`),
		ref("unknown vote type", mkEvent(t, elecMain, report("cobb-01", house, cnt("ossoff", "early", 1))), `vote type "early" is not in election`),
		ref("unknown unit", mkEvent(t, elecMain, houseReport("cobb-99", 1, 2, 3)), `unit "cobb-99" is not in election`),
		ref("unit outside the contest's scope", mkEvent(t, elecMain, senateReport("dekalb-01", 5, 6)), `unit "dekalb-01" does not vote in contest "ga-senate-32"`),
		ref("county outside the contest's scope", mkEvent(t, elecMain, senateReport("dekalb", 5, 6)), `unit "dekalb" does not vote in contest "ga-senate-32"`),
		ref("state above the contest's scope", mkEvent(t, elecMain, senateReport("ga", 5, 6)), `unit "ga" does not vote in contest "ga-senate-32"`),
		ref("choice of another contest", mkEvent(t, elecMain, report("cobb-01", senate, cnt("ossoff", voteDay, 1))), `choice "ossoff" is not in contest "ga-senate-32"`),
		ref("correction of an unknown event", mkEvent(t, elecMain, correction(unknownID, houseReport("cobb-01", 1, 2, 3))), "data.corrects", unknownID.String(), "not in the log"),
		ref("retraction of an unknown event", mkEvent(t, elecMain, retraction(unknownID)), "data.retracts", unknownID.String(), "not in the log"),
		ref("correction naming an event of another election", mkEvent(t, elecMain, correction(otherReport.ID, houseReport("cobb-01", 1, 2, 3))),
			"data.corrects", otherReport.ID.String(), `not in the log of election "`+elecMain+`"`),
		ref("retraction naming an event of another election", mkEvent(t, elecMain, retraction(otherReport.ID)),
			"data.retracts", otherReport.ID.String(), `not in the log of election "`+elecMain+`"`),
		ref("correction with an unknown choice", mkEvent(t, elecMain, correction(r1.ID, report("cobb-01", house, cnt("jon-ossoff", voteDay, 1)))), `choice "jon-ossoff"`),
	)

	// An ID already logged, reused for different content.
	{
		ev := mkEvent(t, elecMain, houseReport("cobb-01", 1201, 950, 31))
		ev.ID = r1.ID
		add(badCase{name: "reused event ID with different content", body: encode(t, ev), status: http.StatusUnprocessableEntity,
			msg: []string{"already logged", "different content"}})
		ev = mkEvent(t, elecOther, houseReport("cobb-01", 1200, 950, 31))
		ev.ID = r1.ID
		add(badCase{name: "reused event ID in another election", body: encode(t, ev), status: http.StatusUnprocessableEntity,
			msg: []string{"already logged", elecMain, "different content"}})
	}

	// JSON Lines: the whole submission is refused, and no line is logged.
	const ndjson = "application/x-ndjson"
	{
		a, b := mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		third := newID()
		bad := sub(t, goodReport(third), votes120, `"votes":"lots"`)
		add(badCase{name: "JSON Lines, 3rd line malformed", ctype: ndjson, status: 400, item: intp(2), field: "data.counts[1].votes",
			body: jsonLines(encode(t, a), encode(t, b), []byte(bad)), msg: []string{"line 3", "votes", "wrong type"},
			ids: []string{a.ID.String(), b.ID.String(), third}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		c := mkEvent(t, elecMain, houseReport("cobb-77", 1, 1, 1))
		add(badCase{name: "JSON Lines, 3rd line names an unknown unit", ctype: ndjson, status: http.StatusUnprocessableEntity, item: intp(2),
			body: jsonLines(encode(t, a), encode(t, b), encode(t, c)), msg: []string{"line 3", `unit "cobb-77"`},
			ids: []string{a.ID.String(), b.ID.String(), c.ID.String()}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		c = mkEvent(t, elecMain, retraction(unknownID))
		add(badCase{name: "JSON Lines, 3rd line retracts an unknown event", ctype: ndjson, status: http.StatusUnprocessableEntity, item: intp(2),
			body: jsonLines(encode(t, a), encode(t, b), encode(t, c)), msg: []string{"line 3", unknownID.String()},
			ids: []string{a.ID.String(), b.ID.String(), c.ID.String()}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		dup := mkEvent(t, elecMain, houseReport("dekalb-01", 8, 9, 10))
		dup.ID = a.ID
		add(badCase{name: "duplicate event ID within one JSON Lines body", ctype: ndjson, status: 400, item: intp(2),
			body: jsonLines(encode(t, a), encode(t, b), encode(t, dup)), msg: []string{"line 3", "is already event #1"},
			ids: []string{a.ID.String(), b.ID.String()}})

		a = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7))
		long := goodReport(newID())
		long = long[:len(long)-1] + strings.Repeat(" ", events.MaxEventSize) + "}"
		add(badCase{name: "JSON Lines, 2nd line over the event limit", ctype: ndjson, status: http.StatusRequestEntityTooLarge,
			body: jsonLines(encode(t, a), []byte(long)), msg: []string{"line 2", fmt.Sprint(events.MaxEventSize)},
			ids: []string{a.ID.String()}})

		a = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7))
		add(badCase{name: "JSON Lines, 2nd line is an array", ctype: ndjson, status: 400, item: intp(1),
			body: jsonLines(encode(t, a), []byte(`[1,2]`)), msg: []string{"line 2", "expected a JSON object"},
			ids: []string{a.ID.String()}})
	}

	if len(cases) < 30 {
		t.Fatalf("only %d bad cases", len(cases))
	}
	before := observeAll(tn)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			status, body := tn.do(http.MethodPost, "/v1/events", ctype, c.body)
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("HTTP %d: body is not a JSON problem: %v: %.300s", status, err, body)
			}
			if status != c.status {
				t.Errorf("HTTP %d, want %d: %s", status, c.status, p.Error)
			}
			if status < 400 || status > 499 {
				t.Errorf("HTTP %d is not a 4xx", status)
			}
			for _, m := range c.msg {
				if !strings.Contains(p.Error, m) {
					t.Errorf("error %q does not contain %q", p.Error, m)
				}
			}
			if c.field != "" && p.Field != c.field {
				t.Errorf("field %q, want %q (error %q)", p.Field, c.field, p.Error)
			}
			if c.item != nil && (p.Item == nil || *p.Item != *c.item) {
				t.Errorf("item %v, want %d (error %q)", p.Item, *c.item, p.Error)
			}
			if after := observeAll(tn); !reflect.DeepEqual(after, before) {
				t.Errorf("the log changed:\nbefore %v / %v\nafter  %v / %v", before[0], before[1], after[0], after[1])
			}
			for _, id := range c.ids {
				if st, b := tn.do(http.MethodGet, "/v1/events/"+id, "", nil); st != http.StatusNotFound {
					t.Errorf("event %s of the refused submission: HTTP %d %s, want 404", id, st, b)
				}
			}
		})
	}
	t.Logf("%d bad submissions refused", len(cases))

	// The refusals left the ledger working: a good submission still logs.
	r := tn.submit(mkEvent(t, elecMain, houseReport("dekalb-01", 1, 2, 3)))[0]
	if r.Verdict != events.Accepted || r.Index != before[0].size {
		t.Errorf("good submission after the bad ones: %+v, want accepted at %d", r, before[0].size)
	}
	if got := tn.position(); got != before[0].position+1 {
		t.Errorf("position %d after one more event, want %d", got, before[0].position+1)
	}
}

// tallyDoc decodes a tally into a generic document.
func tallyDoc(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("tally is not JSON: %v: %s", err, b)
	}
	return m
}

func counter(t *testing.T, m map[string]any, k string) int64 {
	t.Helper()
	n, err := m[k].(json.Number).Int64()
	if err != nil {
		t.Fatalf("tally %s: %v", k, err)
	}
	return n
}

// checkLoggedRejection submits ev as a single JSON event and checks that it
// was logged as the next entry, rejected for a reason that contains msg,
// and that only the tally's entries and rejected counters moved.
func checkLoggedRejection(t *testing.T, tn *testNode, ev *events.Event, wantStatus int, msg ...string) ledger.Receipt {
	t.Helper()
	before := tn.observe(ev.Election)
	status, r := tn.submitOne(ev)
	after := tn.observe(ev.Election)
	if status != wantStatus {
		t.Errorf("%s: HTTP %d, want %d (%+v)", ev.Type(), status, wantStatus, r)
	}
	if r.Verdict != events.Rejected || r.Duplicate || r.Index != before.size || r.TreeSize != before.size+1 || r.ID != ev.ID {
		t.Errorf("%s: receipt %+v, want a rejection logged at %d", ev.Type(), r, before.size)
	}
	for _, m := range msg {
		if !strings.Contains(r.Reason, m) {
			t.Errorf("%s: reason %q does not contain %q", ev.Type(), r.Reason, m)
		}
	}
	if after.size != before.size+1 || after.cpSize != before.size+1 || after.position != before.position+1 {
		t.Errorf("%s: before %v, after %v: want one more entry and stream message", ev.Type(), before, after)
	}
	// The stored entry says the same.
	var er api.EventResponse
	if err := json.Unmarshal(tn.get("/v1/events/"+ev.ID.String()), &er); err != nil {
		t.Fatal(err)
	}
	en := decodeEntry(t, er.Entry)
	if en.Index != r.Index || en.Verdict != events.Rejected || en.Reason != r.Reason || en.Event.ID != ev.ID {
		t.Errorf("%s: stored entry %+v does not match receipt %+v", ev.Type(), en, r)
	}
	// The totals ignore it: only entries and rejected move.
	tb, ta := tallyDoc(t, before.tally), tallyDoc(t, after.tally)
	if got, want := counter(t, ta, "entries"), counter(t, tb, "entries")+1; got != want {
		t.Errorf("%s: tally entries %d, want %d", ev.Type(), got, want)
	}
	if got, want := counter(t, ta, "rejected"), counter(t, tb, "rejected")+1; got != want {
		t.Errorf("%s: tally rejected %d, want %d", ev.Type(), got, want)
	}
	delete(ta, "entries")
	delete(ta, "rejected")
	delete(tb, "entries")
	delete(tb, "rejected")
	if !reflect.DeepEqual(ta, tb) {
		t.Errorf("%s: the rejected event changed the tally beyond its counters:\nbefore %s\nafter  %s", ev.Type(), before.tally, after.tally)
	}
	return r
}

func TestRuleViolationsAreLoggedAndRejected(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	first := mkEvent(t, elecMain, houseReport("cobb-01", 1200, 950, 31))
	tn.submit(
		mkEvent(t, elecMain, testManifest("Main")),
		first,
		mkEvent(t, elecMain, houseReport("fulton-01", 2200, 1950, 12)),
		mkEvent(t, elecMain, senateReport("cobb-01", 800, 700)),
	)
	// A later report for cobb-01 supersedes the first.
	second := mkEvent(t, elecMain, houseReport("cobb-01", 1210, 950, 31))
	if r := tn.submit(second)[0]; r.Verdict != events.Accepted {
		t.Fatalf("superseding report: %+v", r)
	}

	checkLoggedRejection(t, tn, mkEvent(t, elecMain, correction(first.ID, houseReport("cobb-01", 1, 2, 3))),
		http.StatusConflict, first.ID.String(), "is not the current report", second.ID.String())
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, retraction(first.ID)),
		http.StatusConflict, first.ID.String(), "not the current report")
	// cobb-01 is at version 2 in the house contest.
	r := checkLoggedRejection(t, tn, withVersion(mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3)), 1),
		http.StatusConflict, "version conflict", "expected version 1", "at version 2")
	if !r.Conflict() {
		t.Errorf("stale expected version: receipt %+v is not a conflict", r)
	}
	checkLoggedRejection(t, tn, withVersion(mkEvent(t, elecMain, correction(second.ID, houseReport("cobb-01", 1, 2, 3))), 0),
		http.StatusConflict, "version conflict", "expected version 0")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, testManifest("Main, again")),
		http.StatusConflict, "already defined")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, recountOrder()),
		http.StatusConflict, "not certified")

	// A current expected version is accepted.
	if st, r := tn.submitOne(withVersion(mkEvent(t, elecMain, correction(second.ID, houseReport("cobb-01", 1211, 950, 31))), 2)); st != 200 || r.Verdict != events.Accepted {
		t.Fatalf("correction at the current version: HTTP %d %+v", st, r)
	}
	if st, r := tn.submitOne(mkEvent(t, elecMain, certification())); st != 200 || r.Verdict != events.Accepted {
		t.Fatalf("certification: HTTP %d %+v", st, r)
	}
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, houseReport("dekalb-01", 10, 20, 30)),
		http.StatusConflict, "is certified", "recount order")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, senateReport("fulton-02", 10, 20)),
		http.StatusConflict, "is certified", "recount order")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, certification()),
		http.StatusConflict, "already certified")

	var tl struct {
		Status   string `json:"status"`
		Accepted uint64 `json:"accepted"`
		Rejected uint64 `json:"rejected"`
		Entries  uint64 `json:"entries"`
	}
	if err := json.Unmarshal(tn.tally(elecMain), &tl); err != nil {
		t.Fatal(err)
	}
	if tl.Status != "certified" || tl.Accepted != 7 || tl.Rejected != 9 || tl.Entries != 16 {
		t.Errorf("final tally counters %+v, want certified, 7 accepted, 9 rejected, 16 entries", tl)
	}
}

// The error for a JSON Lines body names the line; with a blank line before
// the bad one it must still be the line's number in the body.
func TestJSONLinesErrorNamesThePhysicalLine(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	good := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	status, b := tn.do(http.MethodPost, "/v1/events", "application/x-ndjson", jsonLines(encode(t, good), nil, []byte(`{"v":1,`)))
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil || status != 400 {
		t.Fatalf("HTTP %d %s", status, b)
	}
	if !strings.HasPrefix(p.Error, "line 3:") {
		t.Errorf("error %q for a bad 3rd line (after a blank 2nd line), want it to start with \"line 3:\"", p.Error)
	}
}

// JSON Lines with CRLF line ends, and no end after the last line, are
// read as the same events.
func TestJSONLinesCRLF(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	a := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	b := mkEvent(t, elecMain, houseReport("cobb-02", 4, 5, 6))
	body := bytes.Join([][]byte{encode(t, a), encode(t, b)}, []byte("\r\n"))
	status, resp := tn.do(http.MethodPost, "/v1/events", "application/x-ndjson", body)
	var sr api.SubmitResponse
	if err := json.Unmarshal(resp, &sr); err != nil || status != 200 || len(sr.Receipts) != 2 ||
		sr.Receipts[0].ID != a.ID || sr.Receipts[1].ID != b.ID || sr.Receipts[0].Verdict != events.Accepted || sr.Receipts[1].Verdict != events.Accepted {
		t.Fatalf("HTTP %d %s", status, resp)
	}
}

// A submission that reports and then corrects (or retracts) that report is
// valid in order; the edge refuses it because the target is not logged yet.
func TestCorrectionOfAnEarlierEventInTheSameSubmission(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	r := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	c := mkEvent(t, elecMain, correction(r.ID, houseReport("cobb-01", 1, 2, 4)))
	rt := mkEvent(t, elecMain, retraction(c.ID))
	status, b := tn.do(http.MethodPost, "/v1/events", "application/x-ndjson", jsonLines(encode(t, r), encode(t, c), encode(t, rt)))
	if status != 200 {
		t.Fatalf("report, its correction and the correction's retraction in one submission: HTTP %d %s", status, b)
	}
	var resp api.SubmitResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	for i, rc := range resp.Receipts {
		if rc.Verdict != events.Accepted {
			t.Errorf("receipt %d: %+v", i, rc)
		}
	}
}
