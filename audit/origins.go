package audit

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/store"
)

// Origins: each entry is held to the signed submission it names (see
// package logcheck, which has the check for callers without a store).
// Whether the key that signed it may make the event is the replay's check
// (projections.Decide), from the registrations in the log itself.

// SubmissionSource gives the signed bytes of a submission of an election by
// their SHA-256. *store.DB is one; so is a ledger's HTTP API.
type SubmissionSource interface {
	Submission(election string, sha256 [32]byte) ([]byte, error)
}

var _ SubmissionSource = (*store.DB)(nil)

// originsOf returns a checker that holds an election's entries, in log
// order, to their submissions, read from src.
func originsOf(election string, src SubmissionSource) *OriginChecker {
	return NewOriginChecker(election, func(sum [32]byte) ([]byte, error) {
		return src.Submission(election, sum)
	})
}

// VerifyOrigins holds entries [0, size) of an election's log to the signed
// submissions they came in (see [logcheck.OriginChecker]), and returns how
// many submissions it checked. The first fault is a *MismatchError naming
// the entry.
func VerifyOrigins(src Source, subs SubmissionSource, election string, size uint64) (int, error) {
	o := originsOf(election, subs)
	err := src.Entries(election, 0, size, o.Check)
	return o.Opened(), err
}

// OriginChecker holds entries of one election, in log order, to their
// signed submissions, as VerifyOrigins does, for callers that see entries
// one at a time: [logcheck.OriginChecker].
type OriginChecker = logcheck.OriginChecker

// NewOriginChecker returns a checker for an election's entries
// ([logcheck.NewOriginChecker]). get returns a submission's bytes by
// SHA-256, or an error wrapping fs.ErrNotExist or store.ErrNotFound if it
// has none such.
func NewOriginChecker(election string, get func(sha256 [32]byte) ([]byte, error)) *OriginChecker {
	return logcheck.NewOriginChecker(election, func(sum [32]byte) ([]byte, error) {
		b, err := get(sum)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return b, err
	})
}
