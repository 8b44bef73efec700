package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/projections"
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
	signer, err := checkpoint.LoadOrCreateKey(r.dir, "hostile.local")
	if err != nil {
		r.t.Fatal(err)
	}
	if r.l, err = Open(Config{DB: r.db, Broker: r.brk, Signer: signer, Authorities: testkeys.Authorities}); err != nil {
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

// sub is a submission of one event per body, of election, signed by k.
func (r *hostileRig) sub(k *keys.Key, election string, bodies ...events.Body) []byte {
	r.t.Helper()
	evs := make([]*events.Event, len(bodies))
	for i, body := range bodies {
		evs[i] = newEvent(election, body)
	}
	return sign(r.t, k, evs...)
}

// manifestJSON writes a manifest event by hand: units precincts under a
// root, vts vote types, one contest of choices choices voted everywhere,
// and depth more levels under the first precinct; its authority is the
// tests' (testkeys.Authority). Compact, as an attacker would make it.
func manifestJSON(election string, units, vts, choices, depth int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"M","date":"2026-11-03","authority":%q,"vote_types":[`, uuid.Must(uuid.NewV7()), election, testkeys.Authority.Verifier)
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

// manyContests is a manifest event of n contests of one choice, of the
// tests' authority.
func manyContests(election string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"M","date":"2026-11-03","authority":%q,"vote_types":[{"id":"v","name":"v"}],"units":[{"id":"r","name":"r","kind":"r"}],"contests":[`, uuid.Must(uuid.NewV7()), election, testkeys.Authority.Verifier)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"k%d","name":"k","vote_for":1,"choices":[{"id":"c","name":"c"}]}`, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// partsJSON is a manifest of election in parts, written without checks:
// the first event has vts vote types, "parts" and the first items, each
// part the next; items are the units, then the contests (JSON objects),
// at most per an event.
func partsJSON(election string, vts int, units, contests []string, per int) [][]byte {
	type item struct {
		contest bool
		json    string
	}
	var items []item
	for _, u := range units {
		items = append(items, item{false, u})
	}
	for _, c := range contests {
		items = append(items, item{true, c})
	}
	n := (len(items) + per - 1) / per
	id := uuid.Must(uuid.NewV7())
	var out [][]byte
	for k := range n {
		var us, cs []string
		for _, it := range items[k*per : min(len(items), (k+1)*per)] {
			if it.contest {
				cs = append(cs, it.json)
			} else {
				us = append(us, it.json)
			}
		}
		var b strings.Builder
		if k == 0 {
			fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"M","date":"2026-11-03","authority":%q,"parts":%d,"vote_types":[`, id, election, testkeys.Authority.Verifier, n)
			for i := range vts {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"id":"v%d","name":"v"}`, i)
			}
			fmt.Fprintf(&b, `],"units":[%s],"contests":[%s]}}`, strings.Join(us, ","), strings.Join(cs, ","))
		} else {
			fmt.Fprintf(&b, `{"v":1,"type":"manifest.part","id":%q,"election":%q,"data":{"part":%d`, events.ManifestPartID(id, k), election, k)
			if len(us) > 0 {
				fmt.Fprintf(&b, `,"units":[%s]`, strings.Join(us, ","))
			}
			if len(cs) > 0 {
				fmt.Fprintf(&b, `,"contests":[%s]`, strings.Join(cs, ","))
			}
			b.WriteString(`}}`)
		}
		out = append(out, []byte(b.String()))
	}
	return out
}

// tallyBomb is a manifest in parts whose tally would hold more than
// events.MaxTallyNumbers numbers: 2,000 precincts and two contests of
// events.MaxChoices choices voted everywhere.
func tallyBomb(election string) [][]byte {
	units := []string{`{"id":"r","name":"r","kind":"r"}`}
	for i := range 2000 {
		units = append(units, fmt.Sprintf(`{"id":"p%d","name":"p","kind":"p","parent":"r"}`, i))
	}
	var contests []string
	for c := range 2 {
		var ch []string
		for i := range events.MaxChoices {
			ch = append(ch, fmt.Sprintf(`{"id":"c%d","name":"c"}`, i))
		}
		contests = append(contests, fmt.Sprintf(`{"id":"k%d","name":"k","vote_for":1,"choices":[%s]}`, c, strings.Join(ch, ",")))
	}
	return partsJSON(election, 1, units, contests, 800)
}

// contestsBomb is a manifest in parts of n contests.
func contestsBomb(election string, n int) [][]byte {
	var contests []string
	for i := range n {
		contests = append(contests, fmt.Sprintf(`{"id":"k%d","name":"k","vote_for":1,"choices":[{"id":"c","name":"c"}]}`, i))
	}
	return partsJSON(election, 1, []string{`{"id":"r","name":"r","kind":"r"}`}, contests, 700)
}

// Ways to spoil a signed submission's signature, keeping its text readable.

// sigText is the signed text of a submission: all before its signature.
func sigText(t *testing.T, signed []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("not a signed note: %q", signed)
	}
	return signed[:i+1]
}

// replaceOnce replaces the one occurrence of old in b.
func replaceOnce(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(b, []byte(old)); n != 1 {
		t.Fatalf("%q occurs %d times in %q", old, n, b)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// signText signs a submission's text with the given keys, whatever key
// the text names.
func signText(t *testing.T, text []byte, ks ...*keys.Key) []byte {
	t.Helper()
	signers := make([]note.Signer, len(ks))
	for i, k := range ks {
		signers[i] = k.Signer
	}
	b, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileMessages feeds the state machine, in one step, messages that
// bypassed the edge: junk, an unsigned event as the stream carried before
// submissions were signed, manifests past each limit of events (the width
// bomb of issue 12 among them, signed by the authority itself), oversized
// reports, reports for no election, a wrong subject, submissions that do
// not open (an event of another election, an event not in its canonical
// encoding), submissions whose signature does not verify (unsigned,
// altered, signed by another key, signed twice, a malformed signature), a
// duplicate and a partial duplicate, among valid submissions. Each ends
// logged (a bad signature as rejected entries, "bad signature: …") or
// dropped with its reason, the step commits, the valid events are logged
// as if alone, and the ledger opens again over the result.
func TestHostileMessages(t *testing.T) {
	r := newHostileRig(t)
	auth := testkeys.Authority
	mallory := testkeys.New("mallory")
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
	bigReportJSON, err := newEvent("ok", bigReport).Encode()
	if err != nil {
		t.Fatal(err)
	}
	goodEvent := newEvent("ok", report("p1", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 7}, events.Count{Choice: "b", VoteType: "ed", Votes: 5}))
	goodReport := sign(t, auth, goodEvent)
	goodJSON, err := goodEvent.Encode()
	if err != nil {
		t.Fatal(err)
	}
	wrongSubject := r.sub(auth, "ok", report("p2", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 1}))
	// A valid report of 3 votes for p2, to spoil in each way.
	spoil := func() []byte {
		return r.sub(auth, "ok", report("p2", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 3}))
	}
	altered := replaceOnce(t, spoil(), `"votes":3`, `"votes":300`)
	otherKey := signText(t, sigText(t, spoil()), mallory)
	twice := signText(t, sigText(t, spoil()), auth, mallory)
	unsigned := sigText(t, spoil())
	malformed := append(append(sigText(t, spoil()), '\n'), "— test-authority !!!\n"...)
	otherJSON, err := newEvent("other", report("p2", "gov", events.Count{Choice: "a", VoteType: "ed", Votes: 1})).Encode()
	if err != nil {
		t.Fatal(err)
	}
	otherElection := signLines(t, auth, "ok", goodJSON, otherJSON)
	notCanonical := signLines(t, auth, "ok", replaceOnce(t, bytes.Clone(goodJSON), `"election":"ok",`, `"election": "ok",`))
	// The report already logged and a new event, in one submission.
	partial := sign(t, auth, goodEvent, newEvent("ok", &events.KeyRegistration{Key: testkeys.New("p2-reporter").Verifier, Units: []string{"p2"}}))

	type want struct {
		outcome string // the sequence record's outcome, or its start
		reason  string // part of it
	}
	const unreadable = "dropped: not a submission the ledger can read: "
	cases := []struct {
		name string
		m    message
		want want
	}{
		{"junk", r.msg("x", []byte("\x00\xffnot an event")), want{unreadable, "not a signed submission"}},
		{"empty", r.msg("x", nil), want{unreadable, "not a signed submission"}},
		{"an unsigned event", r.msg("ok", goodJSON), want{unreadable, "not a signed submission"}},
		{"width bomb, 7,000 × 7,000", r.msg("bomb", signLines(t, auth, "bomb", manifestJSON("bomb", 1, 7000, 7000, 0))), want{unreadable, "more than the limit of 57343"}},
		{"width bomb, 12,000 choices", r.msg("bomb2", signLines(t, auth, "bomb2", manifestJSON("bomb2", 1, 1, 12000, 0))), want{unreadable, "more than the limit of 57343"}},
		{"cells", r.msg("cells", signLines(t, auth, "cells", manifestJSON("cells", 1, 20, events.MaxChoices, 0))), want{unreadable, "10000 cells, more than the limit of 600 cells per contest"}},
		{"tally", r.msg("tally", signLines(t, auth, "tally", tallyBomb("tally")...)), want{unreadable, "more than the limit of 2000000"}},
		{"depth", r.msg("deep", signLines(t, auth, "deep", manifestJSON("deep", 1, 1, 2, events.MaxUnitDepth))), want{unreadable, "more than the limit of 16"}},
		{"contests", r.msg("many", signLines(t, auth, "many", contestsBomb("many", events.MaxContests+1)...)), want{unreadable, "10001 contests, more than the limit of 10000"}},
		{"contests in one event", r.msg("many1", signLines(t, auth, "many1", manyContests("many1", events.MaxContests+1))), want{unreadable, "more than the limit of 57343"}},
		{"a manifest's part alone", r.msg("alone", signLines(t, auth, "alone", contestsBomb("alone", 1000)[1])), want{unreadable, "does not follow its election.defined event"}},
		{"a manifest without its last part", r.msg("short", signLines(t, auth, "short", contestsBomb("short", 1000)[:1]...)), want{unreadable, "is a manifest in 2 parts, but only 0 events follow it"}},
		{"report before its election", r.msg("ok", goodReport), want{"dropped: election \"ok\" is not defined", ""}},
		{"manifest", r.msg("ok", r.sub(auth, "ok", okManifest)), want{"logged 1", ""}},
		{"report", r.msg("ok", r.sub(auth, "ok", report("p2", "local", events.Count{Choice: "x", VoteType: "ed", Votes: 3}))), want{"logged 1", ""}},
		{"report out of scope", r.msg("ok", r.sub(auth, "ok", report("p1", "local", events.Count{Choice: "x", VoteType: "ed", Votes: 3}))), want{"logged 1", ""}},
		{"too many counts", r.msg("ok", signLines(t, auth, "ok", bigReportJSON)), want{unreadable, "601 counts, more than the limit of 600"}},
		{"too many votes", r.msg("ok", signLines(t, auth, "ok", replaceOnce(t, bytes.Clone(goodJSON), `"votes":7`, `"votes":1000000000000`))), want{unreadable, "more than the limit of 1000000000"}},
		{"width bomb for a defined election", r.msg("ok", signLines(t, auth, "ok", manifestJSON("ok", 1, 7000, 7000, 0))), want{unreadable, "more than the limit of 57343"}},
		{"second manifest", r.msg("ok", r.sub(auth, "ok", okManifest)), want{"logged 1", ""}},
		{"wrong subject", r.msg("other", wrongSubject), want{"dropped: published on", ""}},
		{"an event of another election", r.msg("ok", otherElection), want{unreadable, `is for election "other", the submission for "ok"`}},
		{"an event not in its canonical encoding", r.msg("ok", notCanonical), want{unreadable, "not in its canonical encoding"}},
		{"altered", r.msg("ok", altered), want{"logged 1", ""}},
		{"signed by another key", r.msg("ok", otherKey), want{"logged 1", ""}},
		{"signed twice", r.msg("ok", twice), want{"logged 1", ""}},
		{"unsigned", r.msg("ok", unsigned), want{"logged 1", ""}},
		{"malformed signature", r.msg("ok", malformed), want{"logged 1", ""}},
		{"the report again, now its election is defined", r.msg("ok", goodReport), want{"logged 1", ""}},
		{"duplicate", r.msg("ok", goodReport), want{"logged 0, duplicate 1", ""}},
		{"partial duplicate", r.msg("ok", partial), want{"logged 1, duplicate 1", ""}},
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
		if c.want.outcome != unreadable && rec.ID != submissionID(t, c.m.data) {
			t.Errorf("%s: the record names submission %s, want %s", c.name, rec.ID, submissionID(t, c.m.data))
		}
	}

	// The valid events are the log: the manifest, the report, the one out
	// of scope rejected, the second manifest rejected, the five reports
	// whose signature does not verify rejected (and not signed by anyone),
	// the first report, the key registration.
	type verdict struct {
		verdict string
		reason  string // its start, then a part of it
		part    string
	}
	badSig := func(part string) verdict { return verdict{"rejected", projections.SignaturePrefix, part} }
	verdicts := []verdict{
		{"accepted", "", ""}, {"accepted", "", ""},
		{"rejected", "", `unit "p1" does not vote in contest "local"`}, {"rejected", "", "cannot be replaced"},
		badSig("the submission was altered"), badSig("signed by mallory+"), badSig("more than one signature line"),
		badSig("unsigned"), badSig("malformed signature line"),
		{"accepted", "", ""}, {"accepted", "", ""},
	}
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
			w := verdicts[i]
			if string(en.Verdict) != w.verdict || !strings.HasPrefix(en.Reason, w.reason) || !strings.Contains(en.Reason, w.part) {
				t.Errorf("%s: entry %d is %s (%s), want %s (%q…%q)", when, i, en.Verdict, en.Reason, w.verdict, w.reason, w.part)
			}
			switch signer := en.Submission.Signer; {
			case w.reason == projections.SignaturePrefix && signer != "":
				t.Errorf("%s: entry %d, of a signature that does not verify, names signer %s", when, i, signer)
			case w.reason != projections.SignaturePrefix && signer != auth.Verifier:
				t.Errorf("%s: entry %d names signer %q, want the authority", when, i, signer)
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
	if err := r.l.step([]message{r.msg("ok", r.sub(auth, "ok", report("p2", "gov", events.Count{Choice: "b", VoteType: "ed", Votes: 1})))}); err != nil {
		t.Fatal(err)
	}
	verdicts, govVotes = append(verdicts, verdict{"accepted", "", ""}), 13
	check("after one more step")
	r.close()
}
