package ledger

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// partsManifest is a valid manifest of counties × precincts, too large for
// one event, and the events that carry it.
func partsManifest(t *testing.T, election string, counties, precincts int) []*events.Event {
	t.Helper()
	m := &events.Manifest{Name: "Statewide", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}}}
	m.Units = append(m.Units, events.Unit{ID: "st", Name: "State", Kind: "state"})
	for c := range counties {
		county := fmt.Sprintf("county-%02d", c)
		m.Units = append(m.Units, events.Unit{ID: county, Name: "County " + county, Kind: "county", Parent: "st"})
		for p := range precincts {
			m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("%s-%03d", county, p), Name: fmt.Sprintf("Precinct %d", p), Kind: "precinct", Parent: county})
		}
		m.Contests = append(m.Contests, events.Contest{ID: "commission-" + county, Name: "Commission", VoteFor: 1, Units: []string{county},
			Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}})
	}
	m.Contests = append(m.Contests, events.Contest{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "x", Name: "X"}, {ID: "y", Name: "Y"}}})
	evs, err := events.SplitManifest(newEvent(election, m))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 3 {
		t.Fatalf("the manifest is in %d events; the test wants at least 3", len(evs))
	}
	return evs
}

// TestManifestInParts: a manifest too large for one event defines its
// election from one submission, as its first entries, each within a tile
// entry's 65,535 bytes; reports follow; the state survives a restart, and
// the audit replays it. A second manifest in parts for the defined
// election is logged rejected, entry by entry; one whose part's event ID
// is logged already (elsewhere) is dropped whole, defining nothing.
func TestManifestInParts(t *testing.T) {
	r := newHostileRig(t)
	auth := testkeys.Authority
	parts := partsManifest(t, "big", 30, 60)
	n := len(parts)
	src := events.Source{Operator: "test"}
	report := newEvent("big", &events.CountReport{Unit: "county-07-012", Contest: "gov", Source: src, Counts: []events.Count{{Choice: "x", VoteType: "ed", Votes: 12}, {Choice: "y", VoteType: "ed", Votes: 5}}})
	again := partsManifest(t, "big", 30, 60) // other IDs
	// Election "taken" logs an event under the ID of part 1 of "stolen".
	stolen := partsManifest(t, "stolen", 30, 60)
	taken := &events.Manifest{Name: "T", Date: "2026-11-03", Authority: auth.Verifier, VoteTypes: []events.VoteType{{ID: "ed", Name: "ED"}},
		Units:    []events.Unit{{ID: "st", Name: "S", Kind: "state"}},
		Contests: []events.Contest{{ID: "c", Name: "C", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}}}}}
	thief := &events.Event{ID: stolen[1].ID, Election: "taken", Body: &events.CountReport{Unit: "st", Contest: "c", Source: src, Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: 1}}}}

	msgs := []message{
		r.msg("big", sign(t, auth, append(append([]*events.Event{}, parts...), report)...)),
		r.msg("big", sign(t, auth, again...)),
		r.msg("taken", sign(t, auth, newEvent("taken", taken), thief)),
		r.msg("stolen", sign(t, auth, stolen...)),
	}
	if err := r.l.step(msgs); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{fmt.Sprintf("logged %d", n+1), fmt.Sprintf("logged %d", len(again)), "logged 2",
		fmt.Sprintf("dropped: the manifest of election \"stolen\" has event ID %s, which is logged already", stolen[1].ID)} {
		rec, err := r.db.Seq(msgs[i].seq)
		if err != nil || rec.Outcome != want {
			t.Errorf("message %d: outcome %q (%v), want %q", i, rec.Outcome, err, want)
		}
	}
	check := func(when string) {
		t.Helper()
		var got []string
		err := r.l.Entries("big", 0, 1000, func(i uint64, data []byte) error {
			if len(data) > events.MaxEntrySize {
				t.Errorf("%s: entry %d is %d bytes", when, i, len(data))
			}
			en, err := events.DecodeEntry(data)
			if err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%s %s", en.Event.Type(), en.Verdict))
			if en.Verdict == events.Rejected && !strings.Contains(en.Reason, "already defined") {
				t.Errorf("%s: entry %d rejected: %s", when, i, en.Reason)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"election.defined accepted"}
		for range n - 1 {
			want = append(want, "manifest.part accepted")
		}
		want = append(want, "count.reported accepted", "election.defined rejected")
		for range len(again) - 1 {
			want = append(want, "manifest.part rejected")
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: entries\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, e := range r.l.Elections() {
			if e.ID == "stolen" {
				t.Errorf("%s: election stolen is defined", when)
			}
		}
		if _, err := audit.Verify(r.db, "big", readKey(t, r.dir)); err != nil {
			t.Fatalf("%s: audit: %v", when, err)
		}
		tally, err := audit.TallyAt(r.db, "big", uint64(n+1))
		if err != nil {
			t.Fatal(err)
		}
		if len(tally.Contests) != 31 || tally.Contests[30].Choices[0].Votes != 12 {
			t.Errorf("%s: tally at %d: %d contests", when, n+1, len(tally.Contests))
		}
		if _, err := audit.TallyAt(r.db, "big", 2); !errors.Is(err, audit.ErrInsideManifest) || !strings.Contains(err.Error(), fmt.Sprintf("whose manifest is in entries 0 to %d", n-1)) {
			t.Errorf("%s: tally at size 2: %v", when, err)
		}
		// A series from size 1 starts where the election is defined.
		var sizes []uint64
		for i := uint64(1); i <= uint64(n+1); i++ {
			sizes = append(sizes, i)
		}
		pts, err := audit.Series(r.db, "big", sizes)
		if err != nil || len(pts) != 2 || pts[0].TreeSize != uint64(n) || pts[1].TreeSize != uint64(n+1) {
			t.Errorf("%s: series of sizes 1 to %d: %d points (%v)", when, n+1, len(pts), err)
		}
	}
	check("after the step")
	r.close()
	r.open()
	check("after a restart")
}
