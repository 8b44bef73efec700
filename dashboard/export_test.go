package dashboard

import "github.com/election-audit/ledger/events"

// FoldTotals folds entries [0, size) of an election's log with the turn
// folder and returns each race's totals by choice ID, for the tests to
// hold against the as-of tallies. The manifest's entries (entry 0, and its
// parts when it is in several: manifestEntries) start the folder.
func FoldTotals(src EntrySource, election string, size uint64) (map[string]map[string]int64, error) {
	head, err := manifestEntries(src, election, size)
	if err != nil {
		return nil, err
	}
	f, err := newTurnFolder(election, head)
	if err != nil {
		return nil, err
	}
	err = src.Entries(election, uint64(len(head)), size, func(i uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err != nil {
			return err
		}
		return f.apply(en)
	})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	for id, r := range f.races {
		m := map[string]int64{}
		votes := f.proj.Totals(id)
		for i, ch := range r.choices {
			m[ch] = votes[i]
		}
		out[id] = m
	}
	return out, nil
}
