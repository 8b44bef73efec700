package audit

import (
	"fmt"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Source yields the stored entries [start, end) of an election in order;
// fn's data is valid only during the call. *store.DB is a Source, and so
// is anything that fetches entries from a ledger's HTTP API: the audit
// functions recompute everything from the entry bytes, so they need not
// trust where the entries came from.
type Source interface {
	Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error
}

var _ Source = (*store.DB)(nil)

// Replay folds entries [0, size) of an election's log into a fresh
// projection, re-reading and decoding every stored entry: the projection
// is a pure function of the log. progress, if not nil, is called with the
// number of entries done.
func Replay(src Source, election string, size uint64, progress func(done uint64)) (*projections.Election, error) {
	var proj *projections.Election
	err := fold(src, election, 0, size, &proj, func(en *events.Entry) error {
		if progress != nil && (en.Index+1)%4096 == 0 {
			progress(en.Index + 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't replay %s: %w", election, err)
	}
	if progress != nil {
		progress(size)
	}
	return proj, nil
}

// fold applies entries [start, end) to *proj (created from the manifest at
// entry 0 when start is 0), checking each as folder.apply does and calling
// before, if not nil, for each entry before it is applied.
func fold(src Source, election string, start, end uint64, proj **projections.Election, before func(*events.Entry) error) error {
	f := folder{election: election, proj: *proj, next: start}
	live := func(en *events.Entry) error {
		*proj = f.proj // callers look at the projection as it goes
		if before != nil {
			return before(en)
		}
		return nil
	}
	err := src.Entries(election, start, end, func(index uint64, data []byte) error {
		return f.apply(index, data, live)
	})
	*proj = f.proj
	if err != nil {
		return err
	}
	if f.next != end {
		return &MismatchError{election, f.next, fmt.Sprintf("the log ends at size %d, want %d", f.next, end)}
	}
	return nil
}
