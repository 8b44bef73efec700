package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/store"
)

// BenchmarkStep measures the state machine alone: opening signed
// submissions (one event each), verdicts, entries, hashes, projections and
// one synced Pebble batch per 1,000 messages, without the broker. The
// messages are opened in the step, as apply does when the consumer has not
// opened them ahead.
func BenchmarkStep(b *testing.B) { benchmarkStep(b, false) }

// BenchmarkStepSubmission is BenchmarkStep with each step one submission
// of 1,000 events, opened beforehand as the consumer's goroutine does: the
// shape of a reporter's upload.
func BenchmarkStepSubmission(b *testing.B) { benchmarkStep(b, true) }

func benchmarkStep(b *testing.B, whole bool) {
	dir := b.TempDir()
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	signer, err := checkpoint.LoadOrCreateKey(dir, "bench.local")
	if err != nil {
		b.Fatal(err)
	}
	brk, err := broker.Open(context.Background(), broker.Config{Dir: filepath.Join(dir, "js"), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer brk.Close()
	l, err := Open(Config{DB: db, Broker: brk, Signer: signer, Authorities: testkeys.Authorities})
	if err != nil {
		b.Fatal(err)
	}
	m := &events.Manifest{Name: "Bench", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}, {ID: "abs", Name: "Absentee"}},
		Units:     []events.Unit{{ID: "state", Name: "State", Kind: "state"}},
		Contests:  []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}, {ID: "c", Name: "C"}, {ID: "d", Name: "D"}}}}}
	for i := range 1000 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%d", i), Name: "P", Kind: "precinct", Parent: "state"})
	}
	seq := uint64(0)
	msg := func(body events.Body) message {
		seq++
		ev := newEvent("bench", body)
		// Validate normalises the event (sorts its counts), so that it
		// is signed in its canonical encoding, as a client signs it.
		if err := ev.Validate(); err != nil {
			b.Fatal(err)
		}
		data := sign(b, testkeys.Authority, ev)
		return message{seq: seq, time: time.Unix(int64(seq), 0), subject: brk.SubmitSubject("bench"), data: data}
	}
	if err := l.step([]message{msg(m)}); err != nil {
		b.Fatal(err)
	}
	batch := make([]message, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		b.StopTimer()
		evs := make([]*events.Event, len(batch))
		for j := range batch {
			r := &events.CountReport{Unit: fmt.Sprintf("p%d", (i+j)%1000), Contest: "gov", Source: events.Source{Operator: "clerk"}}
			for _, c := range []string{"a", "b", "c", "d"} {
				r.Counts = append(r.Counts, events.Count{Choice: c, VoteType: "ed", Votes: int64(i + j)}, events.Count{Choice: c, VoteType: "abs", Votes: 7})
			}
			if whole {
				evs[j] = newEvent("bench", r)
			} else {
				batch[j] = msg(r)
			}
		}
		steps := batch
		if whole {
			seq++
			m := message{seq: seq, time: time.Unix(int64(seq), 0), subject: brk.SubmitSubject("bench"), data: sign(b, testkeys.Authority, evs...)}
			m.sub, m.openErr = events.OpenSubmission(m.data)
			steps = []message{m}
		}
		b.StartTimer()
		if err := l.step(steps); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got, want := l.elections["bench"].proj.Tally().Accepted, uint64(1+(b.N+len(batch)-1)/len(batch)*len(batch)); got != want {
		b.Fatalf("%d events accepted, want %d: the benchmark measured something else", got, want)
	}
}
