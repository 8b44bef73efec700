package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// Change is what one entry did to the counts: which office made it, which
// report it replaced, why, and every count that changed, old → new.
type Change struct {
	Index    uint64         `json:"index"`
	Recorded time.Time      `json:"recorded"`
	ID       uuid.UUID      `json:"id"`
	Type     events.Type    `json:"type"`
	Verdict  events.Verdict `json:"verdict"`
	Rejected string         `json:"rejected,omitempty"` // why the state machine rejected it
	// Office is the name of the key that signed the entry's submission
	// (events.KeyName of Signer), Signer that verifier key in full; both
	// are empty when the submission's signature does not verify (the
	// entry is then rejected).
	Office  string `json:"office,omitempty"`
	Signer  string `json:"signer,omitempty"`
	Unit    string `json:"unit,omitempty"`
	Contest string `json:"contest,omitempty"`
	// Replaces is the report this one superseded, corrected or retracted.
	Replaces uuid.UUID      `json:"replaces,omitzero"`
	Why      string         `json:"why,omitempty"` // the correction's or retraction's reason
	Source   *events.Source `json:"source,omitempty"`
	Counts   []CountChange  `json:"counts,omitempty"` // only the counts that changed
	Status   string         `json:"status"`           // the election's status after it
}

// By names the office that made the change for readable output: "by
// <key name>", or "by (invalid signature)" if its submission's signature
// does not verify.
func (c *Change) By() string {
	if c.Office == "" {
		return "by (invalid signature)"
	}
	return "by " + c.Office
}

// CountChange is one count before and after an entry.
type CountChange struct {
	Choice   string `json:"choice"`
	VoteType string `json:"vote_type"`
	Old      int64  `json:"old"`
	New      int64  `json:"new"`
}

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
		o := newOrigins(election, subs)
		if err := src.Entries(election, from, to, o.check); err != nil {
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
		if pending.Unit != "" {
			_, now, _ := proj.Current(pending.Unit, pending.Contest)
			pending.Counts = changed(oldCounts, now)
		}
		pending.Status = proj.Status()
		out = append(out, *pending)
		pending = nil
	}
	err := fold(src, election, from, to, &proj, func(en *events.Entry) error {
		finish() // the previous entry has been applied by now
		c := &Change{Index: en.Index, Recorded: en.Recorded, ID: en.Event.ID, Type: en.Event.Type(), Verdict: en.Verdict}
		if en.Verdict == events.Rejected {
			c.Rejected = en.Reason
		}
		if en.Submission != nil && en.Submission.Signer != "" {
			c.Office, c.Signer = events.KeyName(en.Submission.Signer), en.Submission.Signer
		}
		switch b := en.Event.Body.(type) {
		case *events.CountReport:
			c.Unit, c.Contest, c.Source = b.Unit, b.Contest, &b.Source
		case *events.Correction:
			c.Unit, c.Contest, c.Source, c.Why, c.Replaces = b.Unit, b.Contest, &b.Source, b.Reason, b.Corrects
		case *events.Retraction:
			c.Source, c.Why, c.Replaces = &b.Source, b.Reason, b.Retracts
			if u, ct, ok := proj.ReportOf(b.Retracts); ok {
				c.Unit, c.Contest = u, ct
			}
		}
		if c.Unit != "" {
			var cur uuid.UUID
			cur, oldCounts, _ = proj.Current(c.Unit, c.Contest)
			if c.Replaces == uuid.Nil && en.Verdict == events.Accepted {
				c.Replaces = cur
			}
		}
		pending = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't diff %s [%d, %d): %w", election, from, to, err)
	}
	finish()
	return out, nil
}

// changed lists the counts that differ between two reports in the
// manifest's order (nil means no report: every count zero).
func changed(old, now []events.Count) []CountChange {
	type key struct{ choice, voteType string }
	var order []key
	vals := map[key]*CountChange{}
	add := func(cs []events.Count, isNew bool) {
		for _, c := range cs {
			k := key{c.Choice, c.VoteType}
			v, ok := vals[k]
			if !ok {
				v = &CountChange{Choice: c.Choice, VoteType: c.VoteType}
				vals[k] = v
				order = append(order, k)
			}
			if isNew {
				v.New = c.Votes
			} else {
				v.Old = c.Votes
			}
		}
	}
	add(old, false)
	add(now, true)
	var out []CountChange
	for _, k := range order {
		if v := vals[k]; v.Old != v.New {
			out = append(out, *v)
		}
	}
	return out
}

// WriteChanges writes changes as readable lines, corrections marked, each
// naming the office that signed it ("by <key name>").
func WriteChanges(w io.Writer, changes []Change) error {
	var b strings.Builder
	for _, c := range changes {
		mark := " "
		switch c.Type {
		case events.TypeCountCorrected, events.TypeCountRetracted:
			mark = "!"
		}
		fmt.Fprintf(&b, "%s #%d %s %s %s", mark, c.Index, c.Recorded.Format(time.RFC3339), c.Type, c.By())
		if c.Unit != "" {
			fmt.Fprintf(&b, " %s / %s", c.Unit, c.Contest)
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
			fmt.Fprintf(&b, "      %s, %s: %d → %d (%+d)\n", cc.Choice, cc.VoteType, cc.Old, cc.New, cc.New-cc.Old)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
