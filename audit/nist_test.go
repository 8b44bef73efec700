package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/importer/nist/nisttest"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

const nistIssuer = "ledger.example"

// nistManifest: st > a (a1, a2), b; one measure everywhere.
func nistManifest() *events.Manifest {
	return &events.Manifest{
		Name: "NIST Export", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "absentee", Name: "Absentee"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"},
			{ID: "a", Name: "A", Kind: "county", Parent: "st"}, {ID: "b", Name: "B", Kind: "county", Parent: "st"},
			{ID: "a1", Name: "A1", Kind: "precinct", Parent: "a"}, {ID: "a2", Name: "A2", Kind: "precinct", Parent: "a"}},
		Contests: []events.Contest{{ID: "m", Name: "Measure", VoteFor: 1,
			Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}}},
	}
}

func nistCounts(unit string, no, yes int64) events.CountReport {
	return events.CountReport{Unit: unit, Contest: "m", Source: events.Source{Operator: "clerk"}, Counts: []events.Count{
		{Choice: "no", VoteType: "election-day", Votes: no}, {Choice: "no", VoteType: "absentee", Votes: no / 10},
		{Choice: "yes", VoteType: "election-day", Votes: yes}, {Choice: "yes", VoteType: "absentee", Votes: yes / 10},
	}}
}

// TestNISTReport logs reports, corrections, a retraction, a certification
// and a recount through a real ledger, one event per step, and checks the
// NIST report at every size: valid by the NIST schema, with the status the
// log calls for, the stream time of its last entry and the ledger's name,
// and the same bytes however often and from wherever it is computed.
func TestNISTReport(t *testing.T) {
	const election = "nist-2026"
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	var want []string // status at each size, from 1
	var ids = map[string]uuid.UUID{}
	submit := func(body events.Body, status string) uuid.UUID {
		t.Helper()
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}
		mustSubmit(t, n.Ledger, ev)
		want = append(want, status)
		return ev.ID
	}
	report := func(unit string, no, yes int64, status string) {
		c := nistCounts(unit, no, yes)
		ids[unit] = submit(&c, status)
	}
	correct := func(unit string, no, yes int64, status string) {
		ids[unit] = submit(&events.Correction{Corrects: ids[unit], Reason: "recanvass", CountReport: nistCounts(unit, no, yes)}, status)
	}
	submit(nistManifest(), "pre-election")
	report("a1", 100, 80, "unofficial-partial")
	correct("a1", 101, 80, "correction")
	report("b", 300, 310, "unofficial-partial")
	submit(&events.Retraction{Retracts: ids["b"], Reason: "wrong county", Source: events.Source{Operator: "clerk"}}, "correction")
	report("b", 305, 310, "unofficial-partial")
	report("a2", 50, 60, "unofficial-complete")
	correct("a2", 55, 60, "correction")
	submit(&events.Certification{By: "Secretary of State"}, "certified")
	c := nistCounts("a2", 56, 60)
	submit(&c, "certified") // rejected: certified
	submit(&events.RecountOrder{By: "Secretary of State", Reason: "margin"}, "recount")
	correct("a1", 102, 80, "recount")
	submit(&events.Certification{By: "Secretary of State", Note: "after recount"}, "certified")
	closeNode(t, n)

	db := ledgerDir{dir: dir}.open(t)
	s := nisttest.Schema(t)
	m := nistManifest()
	for size := uint64(1); size <= uint64(len(want)); size++ {
		got, err := audit.NISTReport(db, election, size, nistIssuer)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if err := nisttest.Validate(s, got); err != nil {
			t.Fatalf("size %d: the report is not valid by the NIST schema: %v\n%s", size, err, got)
		}
		var head struct{ Status, GeneratedDate, Issuer, IssuerAbbreviation string }
		if err := json.Unmarshal(got, &head); err != nil {
			t.Fatal(err)
		}
		recorded := entryTime(t, db, election, size-1)
		if head.Status != want[size-1] || head.GeneratedDate != recorded.Truncate(time.Second).Format(time.RFC3339) ||
			head.Issuer != nistIssuer || head.IssuerAbbreviation != nistIssuer {
			t.Errorf("size %d: %+v; want status %s, generated at %s (entry %d)", size, head, want[size-1], recorded, size-1)
		}
		// It is the as-of tally, exported.
		tally, err := audit.TallyAt(db, election, size)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := nist.Export(m, tally, nist.ExportOptions{GeneratedDate: recorded, Issuer: nistIssuer,
			IssuerAbbreviation: nistIssuer, Correction: want[size-1] == "correction"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, direct) {
			t.Errorf("size %d: the report is not the export of the tally at that size:\n%s\nwant\n%s", size, got, direct)
		}
		if again, err := audit.NISTReport(db, election, size, nistIssuer); err != nil || !bytes.Equal(again, got) {
			t.Errorf("size %d: a second request gave other bytes (%v)", size, err)
		}
	}
	if !strings.Contains(string(mustNIST(t, db, election, 3)), `"Count": 101`) {
		t.Error("the report at size 3 lacks the corrected count")
	}
	for _, c := range []struct {
		size   uint64
		issuer string
	}{{0, nistIssuer}, {uint64(len(want)) + 1, nistIssuer}, {2, ""}} {
		if _, err := audit.NISTReport(db, election, c.size, c.issuer); err == nil {
			t.Errorf("NISTReport(size %d, issuer %q) succeeded", c.size, c.issuer)
		}
	}
}

// TestNISTReportFromSnapshots checks, on a log long enough for the ledger
// to keep snapshots, mostly of corrections, that a report computed from a
// snapshot is byte for byte the one a replay from entry 0 gives: the
// snapshot carries whether the election is correcting.
func TestNISTReportFromSnapshots(t *testing.T) {
	const election, total = "nist-snap-2026", 1400
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	ev := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: b}
	}
	evs := []*events.Event{ev(nistManifest())}
	current := map[string]uuid.UUID{}
	units := []string{"a1", "a2", "b", "a"}
	for i := 1; i < total; i++ {
		u := units[i%len(units)]
		c := nistCounts(u, int64(i), int64(2*i%1000))
		var e *events.Event
		switch prev, ok := current[u]; {
		case !ok:
			e = ev(&c)
		case i%97 == 0:
			e = ev(&events.Retraction{Retracts: prev, Reason: "withdrawn", Source: events.Source{Operator: "clerk"}})
		default:
			e = ev(&events.Correction{Corrects: prev, Reason: "recanvass", CountReport: c})
		}
		if _, ok := e.Body.(*events.Retraction); ok {
			delete(current, u)
		} else {
			current[u] = e.ID
		}
		evs = append(evs, e)
	}
	for len(evs) > 0 {
		k := min(len(evs), 300)
		for _, r := range mustSubmit(t, n.Ledger, evs[:k]...) {
			if r.Verdict != events.Accepted {
				t.Fatalf("entry %d rejected: %s", r.Index, r.Reason)
			}
		}
		evs = evs[k:]
	}
	name := n.Ledger.Name()
	closeNode(t, n)

	db := ledgerDir{dir: dir}.open(t)
	var snaps []uint64
	if err := db.Snapshots(election, func(n uint64, _ []byte) error { snaps = append(snaps, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		t.Fatalf("the ledger kept no snapshot of a log of %d entries", total)
	}
	sizes := []uint64{1, 2, total}
	correcting := false
	for _, s := range snaps {
		sizes = append(sizes, s-1, s, s+1)
		_, snap, err := db.Snapshot(election, s)
		if err != nil {
			t.Fatal(err)
		}
		p, err := projections.Restore(election, nistManifest(), snap)
		if err != nil {
			t.Fatal(err)
		}
		correcting = correcting || p.Correcting()
	}
	if !correcting {
		t.Fatalf("no snapshot (at %v) is of a correcting projection: the test proves nothing", snaps)
	}
	sch := nisttest.Schema(t)
	for _, size := range sizes {
		fast, err := audit.NISTReport(db, election, size, name)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		slow, err := audit.NISTReport(entriesOnly{db}, election, size, name)
		if err != nil {
			t.Fatalf("size %d from entry 0: %v", size, err)
		}
		if !bytes.Equal(fast, slow) {
			t.Fatalf("size %d: from a snapshot\n%s\nfrom entry 0\n%s", size, fast, slow)
		}
		if err := nisttest.Validate(sch, fast); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		p, err := audit.ProjectionAt(db, election, size)
		if err != nil {
			t.Fatal(err)
		}
		from0, err := audit.ProjectionAt(entriesOnly{db}, election, size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Snapshot(), from0.Snapshot()) {
			t.Fatalf("size %d: ProjectionAt from a snapshot differs from a replay from entry 0", size)
		}
	}
}

func mustNIST(t *testing.T, src audit.Source, election string, n uint64) []byte {
	t.Helper()
	b, err := audit.NISTReport(src, election, n, nistIssuer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entryTime(t *testing.T, db *store.DB, election string, i uint64) time.Time {
	t.Helper()
	b, err := db.Entry(election, i)
	if err != nil {
		t.Fatal(err)
	}
	en, err := events.DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	return en.Recorded
}
