package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/store"
)

// BenchmarkStep measures the state machine alone: decoding, verdicts,
// entries, hashes, projections and one synced Pebble batch per 1,000
// messages, without the broker.
func BenchmarkStep(b *testing.B) {
	dir := b.TempDir()
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	signer, _, err := checkpoint.LoadOrCreateKey(dir, "bench.local")
	if err != nil {
		b.Fatal(err)
	}
	brk, err := broker.Open(context.Background(), broker.Config{Dir: filepath.Join(dir, "js"), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer brk.Close()
	l, err := Open(Config{DB: db, Broker: brk, Signer: signer})
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
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "bench", Body: body}
		data, err := ev.Encode()
		if err != nil {
			b.Fatal(err)
		}
		return message{seq: seq, time: time.Unix(int64(seq), 0), subject: brk.SubmitSubject("bench"), data: data}
	}
	if err := l.step([]message{msg(m)}); err != nil {
		b.Fatal(err)
	}
	batch := make([]message, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		b.StopTimer()
		for j := range batch {
			r := &events.CountReport{Unit: fmt.Sprintf("p%d", (i+j)%1000), Contest: "gov", Source: events.Source{Operator: "clerk"}}
			for _, c := range []string{"a", "b", "c", "d"} {
				r.Counts = append(r.Counts, events.Count{Choice: c, VoteType: "ed", Votes: int64(i + j)}, events.Count{Choice: c, VoteType: "abs", Votes: 7})
			}
			batch[j] = msg(r)
		}
		b.StartTimer()
		if err := l.step(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got, want := l.elections["bench"].proj.Tally().Accepted, uint64(1+(b.N+len(batch)-1)/len(batch)*len(batch)); got != want {
		b.Fatalf("%d events accepted, want %d: the benchmark measured something else", got, want)
	}
}
