package events_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// bigManifest is a valid manifest of a state with counties × precincts
// units and a contest per county, signed by testkeys.Authority: too large
// for one event past a few hundred precincts.
func bigManifest(counties, precincts int) *events.Event {
	m := &events.Manifest{Name: "A Statewide General", Date: "2024-11-05", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "absentee", Name: "Absentee by Mail"}}}
	m.Units = append(m.Units, events.Unit{ID: "state", Name: "State", Kind: "state"})
	for c := range counties {
		county := fmt.Sprintf("county-%03d", c)
		m.Units = append(m.Units, events.Unit{ID: county, Name: fmt.Sprintf("County %d", c), Kind: "county", Parent: "state"})
		for p := range precincts {
			m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("%s-p%03d", county, p), Name: fmt.Sprintf("Precinct %d of county %d", p, c), Kind: "precinct", Parent: county})
		}
		m.Contests = append(m.Contests, events.Contest{ID: "sheriff-" + county, Name: "Sheriff <" + county + ">", VoteFor: 1, Units: []string{county},
			Choices: []events.Choice{{ID: "a", Name: "Ann A"}, {ID: "b", Name: "Bob B"}}})
	}
	m.Contests = append(m.Contests, events.Contest{ID: "president", Name: "President", VoteFor: 1,
		Choices: []events.Choice{{ID: "x", Name: "X", Party: "P"}, {ID: "y", Name: "Y", Party: "Q"}}})
	return &events.Event{ID: uuid.MustParse("0192f5c2-5000-7000-8000-000000000001"), Election: "state-2024", Body: m}
}

func TestSplitManifest(t *testing.T) {
	ev := bigManifest(60, 40) // 2,461 units: about 240 KB
	whole, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := events.SplitManifest(ev)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for k, p := range parts {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
		if len(b) > events.MaxEventSize {
			t.Errorf("part %d is %d bytes, more than an event", k, len(b))
		}
		// Each part decodes on its own, as the ledger reads it.
		dec, err := events.Decode(b)
		if err != nil {
			t.Fatalf("part %d: %v", k, err)
		}
		if dec.ID.Version() != 7 || (k == 0) != (dec.ID == ev.ID) {
			t.Errorf("part %d has ID %s", k, dec.ID)
		}
		if k > 0 && dec.ID != events.ManifestPartID(ev.ID, k) {
			t.Errorf("part %d: ID %s, want ManifestPartID %s", k, dec.ID, events.ManifestPartID(ev.ID, k))
		}
	}
	if n := len(whole) / events.MaxEventSize; len(parts) < n+1 || len(parts) > n+2 {
		t.Errorf("%d bytes split into %d parts", len(whole), len(parts))
	}
	if first := parts[0].Body.(*events.Manifest); first.Parts != len(parts) {
		t.Errorf("the first part says %d parts, there are %d", first.Parts, len(parts))
	}
	m, err := events.AssembleManifest(parts)
	if err != nil {
		t.Fatal(err)
	}
	orig := ev.Body.(*events.Manifest)
	if !reflect.DeepEqual(m.Units, orig.Units) || !reflect.DeepEqual(m.Contests, orig.Contests) || m.Name != orig.Name || m.Authority != orig.Authority || m.Parts != len(parts) {
		t.Error("the assembled manifest is not the manifest that was split")
	}
	// Splitting again gives the same events: the IDs are derived.
	again, err := events.SplitManifest(ev)
	if err != nil {
		t.Fatal(err)
	}
	for k := range parts {
		a, _ := parts[k].Encode()
		b, _ := again[k].Encode()
		if string(a) != string(b) {
			t.Errorf("part %d differs when split again", k)
		}
	}
	// A manifest that fits is its own single event.
	small := bigManifest(2, 2)
	if got, err := events.SplitManifest(small); err != nil || len(got) != 1 || got[0] != small {
		t.Errorf("a small manifest split into %d events (%v)", len(got), err)
	}
}

// TestManifestPartsInSubmissions: a manifest in parts opens only as one run
// in one submission, parts in order, and is checked as a whole.
func TestManifestPartsInSubmissions(t *testing.T) {
	parts, err := events.SplitManifest(bigManifest(60, 40))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 3 {
		t.Fatalf("want at least 3 parts, got %d", len(parts))
	}
	open := func(evs ...*events.Event) (*events.Submission, error) {
		t.Helper()
		signed, err := testkeys.Sign(testkeys.Authority, evs...)
		if err != nil {
			t.Fatal(err)
		}
		return events.OpenSubmission(signed)
	}
	sub, err := open(parts...)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Manifest == nil || len(sub.Manifest.Units) != 1+60*41 || len(sub.Manifest.Contests) != 61 || sub.SignatureErr != nil {
		t.Fatalf("opened submission's manifest: %+v", sub.Manifest)
	}
	swapped := append([]*events.Event{}, parts...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	report := &events.Event{ID: uuid.MustParse("0192f5c2-5000-7000-8000-0000000000aa"), Election: "state-2024", Body: &events.CountReport{
		Unit: "county-000-p000", Contest: "president", Counts: []events.Count{{Choice: "x", VoteType: "election-day", Votes: 5}}, Source: events.Source{Operator: "o"}}}
	for _, tc := range []struct {
		name string
		evs  []*events.Event
		want string
	}{
		{"a part missing", parts[:len(parts)-1], fmt.Sprintf("is a manifest in %d parts, but only %d events follow it", len(parts), len(parts)-2)},
		{"parts swapped", swapped, "is part 2 of the manifest of state-2024 where part 1 belongs"},
		{"a part alone", parts[1:2], "is part 1 of a manifest, but does not follow its election.defined event"},
		{"a report between", append([]*events.Event{parts[0], report}, parts[1:]...), "is a count.reported, not a manifest.part"},
		{"a part after the run", append(append([]*events.Event{}, parts...), parts[1]), "event ID " + parts[1].ID.String() + " is already event #2"},
	} {
		if _, err := open(tc.evs...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	// The whole is checked: a contest in the last part scoped to a unit
	// that no part has.
	broken := bigManifest(60, 40)
	bm := broken.Body.(*events.Manifest)
	bm.Contests[len(bm.Contests)-1].Units = []string{"county-999"}
	if _, err := events.SplitManifest(broken); err == nil || !strings.Contains(err.Error(), `"county-999" is not a unit of this election`) {
		t.Errorf("split of a manifest whose last contest names no unit: %v", err)
	}
	last := parts[len(parts)-1].Body.(*events.ManifestPart)
	bad := *last
	bad.Contests = append([]events.Contest{}, last.Contests...)
	bad.Contests[len(bad.Contests)-1].Units = []string{"county-999"}
	evs := append([]*events.Event{}, parts[:len(parts)-1]...)
	evs = append(evs, &events.Event{ID: parts[len(parts)-1].ID, Election: "state-2024", Body: &bad})
	if _, err := open(evs...); err == nil || !strings.Contains(err.Error(), "assembled from its") || !strings.Contains(err.Error(), `"county-999" is not a unit of this election`) {
		t.Errorf("a submission whose assembled manifest names no such unit: %v", err)
	}
}

// TestEntrySizeBound: the largest event, with the longest reason and
// signer an entry can hold, each escaped as much as it can be, still fits
// a tlog-tiles entry bundle.
func TestEntrySizeBound(t *testing.T) {
	// A correction whose reason and source are all '<' (6 bytes each
	// once escaped), padded with aliases-free text to MaxEventSize.
	c := &events.Correction{Corrects: uuid.MustParse("0192f5c2-5000-7000-8000-000000000002"), Reason: strings.Repeat("<", events.MaxReasonLength),
		CountReport: events.CountReport{Unit: "u", Contest: "c", Counts: []events.Count{{Choice: "a", VoteType: "v", Votes: 1}},
			Source: events.Source{File: strings.Repeat("<", events.MaxNameLength), Version: strings.Repeat("<", events.MaxNameLength), Operator: strings.Repeat("<", events.MaxNameLength)}}}
	ev := &events.Event{ID: uuid.MustParse("0192f5c2-5000-7000-8000-000000000003"), Election: strings.Repeat("e", 64), Body: c}
	for {
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(b)+64 > events.MaxEventSize {
			break
		}
		c.Counts = append(c.Counts, events.Count{Choice: fmt.Sprintf("c%05d", len(c.Counts)), VoteType: "v", Votes: events.MaxVotes})
	}
	b, _ := ev.Encode()
	if len(b) > events.MaxEventSize {
		t.Fatalf("event %d bytes", len(b))
	}
	signer := testkeys.New(strings.Repeat("<", events.MaxNameLength)).Verifier
	en := &events.Entry{Index: 1<<64 - 1, Recorded: time.Date(2024, 11, 5, 23, 59, 59, 999999999, time.UTC), Verdict: events.Rejected,
		Reason:     events.ClipReason(strings.Repeat("<", 3*events.MaxEntryReason)),
		Submission: &events.SubmissionRef{ID: ev.ID, Item: events.MaxSubmissionEvents - 1, Signer: signer}, Event: ev}
	if len(en.Reason) > events.MaxEntryReason {
		t.Fatalf("ClipReason left %d bytes", len(en.Reason))
	}
	enc, err := en.EncodeWith(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) > events.MaxEntrySize {
		t.Errorf("the largest entry is %d bytes, more than %d", len(enc), events.MaxEntrySize)
	}
	var probe map[string]any
	if err := json.Unmarshal(enc, &probe); err != nil {
		t.Fatal(err)
	}
	t.Logf("largest entry: %d bytes (event %d)", len(enc), len(b))
}
