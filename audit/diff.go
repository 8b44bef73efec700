package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// Change is what one entry did to the counts: which office made it, which
// report it replaced, why, and every count that changed, old → new
// ([logcheck.Change]).
type Change = logcheck.Change

// CountChange is one count before and after an entry.
type CountChange = logcheck.CountChange

// Diff returns what entries [from, to) of an election's log changed, in log
// order, computed from the entries alone: the state at from is a replay of
// [0, from), and every verdict is checked as the replay checks it. If subs
// is not nil, each entry of [from, to) is first held to its signed
// submission (see [OriginChecker]), so that the office a change names is
// the one whose signature its submission carries; the first fault is a
// *MismatchError naming the entry.
func Diff(src Source, subs SubmissionSource, election string, from, to uint64) ([]Change, error) {
	if from > to {
		return nil, fmt.Errorf("--from %d is after --to %d", from, to)
	}
	if subs != nil && from < to {
		if err := src.Entries(election, from, to, originsOf(election, subs).Check); err != nil {
			return nil, fmt.Errorf("couldn't diff %s [%d, %d): %w", election, from, to, err)
		}
	}
	var proj *projections.Election
	if from > 0 {
		if err := fold(src, election, 0, from, &proj, func(*events.Entry) error { return nil }); err != nil {
			return nil, fmt.Errorf("couldn't replay %s to %d: %w", election, from, err)
		}
	}
	var out []Change
	var pending *Change
	var oldCounts []events.Count
	finish := func() {
		if pending == nil {
			return
		}
		pending.Finish(proj, oldCounts)
		out = append(out, *pending)
		pending = nil
	}
	err := fold(src, election, from, to, &proj, func(en *events.Entry) error {
		finish() // the previous entry has been applied by now
		pending, oldCounts = logcheck.NewChange(en, proj)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't diff %s [%d, %d): %w", election, from, to, err)
	}
	finish()
	return out, nil
}

// WriteChanges writes changes as readable lines, corrections marked, each
// naming the office that signed it ("by <key name>"), and the unit,
// contest, choices and vote types by the names m gives them ("DeKalb
// County, U.S. Representative, District 6", "Jon Ossoff, Election Day");
// with m nil, by their IDs. The JSON of a Change carries the IDs.
func WriteChanges(w io.Writer, changes []Change, m *events.Manifest) error {
	var l logcheck.Labels
	l.Use(m)
	var b strings.Builder
	for _, c := range changes {
		mark := " "
		switch c.Type {
		case events.TypeCountCorrected, events.TypeCountRetracted:
			mark = "!"
		}
		fmt.Fprintf(&b, "%s #%d %s %s %s", mark, c.Index, c.Recorded.Format(time.RFC3339), c.Type, c.By())
		if c.Unit != "" {
			fmt.Fprintf(&b, " %s", l.Place(c.Unit, c.Contest))
		}
		if c.Replaces != uuid.Nil {
			fmt.Fprintf(&b, " (replaces %s)", c.Replaces)
		}
		if c.Why != "" {
			fmt.Fprintf(&b, " because %q", c.Why)
		}
		if c.Verdict == events.Rejected {
			fmt.Fprintf(&b, " REJECTED: %s", c.Rejected)
		}
		fmt.Fprintf(&b, " → %s\n", c.Status)
		for _, cc := range c.Counts {
			fmt.Fprintf(&b, "      %s, %s: %d → %d (%+d)\n", l.Choice(c.Contest, cc.Choice), l.VoteType(cc.VoteType), cc.Old, cc.New, cc.New-cc.Old)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
