package projections

import (
	"cmp"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/election-audit/ledger/events"
)

// Tally is the canonical totals document of an election. Its JSON encoding
// ([Tally.Encode]) is a pure function of the entries applied: the same log
// prefix gives the same bytes on every machine.
type Tally struct {
	Election string         `json:"election"`
	Name     string         `json:"name"`
	Date     string         `json:"date"`
	Status   string         `json:"status"`
	Entries  uint64         `json:"entries"` // log entries folded in
	Accepted uint64         `json:"accepted"`
	Rejected uint64         `json:"rejected"`
	Contests []ContestTally `json:"contests"`
}

// ContestTally is one contest's totals.
type ContestTally struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	VoteFor       int           `json:"vote_for"`
	Kind          string        `json:"kind,omitempty"` // "turnout", or empty for a race
	UnitsReported int64         `json:"units_reported"` // in-scope leaf units with a report
	UnitsTotal    int64         `json:"units_total"`
	TotalVotes    int64         `json:"total_votes"` // 0 for turnout
	Choices       []ChoiceTally `json:"choices"`     // manifest order
	Units         []UnitTally   `json:"units"`       // manifest order
}

// ChoiceTally is one choice's total, its share of the contest's votes as a
// decimal string rounded half up to two places (empty in a turnout
// contest), and its votes by type.
type ChoiceTally struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Party      string           `json:"party,omitempty"`
	Votes      int64            `json:"votes"`
	Share      string           `json:"share,omitempty"`
	ByVoteType map[string]int64 `json:"by_vote_type"`
}

// UnitTally is one reporting unit's rolled-up totals for a contest. Its
// UnitsReported counts reports at or below the unit; a report of an
// ancestor covers the unit in the ancestor's row and the contest's count.
type UnitTally struct {
	ID            string           `json:"id"`
	Parent        string           `json:"parent,omitempty"`
	Reported      bool             `json:"reported"` // has its own current report
	Version       uint64           `json:"version"`  // count changes applied to it
	UnitsReported int64            `json:"units_reported"`
	UnitsTotal    int64            `json:"units_total"`
	Votes         map[string]int64 `json:"votes"` // by choice ID
}

// Tally returns the election's totals as they stand. Its cost follows the
// document's size (the units each contest's tally shows, by choice) and
// the counts reported, never choices × vote types × units.
func (e *Election) Tally() *Tally {
	t := &Tally{
		Election: e.id, Name: e.manifest.Name, Date: e.manifest.Date, Status: e.Status(),
		Entries: e.size, Accepted: e.accepted, Rejected: e.rejected,
		Contests: make([]ContestTally, 0, len(e.contests)),
	}
	nv := len(e.manifest.VoteTypes)
	var sums []int64 // per choice, scratch
	for _, c := range e.contests {
		ct := ContestTally{
			ID: c.def.ID, Name: c.def.Name, VoteFor: c.def.VoteFor, Kind: c.def.Kind,
			UnitsReported: c.reportedLeaves(0), UnitsTotal: c.leaves[0],
			Choices: make([]ChoiceTally, 0, len(c.def.Choices)), Units: make([]UnitTally, 0, c.slots()),
		}
		var root []cell
		if n := c.nodes[0]; n != nil {
			root = n.total()
		}
		for i, ch := range c.def.Choices {
			cht := ChoiceTally{ID: ch.ID, Name: ch.Name, Party: ch.Party, ByVoteType: make(map[string]int64, nv)}
			for _, vt := range e.manifest.VoteTypes {
				cht.ByVoteType[vt.ID] = 0
			}
			for len(root) > 0 && root[0].at < (i+1)*nv {
				cht.ByVoteType[e.manifest.VoteTypes[root[0].at%nv].ID] = root[0].votes
				cht.Votes += root[0].votes
				root = root[1:]
			}
			ct.TotalVotes += cht.Votes
			ct.Choices = append(ct.Choices, cht)
		}
		if c.def.Kind == events.KindTurnout {
			ct.TotalVotes = 0 // registered voters and ballots cast don't add up
		} else {
			for i := range ct.Choices {
				ct.Choices[i].Share = Share(ct.Choices[i].Votes, ct.TotalVotes)
			}
		}
		if cap(sums) < len(c.def.Choices) {
			sums = make([]int64, len(c.def.Choices))
		}
		sums = sums[:len(c.def.Choices)]
		for s, n := range c.nodes {
			u := c.unitAt(s)
			un := &e.units[u]
			ut := UnitTally{
				ID: un.id, UnitsReported: c.reportedLeaves(s), UnitsTotal: c.leaves[s],
				Votes: make(map[string]int64, len(c.def.Choices)),
			}
			if un.parent >= 0 {
				ut.Parent = e.units[un.parent].id
			}
			clear(sums)
			if n != nil {
				ut.Reported, ut.Version = n.hasOwn, n.version
				for _, x := range n.total() {
					sums[x.at/nv] += x.votes
				}
			}
			for i, ch := range c.def.Choices {
				ut.Votes[ch.ID] = sums[i]
			}
			ct.Units = append(ct.Units, ut)
		}
		t.Contests = append(t.Contests, ct)
	}
	return t
}

// Share formats part/total as a percentage with two decimals, rounded half
// up, using integer arithmetic only.
func Share(part, total int64) string {
	if total <= 0 || part < 0 || part > total {
		return "0.00"
	}
	// Basis points, rounded half up: (part×20000 + total) / (2×total), in
	// 128 bits so that no vote count can overflow it.
	hi, lo := bits.Mul64(uint64(part), 20000)
	lo, carry := bits.Add64(lo, uint64(total), 0)
	hi += carry
	bp, _ := bits.Div64(hi, lo, 2*uint64(total))
	return fmt.Sprintf("%d.%02d", bp/100, bp%100)
}

// Encode returns the canonical JSON of the tally, newline-terminated: the
// bytes of encoding/json's Marshal, written without reflection
// (tallyjson.go).
func (t *Tally) Encode() ([]byte, error) {
	return append(t.appendJSON(nil), '\n'), nil
}

// WriteTable writes the tally as a readable table. A race's choices are
// listed by votes, most first (ties by name; the canonical document keeps
// the manifest's order); a turnout contest's in the manifest's order. The
// party column is shown when the manifest gives a party to a choice of
// the contest, with "—" for a choice without one; when it gives none, a
// line says so instead of an empty column.
func (t *Tally) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s (%s) — %s, %d entries\n", t.Name, t.Election, t.Status, t.Entries)
	for _, c := range t.Contests {
		if c.Kind == events.KindTurnout {
			fmt.Fprintf(tw, "\n%s — turnout, %d of %d units reported\n", c.Name, c.UnitsReported, c.UnitsTotal)
			for _, ch := range c.Choices {
				fmt.Fprintf(tw, "%s\t\t%d\t\t\n", ch.Name, ch.Votes)
			}
		} else {
			fmt.Fprintf(tw, "\n%s — %d of %d units reported, %d votes\n", c.Name, c.UnitsReported, c.UnitsTotal, c.TotalVotes)
			byVotes := slices.Clone(c.Choices)
			slices.SortStableFunc(byVotes, func(a, b ChoiceTally) int {
				return cmp.Or(cmp.Compare(b.Votes, a.Votes), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
			})
			parties := slices.ContainsFunc(byVotes, func(ch ChoiceTally) bool { return ch.Party != "" })
			if parties {
				fmt.Fprintf(tw, "choice\tparty\tvotes\tshare\t\n")
			} else {
				fmt.Fprintf(tw, "choice\tvotes\tshare\t\n")
			}
			for _, ch := range byVotes {
				if parties {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s%%\t\n", ch.Name, cmp.Or(ch.Party, "—"), ch.Votes, ch.Share)
				} else {
					fmt.Fprintf(tw, "%s\t%d\t%s%%\t\n", ch.Name, ch.Votes, ch.Share)
				}
			}
			if !parties {
				// Not a cell: tabwriter would widen the first column to it.
				fmt.Fprintf(tw, "  (party: none given in the manifest)\n")
			}
		}
		var top []string
		for _, u := range c.Units {
			if u.Parent != "" && u.Parent == c.Units[0].ID {
				top = append(top, fmt.Sprintf("  %s: %d/%d units", u.ID, u.UnitsReported, u.UnitsTotal))
			}
		}
		if len(top) > 0 {
			fmt.Fprintln(tw, strings.Join(top, "\n"))
		}
	}
	return tw.Flush()
}
