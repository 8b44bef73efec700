package events_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/election-audit/ledger/events"
)

// addGoldenSeeds adds every golden file, and the event inside each entry
// golden file, to the fuzzer's corpus.
func addGoldenSeeds(f *testing.F, extra ...string) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// FuzzDecode checks that Decode never panics, refuses with an *Error, and
// that the canonical encoding of whatever it accepts is a fixed point:
// Decode(Encode(x)) succeeds and encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f, validReport, validManifest, validCorrection, validRetraction, validCertification)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := events.Decode(data)
		if err != nil {
			var e *events.Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("error %v (%T) is not an *events.Error with a message", err, err)
			}
			if ev != nil {
				t.Fatalf("Decode returned an event with its error %v", err)
			}
			return
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded event: %v", err)
		}
		if len(enc) > events.MaxEventSize {
			t.Fatalf("canonical encoding is %d bytes, more than MaxEventSize", len(enc))
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("a decoded event does not validate: %v", err)
		}
		ev2, err := events.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(x)) failed: %v\ninput: %q\nencoding: %s", err, data, enc)
		}
		enc2, err := ev2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\nfirst:  %s\nsecond: %s", enc, enc2)
		}
		if ev2.ID != ev.ID || ev2.Election != ev.Election || ev2.Type() != ev.Type() {
			t.Fatalf("Decode(Encode(x)) changed the envelope: %v %s %s, want %v %s %s",
				ev2.ID, ev2.Election, ev2.Type(), ev.ID, ev.Election, ev.Type())
		}
	})
}

// FuzzDecodeEntry checks the same for entries.
func FuzzDecodeEntry(f *testing.F) {
	addGoldenSeeds(f,
		// Times with offsets, fractions and edge years, for the fuzzer to
		// mutate. testdata/fuzz holds the ones that used to fail.
		sub(goldenEntryJSON(f), `"2017-04-19T02:41:00.271828182Z"`, `"2017-04-18T22:41:00.5-04:00"`),
		sub(goldenEntryJSON(f), `"2017-04-19T02:41:00.271828182Z"`, `"9999-12-31T23:59:59.999999999Z"`),
		sub(goldenEntryJSON(f), `"2017-04-19T02:41:00.271828182Z"`, `"0000-01-01T00:00:00+00:00"`),
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		entry, err := events.DecodeEntry(data)
		if err != nil {
			if entry != nil {
				t.Fatalf("DecodeEntry returned an entry with its error %v", err)
			}
			return
		}
		enc, err := entry.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded entry: %v", err)
		}
		entry2, err := events.DecodeEntry(enc)
		if err != nil {
			t.Fatalf("DecodeEntry(Encode(x)) failed: %v\ninput: %q\nencoding: %s", err, data, enc)
		}
		enc2, err := entry2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\nfirst:  %s\nsecond: %s", enc, enc2)
		}
		if entry2.Index != entry.Index || !entry2.Recorded.Equal(entry.Recorded) || entry2.Verdict != entry.Verdict {
			t.Fatalf("DecodeEntry(Encode(x)) changed the entry: %+v, want %+v", entry2, entry)
		}
	})
}

func goldenEntryJSON(f *testing.F) string {
	b, err := os.ReadFile(filepath.Join(goldenDir, "entry.accepted.json"))
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}
