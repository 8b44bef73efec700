package bench

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// benchRef is the submission reference an entry carries: item 5 of a
// submission signed by the bench key.
func benchRef() *events.SubmissionRef {
	return &events.SubmissionRef{ID: uuid.Must(uuid.NewV7()), SHA256: sha256.Sum256([]byte("submission")), Item: 5, Signer: benchKey().Verifier}
}

func BenchmarkDecodeCanonical(b *testing.B) {
	g := newGenerator("bench")
	data, _ := g.report().Encode()
	ref := benchRef()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ev, enc, err := events.DecodeCanonical(data)
		if err != nil {
			b.Fatal(err)
		}
		en := &events.Entry{Index: 5, Recorded: time.Unix(1, 0), Verdict: events.Accepted, Submission: ref, Event: ev}
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
	en := &events.Entry{Index: 5, Recorded: time.Unix(1, 0), Verdict: events.Accepted, Submission: benchRef(), Event: ev}
	data, err := en.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := events.DecodeEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
