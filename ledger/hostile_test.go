package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/store"
)

// hostileRig is a ledger over a real Pebble database and broker whose state
// machine is fed messages directly, as the stream would deliver them,
// whatever they hold.
type hostileRig struct {
	t   *testing.T
	dir string
	db  *store.DB
	brk *broker.Broker
	l   *Ledger
	seq uint64
}

func newHostileRig(t *testing.T) *hostileRig {
	t.Helper()
	r := &hostileRig{t: t, dir: t.TempDir()}
	js := filepath.Join(r.dir, "js")
	if err := os.MkdirAll(js, 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.brk, err = broker.Open(context.Background(), broker.Config{Dir: js, Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.brk.Close)
	r.open()
	return r
}

// open opens the database and the ledger over it, again after close.
func (r *hostileRig) open() {
	r.t.Helper()
	var err error
	if r.db, err = store.Open(filepath.Join(r.dir, "pebble")); err != nil {
		r.t.Fatal(err)
	}
	signer, _, err := checkpoint.LoadOrCreateKey(r.dir, "hostile.local")
	if err != nil {
		r.t.Fatal(err)
	}
	if r.l, err = Open(Config{DB: r.db, Broker: r.brk, Signer: signer}); err != nil {
		r.t.Fatalf("Open: %v", err)
	}
}

func (r *hostileRig) close() {
	r.t.Helper()
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// msg is a stream message of the submission subject of election.
func (r *hostileRig) msg(election string, data []byte) message {
	r.seq++
	return message{seq: r.seq, time: time.Unix(1_800_000_000+int64(r.seq), 0), subject: r.brk.SubmitSubject(election), data: data}
}

func (r *hostileRig) event(election string, body events.Body) []byte {
	r.t.Helper()
	b, err := (&events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}).Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// manifestJSON writes a manifest event by hand: units precincts under a
// root, vts vote types, one contest of choices choices voted everywhere,
// and depth more levels under the first precinct. Compact, as an attacker
// would make it.
func manifestJSON(election string, units, vts, choices, depth int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"M","date":"2026-11-03","vote_types":[`, uuid.Must(uuid.NewV7()), election)
	for i := range vts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"v%d","name":"v"}`, i)
	}
	b.WriteString(`],"units":[{"id":"r","name":"r","kind":"r"}`)
	for i := range units {
		fmt.Fprintf(&b, `,{"id":"p%d","name":"p","kind":"p","parent":"r"}`, i)
	}
	for i := range depth {
		parent := "p0"
		if i > 0 {
			parent = fmt.Sprintf("d%d", i-1)
		}
		fmt.Fprintf(&b, `,{"id":"d%d","name":"d","kind":"d","parent":%q}`, i, parent)
	}
	b.WriteString(`],"contests":[{"id":"c","name":"c","vote_for":1,"choices":[`)
	for i := range choices {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"c%d","name":"c"}`, i)
	}
	b.WriteString(`]}]}}`)
	return []byte(b.String())
}

// manyContests is a manifest event of n contests of one choice.
func manyContests(election string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"M","date":"2026-11-03","vote_types":[{"id":"v","name":"v"}],"units":[{"id":"r","name":"r","kind":"r"}],"contests":[`, uuid.Must(uuid.NewV7()), election)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"k%d","name":"k","vote_for":1,"choices":[{"id":"c","name":"c"}]}`, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// TestHostileMessages feeds the state machine, in one step, messages that
// bypassed the edge: junk, manifests past each limit of events (the width
// bomb of issue 12 among them), oversized reports, reports for no
// election, a wrong subject, a duplicate, among valid events. Each ends
// logged or dropped with its reason, the step commits, the valid events
// are logged as if alone, and the ledger opens again over the result.
func TestHostileMessages(t *testing.T) {
	r := newHostileRig(t)
	src := events.Source{Operator: "clerk"}
	okManifest := &events.Manifest{Name: "OK", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}, {ID: "p1", Name: "P1", Kind: "precinct", Parent: "st"}, {ID: "p2", Name: "P2", Kind: "precinct", Parent: "st"}},
		Contests: []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}},
			{ID: "local", Name: "Local", VoteFor: 1, Units: []string{"p2"}, Choices: []events.Choice{{ID: "x", Name: "X"}}}},
	}
	report := func(unit, contest string, counts ...events.Count) *events.CountReport {
		return &events.CountReport{Unit: unit, Contest: contest, Counts: counts, Source: src}
	}
	bigReport := report("p1", "gov")
	for i := range events.MaxCountRows + 1 {
		bigReport.Counts = append(bigReport.Counts, events.Count{Choice: fmt.Sprintf("c%05d", i), VoteType: "ed", Votes: 1})
	}
	bigReportJSON, err := (&events.Event{ID: uuid.Must(uuid.NewV7()), Election: "ok", Body: bigReport}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	goodReport := r.event("ok", report("p1", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 7}, events.Count{Choice: "b", VoteType: "ed", Votes: 5}))
	wrongSubject := r.event("ok", report("p2", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 1}))

	type want struct {
		outcome string // the sequence record's outcome, or its start
		reason  string // part of it
	}
	cases := []struct {
		name string
		m    message
		want want
	}{
		{"junk", r.msg("x", []byte("\x00\xffnot an event")), want{"dropped: undecodable", "not valid UTF-8"}},
		{"empty", r.msg("x", nil), want{"dropped: undecodable", "empty event"}},
		{"width bomb, 7,000 × 7,000", r.msg("bomb", manifestJSON("bomb", 1, 7000, 7000, 0)), want{"dropped: undecodable", "7000 vote types, more than the limit of 64"}},
		{"width bomb, 12,000 choices", r.msg("bomb2", manifestJSON("bomb2", 1, 1, 12000, 0)), want{"dropped: undecodable", "12000 choices, more than the limit of 1000 per contest"}},
		{"cells", r.msg("cells", manifestJSON("cells", 1, 20, 1000, 0)), want{"dropped: undecodable", "more than the limit of 10000 cells per contest"}},
		{"tally", r.msg("tally", manifestJSON("tally", 2000, 1, 1000, 0)), want{"dropped: undecodable", "more than the limit of 2000000"}},
		{"depth", r.msg("deep", manifestJSON("deep", 1, 1, 2, events.MaxUnitDepth)), want{"dropped: undecodable", "more than the limit of 16"}},
		{"contests", r.msg("many", manyContests("many", events.MaxContests+1)), want{"dropped: undecodable", "10001 contests, more than the limit of 10000"}},
		{"report before its election", r.msg("ok", goodReport), want{"dropped: election \"ok\" is not defined", ""}},
		{"manifest", r.msg("ok", r.event("ok", okManifest)), want{"logged", ""}},
		{"report", r.msg("ok", r.event("ok", report("p2", "local", events.Count{Choice: "x", VoteType: "ed", Votes: 3}))), want{"logged", ""}},
		{"report out of scope", r.msg("ok", r.event("ok", report("p1", "local", events.Count{Choice: "x", VoteType: "ed", Votes: 3}))), want{"logged", ""}},
		{"too many counts", r.msg("ok", bigReportJSON), want{"dropped: undecodable", "10001 counts, more than the limit of 10000"}},
		{"too many votes", r.msg("ok", []byte(strings.Replace(string(goodReport), `"votes":7`, `"votes":1000000000000`, 1))), want{"dropped: undecodable", "more than the limit of 1000000000"}},
		{"width bomb for a defined election", r.msg("ok", manifestJSON("ok", 1, 7000, 7000, 0)), want{"dropped: undecodable", "7000 vote types"}},
		{"second manifest", r.msg("ok", r.event("ok", okManifest)), want{"logged", ""}},
		{"wrong subject", r.msg("other", wrongSubject), want{"dropped: published on", ""}},
		{"the report again, now its election is defined", r.msg("ok", goodReport), want{"logged", ""}},
		{"duplicate", r.msg("ok", goodReport), want{"duplicate", ""}},
	}
	batch := make([]message, len(cases))
	for i, c := range cases {
		batch[i] = c.m
	}
	if err := r.l.step(batch); err != nil {
		t.Fatalf("the step failed: %v", err)
	}
	if pos := r.l.Position(); pos != r.seq {
		t.Fatalf("position %d after the step, want %d", pos, r.seq)
	}
	for _, c := range cases {
		rec, err := r.db.Seq(c.m.seq)
		if err != nil {
			t.Errorf("%s: no record of stream message %d: %v", c.name, c.m.seq, err)
			continue
		}
		if !strings.HasPrefix(rec.Outcome, c.want.outcome) || !strings.Contains(rec.Outcome, c.want.reason) {
			t.Errorf("%s: outcome %.300q, want %q with %q", c.name, rec.Outcome, c.want.outcome, c.want.reason)
		}
	}

	// The valid events are the log: the manifest, the report, the one out
	// of scope rejected, the second manifest rejected, the first report.
	verdicts := []string{"accepted", "accepted", "rejected", "rejected", "accepted"}
	govVotes := int64(12)
	check := func(when string) []byte {
		t.Helper()
		if got := r.l.Elections(); len(got) != 1 || got[0].ID != "ok" || got[0].Size != uint64(len(verdicts)) {
			t.Fatalf("%s: elections %+v, want only ok, of %d entries", when, got, len(verdicts))
		}
		err := r.l.Entries("ok", 0, 100, func(i uint64, data []byte) error {
			en, err := events.DecodeEntry(data)
			if err != nil {
				return err
			}
			if string(en.Verdict) != verdicts[i] {
				t.Errorf("%s: entry %d is %s (%s), want %s", when, i, en.Verdict, en.Reason, verdicts[i])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tl, err := r.l.Tally("ok")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := tl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if tl.Contests[0].TotalVotes != govVotes || tl.Contests[1].TotalVotes != 3 {
			t.Errorf("%s: tally %s", when, doc)
		}
		return doc
	}
	before := check("after the step")

	// Reopened over the same database, the ledger loads the same state.
	r.close()
	r.open()
	if got := check("reopened"); string(got) != string(before) {
		t.Errorf("reopened, the tally differs:\n%s\nwant\n%s", got, before)
	}
	// And it goes on.
	if err := r.l.step([]message{r.msg("ok", r.event("ok", report("p2", "gov", events.Count{Choice: "b", VoteType: "ed", Votes: 1})))}); err != nil {
		t.Fatal(err)
	}
	verdicts, govVotes = append(verdicts, "accepted"), 13
	check("after one more step")
	r.close()
}
