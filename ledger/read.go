package ledger

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// ErrNoCheckpoint is returned for a tree size at which no checkpoint was
// signed: checkpoints exist only at the end of each step.
var ErrNoCheckpoint = errors.New("no signed checkpoint")

// LogView is a read-only view of one election's log as committed when the
// view was taken: proofs, tiles and checkpoints computed from one view all
// describe the same tree, however the log grows meanwhile. Entries and
// hashes below the committed size never change, so a view needs no lock
// and no database snapshot.
type LogView struct {
	Election   string
	Size       uint64 // the committed size when the view was taken
	Checkpoint []byte // the signed checkpoint at Size
	db         *store.DB
}

// View returns a view of an election's committed log.
func (l *Ledger) View(election string) (*LogView, error) {
	l.pub.RLock()
	el, ok := l.elections[election]
	var v *LogView
	if ok {
		v = &LogView{Election: election, Size: el.committed, Checkpoint: el.checkpoint, db: l.db}
	}
	l.pub.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return v, nil
}

// Hashes returns a tlog.HashReader over the view's stored Merkle hashes. It
// refuses, with ErrOutOfRange, any hash outside the tree of the view's
// size: the database may already hold hashes of a step whose size is not
// yet published.
func (v *LogView) Hashes() tlog.HashReader {
	limit := tlog.StoredHashCount(int64(v.Size))
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		for _, idx := range indexes {
			if idx < 0 || idx >= limit {
				return nil, fmt.Errorf("%w: hash %d is outside the tree of %s at size %d", ErrOutOfRange, idx, v.Election, v.Size)
			}
		}
		return v.db.ReadHashes(v.Election, indexes)
	})
}

// CheckpointAt returns the checkpoint signed at a tree size: ErrOutOfRange
// past the view's size, ErrNoCheckpoint if none was signed at that size.
func (v *LogView) CheckpointAt(size uint64) ([]byte, error) {
	switch {
	case size > v.Size:
		return nil, fmt.Errorf("%w: size %d is past the end of %s's log (size %d)", ErrOutOfRange, size, v.Election, v.Size)
	case size == v.Size:
		return v.Checkpoint, nil
	}
	cp, err := v.db.Checkpoint(v.Election, size)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w at size %d of %s: checkpoints are signed only at the end of each step", ErrNoCheckpoint, size, v.Election)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoint of %s at size %d: %w", v.Election, size, err)
	}
	return cp, nil
}

// Entries calls fn for entries [start, end) of the view; end is clipped to
// the view's size. fn's data is valid only during the call.
func (v *LogView) Entries(start, end uint64, fn func(index uint64, data []byte) error) error {
	if start > v.Size {
		return fmt.Errorf("%w: start %d is past the end of %s's log (size %d)", ErrOutOfRange, start, v.Election, v.Size)
	}
	return v.db.Entries(v.Election, start, min(end, v.Size), fn)
}

// Submission returns the signed bytes of a submission that entries of an
// election came from, by their SHA-256 (as the entries name it).
func (l *Ledger) Submission(election string, sha256 [32]byte) ([]byte, error) {
	return l.db.Submission(election, sha256)
}

// Signers returns who may sign for an election as of its committed log,
// and that log's size.
func (l *Ledger) Signers(election string) (*projections.Signers, uint64, error) {
	l.pub.RLock()
	defer l.pub.RUnlock()
	el, ok := l.elections[election]
	if !ok {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return el.signers, el.committed, nil
}
