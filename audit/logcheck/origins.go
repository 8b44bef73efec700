package logcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	"github.com/election-audit/ledger/events"
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

// OriginChecker holds entries of one election, in log order, to their
// signed submissions. It keeps the submission of the last entry, so the
// consecutive entries of one submission fetch it once.
type OriginChecker struct {
	election string
	get      func(sha256 [32]byte) ([]byte, error)
	cur      *events.Submission // the submission of the last entry
	opened   int
}

// NewOriginChecker returns a checker for an election's entries. get
// returns a submission's signed bytes by their SHA-256, or an error that
// wraps fs.ErrNotExist if it has none such (the entry's submission is then
// missing: a fault of the log, not of get).
func NewOriginChecker(election string, get func(sha256 [32]byte) ([]byte, error)) *OriginChecker {
	return &OriginChecker{election: election, get: get}
}

// Check holds the stored entry at index to its submission: nil, a
// *MismatchError naming the entry, or the other error get gave.
func (c *OriginChecker) Check(index uint64, entry []byte) error {
	ref, ev, err := events.EntryOrigin(entry)
	if err != nil {
		return &MismatchError{c.election, index, err.Error()}
	}
	if c.cur == nil || c.cur.SHA256 != ref.SHA256 {
		data, err := c.get(ref.SHA256)
		if errors.Is(err, fs.ErrNotExist) {
			return &MismatchError{c.election, index, fmt.Sprintf("its submission %s (SHA-256 %x) is missing", ref.ID, ref.SHA256)}
		}
		if err != nil {
			return fmt.Errorf("couldn't read the submission of entry %d of %s: %w", index, c.election, err)
		}
		sub, err := OpenSubmission(c.election, data)
		if err != nil {
			return &MismatchError{c.election, index, err.Error()}
		}
		c.cur = sub
		c.opened++
	}
	if err := MatchSubmission(c.cur, ref, ev); err != nil {
		return &MismatchError{c.election, index, err.Error()}
	}
	return nil
}

// Submission returns the submission of the last entry checked, nil before
// the first.
func (c *OriginChecker) Submission() *events.Submission { return c.cur }

// Opened returns how many submissions the checker has read.
func (c *OriginChecker) Opened() int { return c.opened }

// OpenSubmission reads a submission's signed bytes as one of election's.
func OpenSubmission(election string, data []byte) (*events.Submission, error) {
	sub, err := events.OpenSubmission(data)
	if err != nil {
		return nil, fmt.Errorf("its submission does not read: %v", err)
	}
	if sub.Election != election {
		return nil, fmt.Errorf("its submission %s is for election %q", sub.ID, sub.Election)
	}
	return sub, nil
}

// MatchSubmission checks an entry's reference and event (its bytes as
// stored, events.EntryOrigin) against sub, the submission whose SHA-256
// the reference names. The error says what differs, for a *MismatchError.
func MatchSubmission(sub *events.Submission, ref *events.SubmissionRef, event []byte) error {
	switch {
	case sub.SHA256 != ref.SHA256:
		return fmt.Errorf("its submission's bytes have SHA-256 %x, the entry names %x: the submission was altered", sub.SHA256, ref.SHA256)
	case sub.ID != ref.ID:
		return fmt.Errorf("its submission is %s, the entry names %s", sub.ID, ref.ID)
	case ref.Item >= len(sub.Events):
		return fmt.Errorf("it is event %d of submission %s, which has %d", ref.Item, sub.ID, len(sub.Events))
	case !bytes.Equal(sub.Canonical[ref.Item], event):
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
