package node_test

// Promise 7: bad input gets a clear error and changes nothing; rule
// violations that depend on the election's state are logged, rejected, with
// the reason, and do not move the totals.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
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

// badCase is one bad submission: the body POSTed to /v1/submissions.
type badCase struct {
	name   string
	body   []byte
	status int
	msg    []string // substrings of the error message
	field  string   // the Problem's field, if it names one
	item   *int     // the Problem's item, when one valid event is at fault
	ids    []string // event IDs in the body that must not be logged
}

func intp(i int) *int { return &i }

// observeAll is what a client sees of both elections.
func observeAll(tn *testNode) [2]observed {
	return [2]observed{tn.observe(elecMain), tn.observe(elecOther)}
}

func TestBadInputChangesNothing(t *testing.T) {
	tn := startNode(t, "", node.Config{})

	// Two elections with a few good reports (a submission is of one
	// election).
	otherReport := mkEvent(t, elecOther, houseReport("cobb-01", 10, 20, 3))
	r1 := mkEvent(t, elecMain, houseReport("cobb-01", 1200, 950, 31))
	rs := tn.submit(
		mkEvent(t, elecMain, testManifest("Main")),
		r1,
		mkEvent(t, elecMain, houseReport("fulton-01", 2200, 1950, 12)),
		mkEvent(t, elecMain, senateReport("cobb-01", 800, 700)),
	)
	rs = append(rs, tn.submit(mkEvent(t, elecOther, testManifest("Other")), otherReport)...)
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
	// inSub signs lines, as they are, as one submission of the main
	// election: the ledger must refuse the bad line inside it (with 400,
	// before it looks at the signature), naming the event and its line.
	inSub := func(lines ...string) []byte {
		bs := make([][]byte, len(lines))
		for i, l := range lines {
			bs[i] = []byte(l)
		}
		return signLines(t, elecMain, bs...)
	}
	// One case per call: a submission of a fresh good report with one
	// change. field is the event's field at fault; the problem names it
	// under events[0], and the error the event's line, the 5th.
	single := func(name string, status int, field string, change func(s string) string, msg ...string) badCase {
		id := newID()
		if field == "" {
			field = "events[0]"
		} else {
			field = "events[0]." + field
		}
		return badCase{name: name, body: inSub(change(goodReport(id))), status: status, msg: append(msg, "(line 5)"), field: field, ids: []string{id}}
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
		// An empty body carries no signature: 401, like any unsigned write.
		badCase{name: "empty body", body: nil, status: 401, msg: []string{"empty request body"}},
		badCase{name: "whitespace body", body: []byte(" \r\n\t  \n"), status: 401, msg: []string{"empty request body"}},
		single("JSON array", 400, "", func(s string) string { return "[" + s + "]" }, "expected a JSON object, got array"),
		single("JSON string", 400, "", func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }, "expected a JSON object, got string"),
		single("trailing data", 400, "", func(s string) string { return s + ` {}` }, "unexpected data after the JSON object"),
		single("two events on one line", 400, "", func(s string) string { return s + " " + goodReport(newID()) }, "unexpected data after the JSON object"),
		single("invalid UTF-8", 400, "", func(s string) string { return sub(t, s, `"county-clerk"`, "\"county-\xffclerk\"") }, "not valid UTF-8 at byte"),
	)
	// The envelope.
	add(
		single("unknown top-level field", 400, "signature", func(s string) string { return sub(t, s, elec, elec+`,"signature":"abc"`) }, "signature", "unknown field"),
		single("type missing", 400, "type", func(s string) string { return sub(t, s, typ, ``) }, "type", "missing"),
		single("unknown type", 400, "type", func(s string) string { return sub(t, s, `"count.reported"`, `"count.deleted"`) }, `unknown event type "count.deleted"`),
		single("v=2", 400, "v", func(s string) string { return sub(t, s, `"v":1,`, `"v":2,`) }, "unsupported format version 2"),
		single("v missing", 400, "v", func(s string) string { return sub(t, s, `"v":1,`, ``) }, "v", "missing"),
		badCase{name: "id missing", body: inSub(strings.Replace(goodReport("00000000-0000-7000-8000-000000000000"), `"id":"00000000-0000-7000-8000-000000000000",`, "", 1)), status: 400, field: "events[0].id", msg: []string{"id", "missing", "(line 5)"}},
		badCase{name: "non-v7 UUID", body: inSub(goodReport("9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b")), status: 400, field: "events[0].id", msg: []string{"9f1c2a8e-6b4d-4e2f-9a7b-3c5d8e0f1a2b", "version 4 UUID", "UUIDv7", "(line 5)"}},
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
		add(badCase{name: "expected_version on a certification", status: 400, field: "events[0].expected_version", ids: []string{id},
			body: inSub(sub(t, s, elec, elec+`,"expected_version":3`)), msg: []string{"expected_version", "only count events"}})
		s, id = withID(mkEvent(t, elecMain, correction(r1.ID, houseReport("cobb-01", 1, 2, 3))))
		add(badCase{name: "correction without reason", status: 400, field: "events[0].data.reason", ids: []string{id},
			body: inSub(sub(t, s, `"reason":"memory card re-read",`, ``)), msg: []string{"data.reason", "missing"}})
	}
	// Valid events, but not in their canonical encoding: the signature
	// covers exact bytes, so the ledger takes only the canonical ones. The
	// problem names the line.
	nonCanonical := func(name string, change func(s string) string) badCase {
		id := newID()
		return badCase{name: name, body: inSub(change(goodReport(id))), status: 400, field: "line 5",
			msg: []string{"event #1 (" + id + ")", "not in its canonical encoding"}, ids: []string{id}}
	}
	add(
		nonCanonical("not canonical: a space after a colon", func(s string) string { return sub(t, s, `"v":1,`, `"v": 1,`) }),
		nonCanonical("not canonical: fields out of order", func(s string) string { return sub(t, sub(t, s, typ, ``), elec, typ+elec) }),
		nonCanonical("not canonical: a carriage return at the end", func(s string) string { return s + "\r" }),
	)
	// Oversized: a valid event padded with spaces past the event limit,
	// in a submission well under the submission limit.
	{
		s := goodReport(newID())
		pad := events.MaxEventSize + 1 - len(s)
		add(badCase{name: "oversized event", status: 400, field: "events[0]",
			body: inSub(s[:len(s)-1] + strings.Repeat(" ", pad) + "}"),
			msg:  []string{fmt.Sprintf("%d bytes, more than the limit of %d", events.MaxEventSize+1, events.MaxEventSize), "(line 5)"}})
	}
	// The submission itself is what is wrong.
	{
		rep := mkEvent(t, elecMain, houseReport("dekalb-01", 5, 6, 7))
		good := signed(t, rep)
		text, sig, _ := bytes.Cut(good, []byte("\n\n"))
		stranger := testkeys.New("stranger")
		byStranger := testkeys.MustSign(stranger, rep)
		_, strangerSig, _ := bytes.Cut(byStranger, []byte("\n\n"))
		join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
		ids := []string{rep.ID.String()}
		add(
			badCase{name: "a bare event", body: encode(t, rep), status: 401, msg: []string{"unsigned: bare events, not a signed submission", "not a signed submission"}, ids: ids},
			badCase{name: "unsigned JSON Lines", body: bytes.Join([][]byte{encode(t, rep), []byte(goodReport(newID())), nil}, []byte("\n")), status: 401, msg: []string{"unsigned: bare events, not a signed submission"}, ids: ids},
			badCase{name: "submission of another domain", body: []byte(sub(t, string(good), "submission/v1\n", "submission/v2\n")), status: 400, msg: []string{"not a signed submission"}, ids: ids},
			badCase{name: "event of another election", body: inSub(goodReport(newID()), string(encode(t, otherReport))), status: 400, field: "line 6", msg: []string{"event #2", `is for election "` + elecOther + `"`}},
			badCase{name: "unsigned submission", body: join(text, []byte("\n")), status: 401, msg: []string{"unsigned"}, ids: ids},
			badCase{name: "two signatures", body: join(good, strangerSig), status: 401, msg: []string{"more than one signature line"}, ids: ids},
			badCase{name: "signed by another key than the one it names", body: join(text, []byte("\n\n"), strangerSig), status: 401, msg: []string{"not by the key the submission names"}, ids: ids},
			badCase{name: "altered after signing", body: []byte(sub(t, string(good), `"vote_type":"election-day","votes":5}`, `"vote_type":"election-day","votes":50}`)), status: 401, msg: []string{"does not verify"}, ids: ids},
			badCase{name: "signature line mangled", body: join(text, []byte("\n\n"), []byte(sub(t, string(sig), "— ", "-- "))), status: 401, msg: []string{"malformed signature line"}, ids: ids},
			badCase{name: "signed by an unregistered key", body: byStranger, status: 403, item: intp(0), msg: []string{"not authorized", "is not registered for election"}, ids: ids},
			badCase{name: "oversized submission", body: join(good, bytes.Repeat([]byte(" "), api.MaxBodySize)), status: http.StatusRequestEntityTooLarge,
				msg: []string{fmt.Sprintf("larger than %d bytes", api.MaxBodySize)}, ids: ids},
		)
		// A new election defined by a key the ledger does not accept as an
		// authority, or by a key other than the authority its manifest names.
		m := mkEvent(t, "ga-new", testManifest("New"))
		add(badCase{name: "manifest by an authority the ledger does not accept", body: testkeys.MustSign(stranger, m), status: 403, item: intp(0),
			msg: []string{"is not one this ledger accepts"}, ids: []string{m.ID.String()}})
		m = mkEvent(t, "ga-new", testManifest("New"))
		m.Body.(*events.Manifest).Authority = testkeys.Authority.Verifier
		add(badCase{name: "manifest signed by another key than its authority", body: testkeys.MustSign(stranger, m), status: 403, item: intp(0),
			msg: []string{"names authority test-authority", "signed by stranger"}, ids: []string{m.ID.String()}})
	}

	// Valid events that name what the election does not have: refused at the
	// edge (422), not logged.
	ref := func(name string, ev *events.Event, msg ...string) badCase {
		return badCase{name: name, body: signed(t, ev), status: http.StatusUnprocessableEntity, msg: msg, item: intp(0), ids: []string{ev.ID.String()}}
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
		add(badCase{name: "reused event ID with different content", body: signed(t, ev), status: http.StatusUnprocessableEntity, item: intp(0),
			msg: []string{"already logged", "different content"}})
		ev = mkEvent(t, elecOther, houseReport("cobb-01", 1200, 950, 31))
		ev.ID = r1.ID
		add(badCase{name: "reused event ID in another election", body: signed(t, ev), status: http.StatusUnprocessableEntity, item: intp(0),
			msg: []string{"already logged", elecMain, "different content"}})
	}

	// Several events: the whole submission is refused, and none of its
	// events is logged. The error names the event (events[N], or item N
	// for a valid event) and its line in the submission (events start on
	// line 5).
	{
		a, b := mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		third := newID()
		bad := sub(t, goodReport(third), votes120, `"votes":"lots"`)
		add(badCase{name: "3rd event malformed", status: 400, field: "events[2].data.counts[1].votes",
			body: inSub(string(encode(t, a)), string(encode(t, b)), bad), msg: []string{"line 7", "votes", "wrong type"},
			ids: []string{a.ID.String(), b.ID.String(), third}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		c := mkEvent(t, elecMain, houseReport("cobb-77", 1, 1, 1))
		add(badCase{name: "3rd event names an unknown unit", status: http.StatusUnprocessableEntity, item: intp(2),
			body: signed(t, a, b, c), msg: []string{"event #3", `unit "cobb-77"`},
			ids: []string{a.ID.String(), b.ID.String(), c.ID.String()}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		c = mkEvent(t, elecMain, retraction(unknownID))
		add(badCase{name: "3rd event retracts an unknown event", status: http.StatusUnprocessableEntity, item: intp(2),
			body: signed(t, a, b, c), msg: []string{"event #3", unknownID.String()},
			ids: []string{a.ID.String(), b.ID.String(), c.ID.String()}})

		a, b = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7)), mkEvent(t, elecMain, houseReport("fulton-02", 8, 9, 10))
		dup := mkEvent(t, elecMain, houseReport("dekalb-01", 8, 9, 10))
		dup.ID = a.ID
		add(badCase{name: "duplicate event ID within one submission", status: 400, field: "line 7",
			body: inSub(string(encode(t, a)), string(encode(t, b)), string(encode(t, dup))), msg: []string{"line 7", "is already event #1"},
			ids: []string{a.ID.String(), b.ID.String()}})

		a = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7))
		long := goodReport(newID())
		long = long[:len(long)-1] + strings.Repeat(" ", events.MaxEventSize) + "}"
		add(badCase{name: "2nd event over the event limit", status: 400, field: "events[1]",
			body: inSub(string(encode(t, a)), long), msg: []string{"line 6", fmt.Sprint(events.MaxEventSize)},
			ids: []string{a.ID.String()}})

		a = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7))
		add(badCase{name: "2nd event is an array", status: 400, field: "events[1]",
			body: inSub(string(encode(t, a)), `[1,2]`), msg: []string{"line 6", "expected a JSON object"},
			ids: []string{a.ID.String()}})

		a = mkEvent(t, elecMain, houseReport("cobb-02", 5, 6, 7))
		add(badCase{name: "a blank line between events", status: 400, field: "events[1]",
			body: inSub(string(encode(t, a)), "", goodReport(newID())), msg: []string{"line 6", "empty event"},
			ids: []string{a.ID.String()}})
	}

	if len(cases) < 30 {
		t.Fatalf("only %d bad cases", len(cases))
	}
	before := observeAll(tn)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", c.body)
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
			if c.item == nil && p.Item != nil && !strings.HasPrefix(p.Field, fmt.Sprintf("events[%d]", *p.Item)) && p.Field != fmt.Sprintf("line %d", *p.Item+5) {
				// An event line at fault is named by its place; nothing
				// else is.
				t.Errorf("item %d, but the field at fault is %q (error %q)", *p.Item, p.Field, p.Error)
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

// checkLoggedRejection submits ev alone in a signed submission and checks
// that it is answered 200 with its receipt (a rejection is a verdict, not a
// refusal), logged as the next entry, rejected for a reason that contains
// msg, and that only the tally's entries and rejected counters moved.
func checkLoggedRejection(t *testing.T, tn *testNode, ev *events.Event, msg ...string) ledger.Receipt {
	t.Helper()
	before := tn.observe(ev.Election)
	status, r := tn.submitOne(ev)
	after := tn.observe(ev.Election)
	if status != http.StatusOK {
		t.Errorf("%s: HTTP %d, want 200 (%+v)", ev.Type(), status, r)
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
		first.ID.String(), "is not the current report", second.ID.String())
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, retraction(first.ID)),
		first.ID.String(), "not the current report")
	// cobb-01 is at version 2 in the house contest.
	r := checkLoggedRejection(t, tn, withVersion(mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3)), 1),
		"version conflict", "expected version 1", "at version 2")
	if !r.Conflict() {
		t.Errorf("stale expected version: receipt %+v is not a conflict", r)
	}
	checkLoggedRejection(t, tn, withVersion(mkEvent(t, elecMain, correction(second.ID, houseReport("cobb-01", 1, 2, 3))), 0),
		"version conflict", "expected version 0")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, testManifest("Main, again")),
		"already defined")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, recountOrder()),
		"not certified")

	// A current expected version is accepted.
	if st, r := tn.submitOne(withVersion(mkEvent(t, elecMain, correction(second.ID, houseReport("cobb-01", 1211, 950, 31))), 2)); st != 200 || r.Verdict != events.Accepted {
		t.Fatalf("correction at the current version: HTTP %d %+v", st, r)
	}
	if st, r := tn.submitOne(mkEvent(t, elecMain, certification())); st != 200 || r.Verdict != events.Accepted {
		t.Fatalf("certification: HTTP %d %+v", st, r)
	}
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, houseReport("dekalb-01", 10, 20, 30)),
		"is certified", "recount order")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, senateReport("fulton-02", 10, 20)),
		"is certified", "recount order")
	checkLoggedRejection(t, tn, mkEvent(t, elecMain, certification()),
		"already certified")

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

// The error for a bad event names its line in the submission (events start
// on line 5, after the domain, ID, election and key lines) and its
// position.
func TestSubmissionErrorNamesTheLine(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	good := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	status, b := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signLines(t, elecMain, encode(t, good), []byte(`{"v":1,`)))
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil || status != 400 {
		t.Fatalf("HTTP %d %s", status, b)
	}
	if !strings.Contains(p.Error, "(line 6)") || p.Field != "events[1]" {
		t.Errorf("error %q, field %q for a bad 2nd event, on the 6th line; want the line and events[1] named", p.Error, p.Field)
	}
}

// Events read from a file with CRLF line ends are signed by the client in
// their canonical encoding and logged as the same events; a signed
// submission whose line ends were changed to CRLF in transit is refused,
// and changes nothing.
func TestSubmissionCRLF(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	a := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	b := mkEvent(t, elecMain, houseReport("cobb-02", 4, 5, 6))
	file := bytes.Join([][]byte{encode(t, a), encode(t, b), nil}, []byte("\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := tn.c.Submit(ctx, bytes.SplitAfter(bytes.TrimSuffix(file, []byte("\r\n")), []byte("\n")))
	if err != nil || len(rs) != 2 || rs[0].ID != a.ID || rs[1].ID != b.ID || rs[0].Verdict != events.Accepted || rs[1].Verdict != events.Accepted {
		t.Fatalf("%+v, %v", rs, err)
	}
	for _, ev := range []*events.Event{a, b} {
		var er api.EventResponse
		if err := json.Unmarshal(tn.get("/v1/events/"+ev.ID.String()), &er); err != nil {
			t.Fatal(err)
		}
		if got := decodeEntry(t, er.Entry).Event; !bytes.Equal(encode(t, got), encode(t, ev)) {
			t.Errorf("logged %s, sent %s", encode(t, got), encode(t, ev))
		}
	}

	before := tn.observe(elecMain)
	c := mkEvent(t, elecMain, houseReport("fulton-01", 7, 8, 9))
	crlf := bytes.ReplaceAll(signed(t, c), []byte("\n"), []byte("\r\n"))
	status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", crlf)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || status != 400 || !strings.Contains(p.Error, "not a signed submission") {
		t.Errorf("a submission with CRLF line ends: HTTP %d %s, want 400", status, body)
	}
	if now := tn.observe(elecMain); !now.equal(before) {
		t.Errorf("the refused submission changed the log: before %v, after %v", before, now)
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
	status, b := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signed(t, r, c, rt))
	if status != 200 {
		t.Fatalf("report, its correction and the correction's retraction in one submission: HTTP %d %s", status, b)
	}
	var resp api.SubmitResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Receipts) != 3 {
		t.Fatalf("%d receipts for 3 events: %s", len(resp.Receipts), b)
	}
	for i, rc := range resp.Receipts {
		if rc.Verdict != events.Accepted {
			t.Errorf("receipt %d: %+v", i, rc)
		}
	}
}
