package nist

import "github.com/election-audit/ledger/importer"

// state adds one choice's counts, as read, to the file's own totals that
// Parse checks the reports against ([importer.CheckTotals]): for each unit,
// its vote types, or its total where it has no others (a total beside vote
// types is only compared with them, as the reports do). ens are the choice's
// counts in the contest's scope; the counts of units above the scope are
// roll-ups, not reported, and not passed.
func (b *builder) state(contest, choice string, ens []entry) {
	if len(ens) == 0 {
		return
	}
	var parts int64
	totals := map[*unitInfo]int64{}
	byType := map[*unitInfo]bool{}
	for _, en := range ens {
		if en.rollup {
			totals[en.unit] += en.votes
		} else {
			parts += en.votes
			byType[en.unit] = true
		}
	}
	for u, n := range totals {
		if !byType[u] {
			parts += n
		}
	}
	b.stated[importer.ContestChoice{Contest: contest, Choice: choice}] += parts
}
