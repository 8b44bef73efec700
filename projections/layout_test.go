package projections_test

import (
	"bytes"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// TestCountLayouts checks a contest's reports naming different choices and
// vote types, in turn, through Check and Apply (which reuse what Check
// resolved, and the last report's layout), against the same entries
// applied to a fresh projection without Check, which resolves every name
// on its own.
func TestCountLayouts(t *testing.T) {
	r := newRig(t)
	c := func(choice, vt string, v int64) events.Count {
		return events.Count{Choice: choice, VoteType: vt, Votes: v}
	}
	layouts := [][]events.Count{
		{c("a", ruMail, 1), c("a", ruDay, 2), c("b", ruMail, 3), c("b", ruDay, 4)},
		{c("a", ruMail, 10), c("a", ruDay, 20), c("b", ruMail, 30), c("b", ruDay, 40)}, // same layout
		{c("a", ruDay, 5), c("b", ruDay, 6)},                                           // shorter, shifted
		{c("b", ruMail, 7)},
		{c("a", ruMail, 8), c("a", ruDay, 9), c("b", ruMail, 11), c("b", ruDay, 12)},
	}
	units := []string{"cobb-01", "cobb-02", "fulton-01", "cobb-01", "fulton-02"}
	for i, counts := range layouts {
		rp := &events.CountReport{Unit: units[i], Contest: ruContest, Source: events.Source{Operator: "clerk"}, Counts: counts}
		r.accept(rp)
	}
	// A name the contest does not have, at a place where the last report
	// had a known one: refused, not matched to the cached layout.
	bad := &events.CountReport{Unit: "cobb-03", Contest: ruContest, Source: events.Source{Operator: "clerk"}, Counts: []events.Count{c("a", ruMail, 1), c("z", ruDay, 2)}}
	r.reject(bad, `choice "z"`)
	bad = &events.CountReport{Unit: "cobb-03", Contest: ruContest, Source: events.Source{Operator: "clerk"}, Counts: []events.Count{c("a", ruMail, 1), c("a", "early", 2)}}
	r.reject(bad, `vote type "early"`)

	fresh, err := projections.New(ruElection, ruManifest())
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range r.entries {
		if err := fresh.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := enc(t, r.tally()), enc(t, fresh.Tally()); !bytes.Equal(got, want) {
		t.Errorf("checked-then-applied tally differs from a fresh projection's:\n%s\n%s", got, want)
	}
	if got := r.tally(); got.Accepted != uint64(len(layouts)+1) || got.Rejected != 2 {
		t.Errorf("accepted %d, rejected %d; want %d and 2", got.Accepted, got.Rejected, len(layouts)+1)
	}
}
