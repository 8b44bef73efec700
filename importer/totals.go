package importer

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/election-audit/ledger/events"
)

// Totals is what a parser checked its reports against: the file's own
// totals, by contest and choice, as the file states them (the votes column
// of each row it reports, a choice's totalVotes), summed independently of
// how rows become reports. [CheckTotals] makes them; a zero Totals means the
// parser made no such check.
type Totals struct {
	Contests int   `json:"contests"`
	Choices  int   `json:"choices"` // contest-choice pairs
	Votes    int64 `json:"votes"`
}

// Add returns the sum of two Totals (of two files).
func (t Totals) Add(u Totals) Totals {
	return Totals{t.Contests + u.Contests, t.Choices + u.Choices, t.Votes + u.Votes}
}

// ContestChoice keys a file's own totals.
type ContestChoice struct{ Contest, Choice string }

// CheckTotals compares the votes of reports, summed by contest and choice,
// with want, the file's own totals, and refuses any difference, naming the
// first contest and choice that differ. Every vote of the file is then in
// the reports, once.
func CheckTotals(file string, reports []*events.CountReport, want map[ContestChoice]int64) (Totals, error) {
	got := make(map[ContestChoice]int64, len(want))
	for _, r := range reports {
		for _, c := range r.Counts {
			got[ContestChoice{r.Contest, c.Choice}] += c.Votes
		}
	}
	var diffs []ContestChoice
	for k, n := range want {
		if got[k] != n {
			diffs = append(diffs, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, k)
		}
	}
	if len(diffs) > 0 {
		slices.SortFunc(diffs, func(a, b ContestChoice) int {
			return cmp.Or(cmp.Compare(a.Contest, b.Contest), cmp.Compare(a.Choice, b.Choice))
		})
		k := diffs[0]
		return Totals{}, &Error{File: file, Msg: fmt.Sprintf(
			"the reports give contest %q, choice %q %d votes, but the file's own rows give %d (%d contest-choice pairs differ): "+
				"this is a bug in the importer, and nothing is logged", k.Contest, k.Choice, got[k], want[k], len(diffs))}
	}
	t := Totals{Choices: len(want)}
	contests := map[string]bool{}
	for k, n := range want {
		contests[k.Contest] = true
		t.Votes += n
	}
	t.Contests = len(contests)
	return t, nil
}
