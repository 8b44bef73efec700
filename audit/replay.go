package audit

import (
	"fmt"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Replay folds entries [0, size) of an election's log into a fresh
// projection, re-reading and decoding every stored entry: the projection
// is a pure function of the log. progress, if not
// nil, is called with the number of entries done.
func Replay(db *store.DB, election string, size uint64, progress func(done uint64)) (*projections.Election, error) {
	var proj *projections.Election
	var next uint64
	err := db.Entries(election, 0, size, func(index uint64, data []byte) error {
		if index != next {
			return fmt.Errorf("entry %d of %s is missing", next, election)
		}
		next++
		en, err := events.DecodeEntry(data)
		if err != nil {
			return fmt.Errorf("entry %d of %s: %w", index, election, err)
		}
		if en.Index != index {
			return fmt.Errorf("entry stored at %d of %s says it is entry %d", index, election, en.Index)
		}
		if proj == nil {
			m, ok := en.Event.Body.(*events.Manifest)
			if !ok || en.Event.Election != election {
				return fmt.Errorf("entry 0 of %s is not its manifest", election)
			}
			if proj, err = projections.New(election, m); err != nil {
				return err
			}
		}
		if err := proj.Apply(en); err != nil {
			return err
		}
		if progress != nil && next%4096 == 0 {
			progress(next)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't replay %s: %w", election, err)
	}
	if next != size {
		return nil, fmt.Errorf("couldn't replay %s: the log has %d entries, want %d", election, next, size)
	}
	if progress != nil {
		progress(next)
	}
	return proj, nil
}
