package bench

import (
	"testing"
	"time"

	"github.com/election-audit/ledger/events"
)

func BenchmarkDecodeCanonical(b *testing.B) {
	g := newGenerator("bench")
	data, _ := g.report().Encode()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ev, enc, err := events.DecodeCanonical(data)
		if err != nil {
			b.Fatal(err)
		}
		en := &events.Entry{Index: 5, Recorded: time.Unix(1, 0), Verdict: events.Accepted, Event: ev}
		if _, err := en.EncodeWith(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOnly(b *testing.B) {
	g := newGenerator("bench")
	data, _ := g.report().Encode()
	for b.Loop() {
		if _, err := events.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeOnly(b *testing.B) {
	g := newGenerator("bench")
	ev := g.report()
	for b.Loop() {
		if _, err := ev.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEntry(b *testing.B) {
	g := newGenerator("bench")
	ev := g.report()
	en := &events.Entry{Index: 5, Recorded: time.Unix(1, 0), Verdict: events.Accepted, Event: ev}
	data, _ := en.Encode()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := events.DecodeEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
