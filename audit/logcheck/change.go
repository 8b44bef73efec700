package logcheck

import (
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// Change is what one entry did to the counts: which office made it, which
// report it replaced, why, and every count that changed, old → new. It is
// what `ledger audit diff --json` and `ledger watch --json` write.
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

// CountChange is one count before and after an entry.
type CountChange struct {
	Choice   string `json:"choice"`
	VoteType string `json:"vote_type"`
	Old      int64  `json:"old"`
	New      int64  `json:"new"`
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

// NewChange describes entry en as far as it can be before en is applied
// to proj, the projection of the entries before it (nil while the
// manifest is not all in): what it is, the office that signed it, its unit
// and contest, the report it replaces and why. It also returns the counts
// of the report en replaces, for [Change.Finish] once en is applied.
func NewChange(en *events.Entry, proj *projections.Election) (*Change, []events.Count) {
	c := &Change{Index: en.Index, Recorded: en.Recorded, ID: en.Event.ID, Type: en.Event.Type(), Verdict: en.Verdict}
	if en.Verdict == events.Rejected {
		c.Rejected = en.Reason
	}
	if en.Submission != nil && en.Submission.Signer != "" {
		c.Office, c.Signer = events.KeyName(en.Submission.Signer), en.Submission.Signer
	}
	if proj == nil {
		return c, nil
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
	if c.Unit == "" {
		return c, nil
	}
	cur, old, _ := proj.Current(c.Unit, c.Contest)
	if c.Replaces == uuid.Nil && en.Verdict == events.Accepted {
		c.Replaces = cur
	}
	return c, old
}

// Finish completes c once its entry is applied to proj (nil while the
// manifest is not all in): the counts that changed from old, as
// [NewChange] gave them, and the election's status.
func (c *Change) Finish(proj *projections.Election, old []events.Count) {
	if proj == nil {
		return
	}
	if c.Unit != "" {
		_, now, _ := proj.Current(c.Unit, c.Contest)
		c.Counts = ChangedCounts(old, now)
	}
	c.Status = proj.Status()
}

// ChangedCounts lists the counts that differ between two reports, in the
// order they first appear (nil means no report: every count zero).
func ChangedCounts(old, now []events.Count) []CountChange {
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
