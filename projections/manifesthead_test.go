package projections_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/projections"
)

// TestManifestHead: the entries of a manifest in parts make the projection
// of the whole manifest once the last is in; an entry that is not the next
// part (another item or submission, rejected, not a part), or an entry 0
// that is not the authority's accepted manifest, is refused, naming why.
func TestManifestHead(t *testing.T) {
	m := &events.Manifest{Name: "Head", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "d", Name: "Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}}}
	for i := range 1500 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Precinct number %d of the state", i), Kind: "precinct", Parent: "st"})
	}
	m.Contests = []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "x", Name: "X"}}}}
	evs, err := events.SplitManifest(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: "head", Body: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 3 {
		t.Fatalf("the manifest is in %d events; the test wants at least 3", len(evs))
	}
	sub := uuid.Must(uuid.NewV7())
	entry := func(i int, ev *events.Event) *events.Entry {
		return &events.Entry{Index: uint64(i), Verdict: events.Accepted, Event: ev,
			Submission: &events.SubmissionRef{ID: sub, Item: i, Signer: testkeys.Authority.Verifier}}
	}
	var h projections.ManifestHead
	for i, ev := range evs {
		proj, err := h.Add("head", entry(i, ev))
		switch {
		case err != nil:
			t.Fatalf("entry %d: %v", i, err)
		case i < len(evs)-1 && proj != nil:
			t.Fatalf("a projection at entry %d of %d", i, len(evs))
		case i == len(evs)-1 && (proj == nil || len(proj.Manifest().Units) != 1501):
			t.Fatalf("at the last entry: %v", proj)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*events.Entry)
		at   int
		want string
	}{
		{"another item", func(en *events.Entry) { en.Submission.Item++ }, 1, "is not part 1 of the manifest"},
		{"another submission", func(en *events.Entry) { en.Submission.ID = uuid.Must(uuid.NewV7()) }, 2, "is not part 2 of the manifest"},
		{"a rejected part", func(en *events.Entry) { en.Verdict = events.Rejected }, 1, "is not part 1 of the manifest"},
		{"entry 0 rejected", func(en *events.Entry) { en.Verdict = events.Rejected }, 0, "entry 0 is not the election's accepted manifest"},
		{"entry 0 a part", func(en *events.Entry) { en.Event = evs[1] }, 0, "entry 0 is not the election's accepted manifest"},
		{"entry 0 signed by another", func(en *events.Entry) { en.Submission.Signer = testkeys.New("mallory").Verifier }, 0, "not signed by the authority it names"},
	} {
		var h projections.ManifestHead
		var err error
		for i := 0; i <= tc.at && err == nil; i++ {
			en := entry(i, evs[i])
			if i == tc.at {
				tc.edit(en)
			}
			_, err = h.Add("head", en)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
