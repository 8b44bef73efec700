package ledger

import (
	"fmt"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Rebuild replaces an election's stored projection with a replay of its
// log, in one synced batch, and returns it.
func Rebuild(db *store.DB, election string, size uint64, progress func(done uint64)) (*projections.Election, error) {
	proj, err := audit.Replay(db, election, size, progress)
	if err != nil {
		return nil, err
	}
	b := db.NewBatch()
	defer b.Close()
	b.DeleteCells(election)
	if err := proj.Flush(func(k string, v []byte) { b.PutCell(election, k, v) }); err != nil {
		return nil, err
	}
	if err := b.Commit(); err != nil {
		return nil, fmt.Errorf("couldn't store rebuilt projection of %s: %w", election, err)
	}
	return proj, nil
}
