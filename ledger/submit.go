package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Receipt is the answer to one submitted event, given once its entry is
// synced to disk.
type Receipt struct {
	ID       uuid.UUID      `json:"id"`
	Election string         `json:"election"`
	Index    uint64         `json:"index"`
	Verdict  events.Verdict `json:"verdict"`
	Reason   string         `json:"reason,omitempty"`
	// Duplicate is set when the event ID was logged before this submission:
	// the receipt is the original one, and nothing was appended.
	Duplicate  bool   `json:"duplicate"`
	TreeSize   uint64 `json:"tree_size"`
	Checkpoint string `json:"checkpoint"` // signed, includes the entry
}

// Conflict reports whether the event was rejected for a stale expected
// version.
func (r *Receipt) Conflict() bool {
	return r.Verdict == events.Rejected && strings.HasPrefix(r.Reason, projections.ConflictPrefix)
}

// RefusedError is a submission refused at the edge: nothing was published
// and nothing logged.
type RefusedError struct {
	Item    int    // position of the event in the submission, from 0
	ID      string // its event ID, if known
	Problem string
	// NotFound is set when the event names an election, contest, unit,
	// choice or event that does not exist.
	NotFound bool
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "event #%d", e.Item+1)
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	b.WriteString(": " + e.Problem)
	return b.String()
}

// UnavailableError is returned by Submit when the ledger cannot log
// submissions now: it cannot write (its disk, or the stream's, is short of
// space), or the stream cannot take messages. It is an outage, not a
// verdict: the same submission can be sent again later.
type UnavailableError struct {
	// Published is set when the events were published before the ledger
	// found it could not write: they stay in the stream and are logged
	// once it can, and resubmitting them then gets their receipts.
	Published bool
	Err       error
}

func (e *UnavailableError) Error() string {
	if e.Published {
		return "the submission was published, but the ledger cannot write now; it is logged once the ledger can (resubmit it then for the receipts): " + e.Err.Error()
	}
	return "the ledger cannot log submissions now, and nothing was published: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// writable returns an *UnavailableError if a submission published now
// could not be logged: the state machine is stalled on a failed write, or
// the database's disk is short of space; or the ledger stopped.
func (l *Ledger) writable() error {
	l.pub.RLock()
	fatal, stall := l.fatal, l.stall
	l.pub.RUnlock()
	switch {
	case fatal != nil:
		return fmt.Errorf("ledger stopped: %w", fatal)
	case stall != nil:
		return &UnavailableError{Err: fmt.Errorf("the state machine cannot write, and retries: %w", stall)}
	}
	if err := l.db.Space(); err != nil {
		return &UnavailableError{Err: err}
	}
	return nil
}

// submission is what the edge knows of a submission's earlier events.
type submission struct {
	elections map[string]*projections.Election // defined earlier in it
	events    map[uuid.UUID]string             // event ID → election, earlier in it
}

// precheck refuses an event that names things its election does not have,
// or that is for an unknown election. Rule violations that depend on the
// order of events (certification, stale versions) pass: the state machine
// decides them, and logs the rejection.
//
// The caller holds l.pub for reading. Only the manifest of the election is
// read (CheckReferences), so no step holds this up.
func (l *Ledger) precheck(ev *events.Event, sub *submission) error {
	var proj *projections.Election
	if el := l.elections[ev.Election]; el != nil {
		proj = el.proj
	} else {
		proj = sub.elections[ev.Election]
	}
	if proj == nil {
		if ev.Type() == events.TypeElectionDefined {
			return nil
		}
		return &RefusedError{NotFound: true, Problem: fmt.Sprintf("election %q is not defined: submit its %s event first", ev.Election, events.TypeElectionDefined)}
	}
	if rj := proj.CheckReferences(ev); rj != nil {
		return &RefusedError{NotFound: true, Problem: rj.Reason}
	}
	var target uuid.UUID
	var field string
	switch b := ev.Body.(type) {
	case *events.Correction:
		target, field = b.Corrects, "corrects"
	case *events.Retraction:
		target, field = b.Retracts, "retracts"
	default:
		return nil
	}
	if sub.events[target] == ev.Election {
		return nil // named earlier in this submission: the state machine decides
	}
	rec, err := l.db.Event(target)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && rec.Election != ev.Election):
		return &RefusedError{NotFound: true, Problem: fmt.Sprintf("data.%s: event %s is not in the log of election %q", field, target, ev.Election)}
	case err != nil:
		return fmt.Errorf("couldn't look up event %s: %w", target, err)
	}
	return nil
}

// Submit checks, publishes and waits for a list of events, and returns one
// receipt per event, in order. If any event is refused at the edge, none is
// published and the error is a *RefusedError. Events already logged are
// answered from the log without publishing.
func (l *Ledger) Submit(ctx context.Context, evs []*events.Event) ([]Receipt, error) {
	return l.SubmitEncoded(ctx, evs, nil)
}

// SubmitEncoded is Submit for events whose canonical encodings the caller
// has at hand (events.DecodeCanonical returns them): encoded[i] must be
// evs[i]'s, and the edge does not encode the events again. encoded may be
// nil.
func (l *Ledger) SubmitEncoded(ctx context.Context, evs []*events.Event, encoded [][]byte) ([]Receipt, error) {
	if encoded != nil && len(encoded) != len(evs) {
		return nil, fmt.Errorf("ledger: %d encodings for %d events", len(encoded), len(evs))
	}
	msgs, err := l.prepare(evs, encoded)
	if err != nil {
		return nil, err
	}
	if len(msgs) > 0 {
		if err := l.writable(); err != nil {
			return nil, err
		}
		seq, err := l.cfg.Broker.Publish(ctx, msgs)
		var space *broker.NoSpaceError
		var stream *broker.StreamError
		if errors.As(err, &space) || errors.As(err, &stream) {
			return nil, &UnavailableError{Err: err}
		}
		if err != nil {
			return nil, err
		}
		if err := l.WaitApplied(ctx, seq); err != nil {
			return nil, err
		}
	}
	published := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		published[m.ID] = true
	}
	for {
		out, wait, err := l.receipts(evs, published)
		if wait == nil {
			return out, err
		}
		// An entry is in the database but its step has not published its
		// checkpoint yet (a resubmission raced the step): wait for it.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the checkpoint of a logged event: %w", ctx.Err())
		}
	}
}

// receipts answers for logged events, or returns a channel to wait on when
// one of them is committed but not yet covered by a published checkpoint.
func (l *Ledger) receipts(evs []*events.Event, published map[string]bool) ([]Receipt, <-chan struct{}, error) {
	out := make([]Receipt, len(evs))
	l.pub.RLock()
	defer l.pub.RUnlock()
	for i, ev := range evs {
		r, err := l.receipt(ev.ID)
		if err != nil {
			return nil, nil, err
		}
		if r.Index >= r.TreeSize {
			if l.fatal != nil {
				return nil, nil, fmt.Errorf("ledger stopped: %w", l.fatal)
			}
			return nil, l.notify, nil
		}
		r.Duplicate = !published[ev.ID.String()]
		out[i] = r
	}
	return out, nil, nil
}

// prepare checks a submission at the edge, under one read lock, and returns
// the messages to publish: every event not logged already.
func (l *Ledger) prepare(evs []*events.Event, encoded [][]byte) ([]broker.Message, error) {
	seen := make(map[uuid.UUID]int, len(evs))
	sub := &submission{elections: map[string]*projections.Election{}, events: make(map[uuid.UUID]string, len(evs))}
	msgs := make([]broker.Message, 0, len(evs))
	ids := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	// Which were logged before, all looked up at once.
	logged, err := l.db.LoggedEvents(ids)
	if err != nil {
		return nil, fmt.Errorf("couldn't look up the submission's event IDs: %w", err)
	}
	l.pub.RLock()
	defer l.pub.RUnlock()
	for i, ev := range evs {
		if j, dup := seen[ev.ID]; dup {
			return nil, &RefusedError{Item: i, ID: ev.ID.String(), Problem: fmt.Sprintf("event ID %s is already event #%d of this submission", ev.ID, j+1)}
		}
		seen[ev.ID] = i
		if err := l.precheck(ev, sub); err != nil {
			var re *RefusedError
			if errors.As(err, &re) {
				re.Item, re.ID = i, ev.ID.String()
			}
			return nil, err
		}
		sub.events[ev.ID] = ev.Election
		if m, ok := ev.Body.(*events.Manifest); ok && sub.elections[ev.Election] == nil && l.elections[ev.Election] == nil {
			if p, err := projections.New(ev.Election, m); err == nil {
				sub.elections[ev.Election] = p
			}
		}
		var data []byte
		if encoded != nil {
			data = encoded[i]
		} else if data, err = ev.Encode(); err != nil {
			return nil, &RefusedError{Item: i, ID: ev.ID.String(), Problem: err.Error()}
		}
		if rec, ok := logged[ev.ID]; ok {
			// Already logged: answered below, if it is the same event.
			if err := l.sameEvent(rec, data); err != nil {
				return nil, &RefusedError{Item: i, ID: ev.ID.String(), Problem: err.Error(), NotFound: true}
			}
			continue
		}
		msgs = append(msgs, broker.Message{Election: ev.Election, ID: ev.ID.String(), Data: data})
	}
	return msgs, nil
}

// lookupRecent finds where an event was logged, in what the last steps
// logged or else in the database. The caller holds l.pub for reading.
func (l *Ledger) lookupRecent(id uuid.UUID) (store.EventRecord, error) {
	for _, m := range l.recent {
		if rec, ok := m[id]; ok {
			return rec, nil
		}
	}
	return l.db.Event(id)
}

// sameEvent checks that a resubmitted event is the one logged under its ID.
func (l *Ledger) sameEvent(rec store.EventRecord, canonical []byte) error {
	data, err := l.db.Entry(rec.Election, rec.Index)
	if err != nil {
		return fmt.Errorf("couldn't read entry %d of %s: %w", rec.Index, rec.Election, err)
	}
	en, err := events.DecodeEntry(data)
	if err != nil {
		return err
	}
	logged, err := en.Event.Encode()
	if err != nil {
		return err
	}
	if !bytes.Equal(logged, canonical) {
		return fmt.Errorf("event ID is already logged (election %q, index %d) with different content: a new event needs a new ID", rec.Election, rec.Index)
	}
	return nil
}

// receipt answers for a logged event ID. The caller holds l.pub for reading.
func (l *Ledger) receipt(id uuid.UUID) (Receipt, error) {
	rec, err := l.lookupRecent(id)
	if err != nil {
		return Receipt{}, fmt.Errorf("event %s was sequenced but not logged (see the ledger's log for why): %w", id, err)
	}
	r := Receipt{ID: id, Election: rec.Election, Index: rec.Index, Verdict: events.Accepted}
	if !rec.Accepted {
		data, err := l.db.Entry(rec.Election, rec.Index)
		if err != nil {
			return Receipt{}, fmt.Errorf("couldn't read entry %d of %s: %w", rec.Index, rec.Election, err)
		}
		en, err := events.DecodeEntry(data)
		if err != nil {
			return Receipt{}, err
		}
		r.Verdict, r.Reason = en.Verdict, en.Reason
	}
	if el, ok := l.elections[rec.Election]; ok {
		r.TreeSize, r.Checkpoint = el.committed, string(el.checkpoint)
	} // else: defined in a step not yet published; TreeSize 0 makes the caller wait
	return r, nil
}
