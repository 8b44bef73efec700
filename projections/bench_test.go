package projections_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// The benchmarks fold the election of `ledger bench` (a state of 10
// counties of 1,000 precincts, one contest of four candidates, two vote
// types) as the state machine and a replay do.

const benchElection = "bench"

func benchManifest() *events.Manifest {
	m := &events.Manifest{
		Name: "Synthetic statewide election", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "absentee-by-mail", Name: "Absentee by Mail"}},
		Units:     []events.Unit{{ID: "state", Name: "State", Kind: "state"}},
		Contests: []events.Contest{{ID: "governor", Name: "Governor", VoteFor: 1, Choices: []events.Choice{
			{ID: "cand-a", Name: "Candidate A"}, {ID: "cand-b", Name: "Candidate B"},
			{ID: "cand-c", Name: "Candidate C"}, {ID: "cand-d", Name: "Candidate D"}}}},
	}
	for c := range 10 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("c%02d", c), Name: fmt.Sprintf("County %d", c), Kind: "county", Parent: "state"})
	}
	for c := range 10 {
		for p := range 1000 {
			m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("c%02d-p%04d", c, p), Name: "Precinct", Kind: "precinct", Parent: fmt.Sprintf("c%02d", c)})
		}
	}
	return m
}

// benchEntries returns n accepted count reports of random precincts.
func benchEntries(n int) []*events.Entry {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]*events.Entry, n)
	for i := range out {
		r := &events.CountReport{
			Unit:    fmt.Sprintf("c%02d-p%04d", rng.IntN(10), rng.IntN(1000)),
			Contest: "governor", Source: events.Source{Operator: "county-clerk"},
		}
		for _, ch := range []string{"cand-a", "cand-b", "cand-c", "cand-d"} {
			for _, vt := range []string{"absentee-by-mail", "election-day"} {
				r.Counts = append(r.Counts, events.Count{Choice: ch, VoteType: vt, Votes: int64(rng.IntN(900))})
			}
		}
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: benchElection, Body: r}
		out[i] = &events.Entry{Recorded: time.Unix(int64(i), 0), Verdict: events.Accepted, Event: ev}
	}
	return out
}

func benchFresh(b *testing.B, m *events.Manifest) *projections.Election {
	b.Helper()
	e, err := projections.New(benchElection, m)
	if err != nil {
		b.Fatal(err)
	}
	mev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: benchElection, Body: m}
	if err := e.Apply(&events.Entry{Verdict: events.Accepted, Event: mev}); err != nil {
		b.Fatal(err)
	}
	return e
}

// fold checks and applies entries as the state machine does.
func benchFold(b *testing.B, e *projections.Election, entries []*events.Entry) {
	for _, en := range entries {
		en.Index = e.Size()
		if rj := e.Check(en.Event); rj != nil {
			b.Fatalf("rejected: %s", rj.Reason)
		}
		if err := e.Apply(en); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFold is the cost of one count report: Check, then Apply.
func BenchmarkFold(b *testing.B) {
	m := benchManifest()
	entries := benchEntries(20_000)
	e := benchFresh(b, m)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		en := entries[i%len(entries)]
		en.Index = e.Size()
		if rj := e.Check(en.Event); rj != nil {
			b.Fatal(rj.Reason)
		}
		if err := e.Apply(en); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFoldFlush is a step of the state machine: 1,000 reports, then
// the changed cells encoded.
func BenchmarkFoldFlush(b *testing.B) {
	m := benchManifest()
	entries := benchEntries(20_000)
	e := benchFresh(b, m)
	bytes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := (i * 1000) % len(entries)
		benchFold(b, e, entries[start:start+1000])
		if err := e.Flush(func(k string, v []byte) { bytes += len(k) + len(v) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "cellbytes/step")
}

// benchFull is the election with every precinct reported.
func benchFull(b *testing.B) (*events.Manifest, *projections.Election) {
	m := benchManifest()
	e := benchFresh(b, m)
	benchFold(b, e, benchEntries(40_000))
	return m, e
}

// BenchmarkTally builds and encodes the tally document of 10,011 units.
func BenchmarkTally(b *testing.B) {
	_, e := benchFull(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Tally().Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot encodes the whole projection.
func BenchmarkSnapshot(b *testing.B) {
	_, e := benchFull(b)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		n = len(e.Snapshot())
	}
	b.ReportMetric(float64(n), "snapbytes")
}

// BenchmarkRestore decodes a snapshot, as an as-of tally does.
func BenchmarkRestore(b *testing.B) {
	m, e := benchFull(b)
	snap := e.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := projections.Restore(benchElection, m, snap); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcile computes the findings of the fully reported election.
func BenchmarkReconcile(b *testing.B) {
	_, e := benchFull(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Reconcile()
	}
}

// BenchmarkNew builds the projection of the manifest.
func BenchmarkNew(b *testing.B) {
	m := benchManifest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := projections.New(benchElection, m); err != nil {
			b.Fatal(err)
		}
	}
}
