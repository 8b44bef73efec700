package events_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

func goldenSubmissionText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "submission.accepted.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOpenSubmissionRefuses checks that a submission that cannot be read
// is refused with the line named, and that one whose signature does not
// verify comes back whole with the reason.
func TestOpenSubmissionRefuses(t *testing.T) {
	good := goldenSubmissionText(t)
	lines := strings.SplitAfter(good, "\n")
	event := strings.TrimSuffix(lines[4], "\n")
	other := testkeys.New("other-office")
	for _, tt := range []struct {
		name, in, msg string
	}{
		{"empty", "", "not a signed submission"},
		{"a bare event", event, "not a signed submission"},
		{"other domain", strings.Replace(good, "election-audit/ledger/submission/v1", "election-audit/ledger/submission/v2", 1), "not a signed submission"},
		{"checkpoint", "ledger.local/ga06-2017-04\n9\nAAAA\n\n— ledger.local AAAA\n", "not a signed submission"},
		{"bad ID", strings.Replace(good, "015b8415-9a60-7d35-85fc-54e0f33a4995", "015b8415-9a60-4d35-85fc-54e0f33a4995", 1), "line 2: submission ID"},
		{"bad election", strings.Replace(good, "\nga06-2017-04\n", "\nGA06\n", 1), "line 3: want the election ID"},
		{"bad key", strings.Replace(good, "dekalb-elections+cee3538a+", "dekalb-elections+cee3538b+", 1), "line 4: signer"},
		{"no events", strings.Join(lines[:4], "") + "\n" + lines[len(lines)-1], "no events"},
		{"invalid event", strings.Replace(good, `"votes":156`, `"votes":-156`, 1), "events[0].data.counts[0].votes"},
		{"not canonical", strings.Replace(good, `"counts":[{"choice":"handel","vote_type":"absentee-by-mail","votes":156},`, `"counts":[`, 1) + "", ""},
		{"event of another election", strings.Replace(good, `"election":"ga06-2017-04"`, `"election":"ga06-2017-06"`, 1), "is for election \"ga06-2017-06\""},
		{"event twice", strings.Join(lines[:5], "") + event + "\n" + strings.Join(lines[5:], ""), "already event #1"},
		{"oversized", good + strings.Repeat("x", events.MaxSubmissionSize), "more than the limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := events.OpenSubmission([]byte(tt.in))
			if tt.msg == "" { // altered bytes that still read: the signature fails
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if sub.SignatureErr == nil {
					t.Fatal("the signature of altered bytes verifies")
				}
				return
			}
			if err == nil {
				t.Fatalf("opened: %+v", sub)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
	// Readable, but the signature is not the named key's valid one.
	ev, err := events.Decode([]byte(event))
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := events.SignSubmission(other.Signer, other.Verifier, ev.ID, ev.Election, []*events.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	text, sig, _ := strings.Cut(good, "\n\n")
	_, otherSig, _ := strings.Cut(string(byOther), "\n\n")
	for _, tt := range []struct{ name, in, msg string }{
		{"unsigned", text + "\n", "unsigned"},
		{"no signature lines", text + "\n\n", "unsigned"},
		{"two signatures", good + sig, "more than one signature line"},
		{"another key's signature", text + "\n\n" + otherSig, "not by the key the submission names"},
		{"signature over other bytes", strings.Replace(good, `"votes":6168`, `"votes":6186`, 1), "does not verify"},
		{"garbled signature", text + "\n\n— dekalb-elections !!!\n", "malformed signature line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := events.OpenSubmission([]byte(tt.in))
			if err != nil {
				t.Fatalf("refused as unreadable: %v", err)
			}
			if sub.SignatureErr == nil || !strings.Contains(sub.SignatureErr.Error(), tt.msg) {
				t.Errorf("signature error %v, want %q", sub.SignatureErr, tt.msg)
			}
		})
	}
}

// A key must be in its one canonical spelling.
func TestParseKeyCanonical(t *testing.T) {
	k := testkeys.New("fulton-elections")
	if _, err := events.ParseKey(k.Verifier); err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(k.Verifier, "+")
	hash, b64, _ := strings.Cut(rest, "+")
	for _, bad := range []string{
		name + "+" + strings.ToUpper(hash) + "+" + b64,
		"",
		"PRIVATE+KEY+" + k.Verifier,
		k.Verifier + "=",
	} {
		if _, err := events.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func FuzzOpenSubmission(f *testing.F) {
	good, err := os.ReadFile(filepath.Join(goldenDir, "submission.accepted.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("156"), []byte("165"), 1))
	f.Add([]byte(events.SubmissionDomain + "\n"))
	// A manifest in two parts.
	id := uuid.MustParse("0192f5c2-5000-7000-8000-0000000000f0")
	// A fixed submission ID: the fuzzer's workers make the seed again.
	parts, err := events.SignSubmission(testkeys.Authority.Signer, testkeys.Authority.Verifier, uuid.MustParse("0192f5c2-5000-7000-8000-0000000000f1"), "fuzz", []*events.Event{
		{ID: id, Election: "fuzz", Body: &events.Manifest{Name: "F", Date: "2026-11-03", Parts: 2, Authority: testkeys.Authority.Verifier,
			VoteTypes: []events.VoteType{{ID: "d", Name: "D"}}, Units: []events.Unit{{ID: "s", Name: "S", Kind: "s"}}, Contests: []events.Contest{}}},
		{ID: events.ManifestPartID(id, 1), Election: "fuzz", Body: &events.ManifestPart{Part: 1,
			Units:    []events.Unit{{ID: "p", Name: "P", Kind: "p", Parent: "s"}},
			Contests: []events.Contest{{ID: "c", Name: "C", VoteFor: 1, Units: []string{"p"}, Choices: []events.Choice{{ID: "a", Name: "A"}}}}}}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := events.OpenSubmission(parts); err != nil {
		f.Fatal(err)
	}
	f.Add(parts)
	f.Fuzz(func(t *testing.T, data []byte) {
		sub, err := events.OpenSubmission(data)
		if err != nil {
			return
		}
		// A manifest that opens is whole: the first event's is assembled,
		// and every part follows its manifest's first event, in order.
		if _, ok := sub.Events[0].Body.(*events.Manifest); ok != (sub.Manifest != nil) {
			t.Fatalf("first event %s, assembled manifest %v", sub.Events[0].Type(), sub.Manifest != nil)
		}
		run := 0 // parts still expected
		for i, ev := range sub.Events {
			switch b := ev.Body.(type) {
			case *events.Manifest:
				if run > 0 {
					t.Fatalf("event %d: a manifest where a part belongs", i)
				}
				run = events.ManifestEvents(b) - 1
			case *events.ManifestPart:
				if run == 0 {
					t.Fatalf("event %d: a part outside its manifest's run", i)
				}
				run--
			default:
				if run > 0 {
					t.Fatalf("event %d: a %s inside a manifest's run", i, ev.Type())
				}
			}
		}
		// What opens names one election, and its events are its lines.
		for i, ev := range sub.Events {
			if ev.Election != sub.Election {
				t.Fatalf("event %d is of %q in a submission of %q", i, ev.Election, sub.Election)
			}
			enc, err := ev.Encode()
			if err != nil || !bytes.Equal(enc, sub.Canonical[i]) {
				t.Fatalf("event %d's line is not its canonical encoding", i)
			}
		}
		if sub.SignatureErr == nil && !bytes.Equal(data, good) && !bytes.Equal(data, parts) {
			t.Fatalf("a signature verifies over other bytes:\n%q", data)
		}
	})
}

// EntryOrigin reads an entry not in the ledger's exact form the strict way,
// without a panic: a verifier must refuse or read it, never crash.
func TestEntryOriginOtherForms(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join(goldenDir, "entry.accepted.json"))
	if err != nil {
		t.Fatal(err)
	}
	fast, ev, err := events.EntryOrigin(golden)
	if err != nil {
		t.Fatal(err)
	}
	spaced := bytes.Replace(golden, []byte(`"submission":{`), []byte(`"submission": {`), 1)
	ref, ev2, err := events.EntryOrigin(spaced)
	if err != nil {
		t.Fatalf("a spaced entry: %v", err)
	}
	if *ref != *fast || !bytes.Equal(ev2, ev) {
		t.Errorf("a spaced entry reads as %+v %q, want %+v %q", ref, ev2, fast, ev)
	}
	for _, broken := range [][]byte{
		bytes.Replace(golden, []byte(`"sha256":"`), []byte(`"sha256":"zz`), 1),
		bytes.Replace(spaced, []byte(`"sha256":"`), []byte(`"sha256":"zz`), 1),
	} {
		if _, _, err := events.EntryOrigin(broken); err == nil {
			t.Errorf("a broken entry read: %.80s…", broken)
		}
	}
}
