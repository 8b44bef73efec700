package audit

import (
	"fmt"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// TallyAt returns the tally of an election after entries [0, n) of its log,
// read from src: a pure function of those entries' bytes. For a database,
// TallyAt(db, election, n).
//
// Each entry is checked as it is folded: a gap, an entry that does not
// decode or names another index or election, an entry 0 that is not the
// accepted manifest, or a verdict the election's rules would not give comes
// back as a *[MismatchError] naming the entry.
func TallyAt(src Source, election string, n uint64) (*projections.Tally, error) {
	if n == 0 {
		return nil, fmt.Errorf("couldn't compute the tally of %s at size 0: a log starts with its manifest", election)
	}
	var proj *projections.Election
	if err := fold(src, election, 0, n, &proj, nil); err != nil {
		return nil, err
	}
	return proj.Tally(), nil
}

// entriesFunc is a Source made of a function.
type entriesFunc func(election string, start, end uint64, fn func(index uint64, data []byte) error) error

func (f entriesFunc) Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error {
	return f(election, start, end, fn)
}

// folder folds one election's entries, in log order, into a fresh
// projection, checking each as it goes.
type folder struct {
	election string
	proj     *projections.Election
	next     uint64 // the index the next entry must have
}

// apply checks the entry stored at index and folds it in. Past entry 0 it
// also re-decides the verdict by the election's rules (projections'
// Check): an accepted entry the rules reject, or a rejected one they accept,
// is a fault. The reason text is not compared: it is for people.
func (f *folder) apply(index uint64, data []byte, before func(*events.Entry) error) error {
	if index != f.next {
		return &MismatchError{f.election, f.next, "entry is missing"}
	}
	en, err := events.DecodeEntry(data)
	if err != nil {
		return &MismatchError{f.election, index, err.Error()}
	}
	if en.Index != index {
		return &MismatchError{f.election, index, fmt.Sprintf("entry says it is entry %d", en.Index)}
	}
	if en.Event.Election != f.election {
		return &MismatchError{f.election, index, fmt.Sprintf("entry is for election %q", en.Event.Election)}
	}
	if f.proj == nil {
		m, ok := en.Event.Body.(*events.Manifest)
		if !ok || en.Verdict != events.Accepted {
			return &MismatchError{f.election, index, "entry 0 is not the election's accepted manifest"}
		}
		if f.proj, err = projections.New(f.election, m); err != nil {
			return &MismatchError{f.election, index, err.Error()}
		}
	} else {
		switch rj := f.proj.Check(en.Event); {
		case rj == nil && en.Verdict != events.Accepted:
			return &MismatchError{f.election, index, "entry is rejected but the election's rules accept it"}
		case rj != nil && en.Verdict == events.Accepted:
			return &MismatchError{f.election, index, fmt.Sprintf("entry is accepted but the election's rules reject it: %s", rj.Reason)}
		}
	}
	if before != nil {
		if err := before(en); err != nil {
			return err
		}
	}
	if err := f.proj.Apply(en); err != nil {
		return &MismatchError{f.election, index, err.Error()}
	}
	f.next++
	return nil
}
