package ledger

import (
	"fmt"
	"time"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Rebuild replaces an election's stored projection with a replay of its
// log, in one synced batch, and returns it.
func Rebuild(db *store.DB, election string, size uint64, progress func(done uint64)) (*projections.Election, error) {
	// Snapshots are replaced too, each in its own batch: they are derived
	// from the log, so a crash between batches leaves only correct ones.
	clear := db.NewBatch()
	clear.DeleteSnapshots(election)
	clear.DeleteMaxRecorded(election)
	if err := clear.Commit(); err != nil {
		return nil, fmt.Errorf("couldn't delete the snapshots of %s: %w", election, err)
	}
	var snapAt uint64
	var snapLen int
	proj, err := audit.ReplayEach(db, election, size, func(p *projections.Election, maxRecorded time.Time) error {
		n := p.Size()
		if progress != nil && (n%4096 == 0 || n == size) {
			progress(n)
		}
		if !projections.SnapshotDue(n, snapAt, snapLen) {
			return nil
		}
		snap := p.Snapshot()
		b := db.NewBatch()
		b.PutSnapshot(election, n, snap)
		b.PutMaxRecorded(election, n, maxRecorded)
		snapAt, snapLen = n, len(snap)
		return b.Commit()
	})
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
