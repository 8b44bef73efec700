package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/store"
)

// Origins. Every entry names the signed submission its event came in
// (events.SubmissionRef): its ID, the SHA-256 of its signed bytes, the
// event's place in it, and the key whose valid signature it carries ("" if
// its signature does not verify). An origin check holds each entry to its
// submission: the submission's bytes have that SHA-256, its ID and
// election are the entry's, its line at that place is the entry's event
// byte for byte, and its signature verifies with the key the entry names
// (or, for an entry that names none, does not verify). Whether that key
// may make the event is the replay's check (projections.Decide), from the
// registrations in the log itself.

// SubmissionSource gives the signed bytes of a submission of an election by
// their SHA-256. *store.DB is one; so is a ledger's HTTP API.
type SubmissionSource interface {
	Submission(election string, sha256 [32]byte) ([]byte, error)
}

var _ SubmissionSource = (*store.DB)(nil)

// origins checks entries, in log order, against their submissions.
type origins struct {
	election string
	get      func(sha256 [32]byte) ([]byte, error)
	cur      *events.Submission // the submission of the last entry
	n        int                // submissions opened
}

func newOrigins(election string, src SubmissionSource) *origins {
	return &origins{election: election, get: func(sum [32]byte) ([]byte, error) { return src.Submission(election, sum) }}
}

// check holds the stored entry at index to its submission.
func (o *origins) check(index uint64, entry []byte) error {
	ref, ev, err := events.EntryOrigin(entry)
	if err != nil {
		return &MismatchError{o.election, index, err.Error()}
	}
	if o.cur == nil || o.cur.SHA256 != ref.SHA256 {
		data, err := o.get(ref.SHA256)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return &MismatchError{o.election, index, fmt.Sprintf("its submission %s (SHA-256 %x) is missing", ref.ID, ref.SHA256)}
		}
		if err != nil {
			return fmt.Errorf("couldn't read the submission of entry %d of %s: %w", index, o.election, err)
		}
		if err := o.open(data); err != nil {
			return &MismatchError{o.election, index, err.Error()}
		}
	}
	if err := o.match(ref, ev); err != nil {
		return &MismatchError{o.election, index, err.Error()}
	}
	return nil
}

// open takes the bytes of the next submission.
func (o *origins) open(data []byte) error {
	sub, err := events.OpenSubmission(data)
	if err != nil {
		return fmt.Errorf("its submission does not read: %v", err)
	}
	if sub.Election != o.election {
		return fmt.Errorf("its submission %s is for election %q", sub.ID, sub.Election)
	}
	o.cur = sub
	o.n++
	return nil
}

// match checks an entry's reference and event against the current
// submission, which its SHA-256 must be.
func (o *origins) match(ref *events.SubmissionRef, ev []byte) error {
	sub := o.cur
	switch {
	case sub.SHA256 != ref.SHA256:
		return fmt.Errorf("its submission's bytes have SHA-256 %x, the entry names %x: the submission was altered", sub.SHA256, ref.SHA256)
	case sub.ID != ref.ID:
		return fmt.Errorf("its submission is %s, the entry names %s", sub.ID, ref.ID)
	case ref.Item >= len(sub.Events):
		return fmt.Errorf("it is event %d of submission %s, which has %d", ref.Item, sub.ID, len(sub.Events))
	case !bytes.Equal(sub.Canonical[ref.Item], ev):
		return fmt.Errorf("its event is not event %d of submission %s byte for byte", ref.Item, sub.ID)
	case ref.Signer == "" && sub.SignatureErr == nil:
		return fmt.Errorf("it says the signature of submission %s does not verify, but it does, by %s", sub.ID, events.KeyName(sub.Signer))
	case ref.Signer != "" && sub.SignatureErr != nil:
		return fmt.Errorf("submission %s does not carry the signature the entry names: %v", sub.ID, sub.SignatureErr)
	case ref.Signer != "" && ref.Signer != sub.Signer:
		return fmt.Errorf("it names signer %s, submission %s is signed by %s", events.KeyName(ref.Signer), sub.ID, events.KeyName(sub.Signer))
	}
	return nil
}

// VerifyOrigins holds entries [0, size) of an election's log to the signed
// submissions they came in (see origins above), and returns how many
// submissions it checked. The first fault is a *MismatchError naming the
// entry.
func VerifyOrigins(src Source, subs SubmissionSource, election string, size uint64) (int, error) {
	o := newOrigins(election, subs)
	err := src.Entries(election, 0, size, o.check)
	return o.n, err
}

// OriginChecker holds entries of one election, in log order, to their
// signed submissions, as VerifyOrigins does, for callers that see entries
// one at a time (a watcher). get returns a submission's bytes by SHA-256.
type OriginChecker struct{ o *origins }

// NewOriginChecker returns a checker for an election's entries.
func NewOriginChecker(election string, get func(sha256 [32]byte) ([]byte, error)) *OriginChecker {
	return &OriginChecker{&origins{election: election, get: get}}
}

// Check holds the stored entry at index to its submission: nil, or a
// *MismatchError naming the entry (or the error get gave).
func (c *OriginChecker) Check(index uint64, entry []byte) error { return c.o.check(index, entry) }

// Submission returns the submission of the last entry checked, nil before
// the first.
func (c *OriginChecker) Submission() *events.Submission { return c.o.cur }
